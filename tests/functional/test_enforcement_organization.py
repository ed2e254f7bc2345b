"""The organization route with enforcement, in-process against moto: the member account's automation invokes
the organization's enforcement function, which confirms the automation, assumes the member's enforcer role,
checks the user again and acts only there.

moto runs no SSM Automation, so mfa_audit.emulation.automation answers GetAutomationExecution (each execution
belongs to the account it runs in) and runs the member document's own script step, whose Lambda Invoke is the
handler in-process. The function's settings and the member resources' names are read from organization.yaml and
member-role.yaml, so a name changed in one template but not the other fails here.
"""

import json
import logging
import os
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from console_mfa.boundaries import _memberships
from console_mfa.exceptions import AccountOutsideOrganizationError, InvalidEventError, UnconfirmedAutomationError
from enforcement_handler import handler

from mfa_audit.emulation.account import SeedUser, create_user, device_serial, mark_access_key_used
from mfa_audit.emulation.automation import EmulatedAutomation, EmulatedLambda, run_enforcement_document
from mfa_audit.emulation.events import LambdaContext
from mfa_audit.emulation.services import ApiCallCounter
from mfa_audit.templates import TEMPLATE_DIRECTORY as TEMPLATES
from mfa_audit.templates import Template

MANAGEMENT = "123456789012"
TABLE = "org-enforcement-ledger"
ORGANIZATION_STACK = Template.load("organization.yaml")
MEMBER_ROLE = Template.load("member-role.yaml")


def organization_stack(organization_id):
    return ORGANIZATION_STACK.resolve(
        {
            "CodeBucket": "artifacts",
            "OrganizationId": organization_id,
            "MemberRoleTemplateUrl": "https://artifacts.s3.us-east-1.amazonaws.com/member-role.yaml",
            "DeploymentOrganizationalUnitIds": "r-ab12",
            "Enforcement": "automatic",
            "AlarmEmail": "secops@example.com",
            "NoticeSender": "mfa-notices@example.com",
        }
    )


INVOKER_ROLE = "console-mfa-EnforcementInvokerRole"


def member_stack(organization_id):
    return MEMBER_ROLE.resolve(
        {
            "FunctionRoleArn": f"arn:aws:iam::{MANAGEMENT}:role/rule",
            "OrganizationId": organization_id,
            "EnforcementFunctionArn": f"arn:aws:lambda:us-east-1:{MANAGEMENT}:function:console-mfa-enforce-mfa",
            "EnforcementFunctionRoleArn": f"arn:aws:iam::{MANAGEMENT}:role/enforcer",
            "EnforcementInvokerRoleArn": f"arn:aws:iam::{MANAGEMENT}:role/{INVOKER_ROLE}",
        }
    )


def clients_in(account, service, **options):
    credentials = boto3.client("sts", region_name="us-east-1").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole", RoleSessionName="test-setup"
    )["Credentials"]
    return boto3.client(
        service,
        region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        **options,
    )


@pytest.fixture
def organization(config, monkeypatch):
    """Two member accounts with the fixed ForceMfa group, the central ledger and topic, the function's settings."""
    _memberships.clear()
    organizations = boto3.client("organizations", region_name="us-east-1")
    organization_id = organizations.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    members = [
        organizations.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]["AccountId"]
        for name in ("prod", "dev")
    ]
    variables = organization_stack(organization_id).resources["EnforcementFunction"]["Properties"]["Environment"]
    group = variables["Variables"]["FORCE_MFA_GROUP"]
    for member in members:
        clients_in(member, "iam").create_group(GroupName=group)
    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    sns = boto3.client("sns", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    topic = sns.create_topic(Name="operators")["TopicArn"]
    queue = sqs.create_queue(QueueName="operators-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    switch = organization_stack(organization_id).resources["EnforcementSwitch"]["Properties"]
    created = {"ref:EnforcementLedger": TABLE, "ref:AlarmTopic": topic, "ref:EnforcementSwitch": switch["Name"]}
    for name, value in variables["Variables"].items():
        monkeypatch.setenv(name, created.get(str(value), str(value)))
    boto3.client("ses", region_name="us-east-1").verify_email_identity(
        EmailAddress=variables["Variables"]["NOTICE_SENDER"]
    )
    config.rule_parameters = {"Enforcement": "automatic", "GracePeriodDays": "14"}

    def messages():
        received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in received]

    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name=switch["Name"], Value=switch["Value"], Type=switch["Type"]
    )
    # The invoker role the member document's script assumes (organization.yaml's EnforcementInvokerRole).
    trust = organization_stack(organization_id).resources["EnforcementInvokerRole"]["Properties"]
    boto3.client("iam", region_name="us-east-1").create_role(
        RoleName=INVOKER_ROLE, AssumeRolePolicyDocument=json.dumps(trust["AssumeRolePolicyDocument"])
    )
    context = LambdaContext(account_id=MANAGEMENT)
    CLOCK["days"] = 0
    function_on_the_clock = lambda event: handler(event, context, clock=clock)  # noqa: E731
    with EmulatedAutomation() as automation, EmulatedLambda(function_on_the_clock) as function:
        yield {
            "function": function,
            "id": organization_id,
            "members": members,
            "group": group,
            "document": variables["Variables"]["ENFORCEMENT_DOCUMENT"],
            "automation": automation,
            "messages": messages,
        }
    _memberships.clear()


# The function's clock: now, moved by ``days`` (set by remediate() before the document runs).
CLOCK = {"days": 0}


def clock():
    return datetime.now(timezone.utc) + timedelta(days=CLOCK["days"])


def member_user(account, name, **seed):
    return create_user(clients_in(account, "iam"), SeedUser(name, **seed))


def group_members(account, group):
    return {u["UserName"] for u in clients_in(account, "iam").get_group(GroupName=group)["Users"]}


def remediate(org, account, user, execution_id=None, days=0):
    """Config's remediation in the member account on that day: the member document, run as SSM runs it there.
    With ``execution_id``: what that automation's invocation would send, straight to the function."""
    CLOCK["days"] = days
    if execution_id is None:
        content = member_stack(org["id"]).resources["EnforcementDocument"]["Properties"]["Content"]
        return run_enforcement_document(
            content, org["document"], {"UserId": user["UserId"]}, account, org["automation"]
        )
    event = {"action": "enforce", "UserId": user["UserId"], "AccountId": account, "ExecutionId": execution_id}
    return handler(event, LambdaContext(account_id=MANAGEMENT), clock=clock)


def daily_run(days=0):
    return handler(
        {"action": "notify"},
        LambdaContext(account_id=MANAGEMENT),
        clock=lambda: datetime.now(timezone.utc) + timedelta(days=days),
    )


@pytest.fixture
def joined_long_ago(organization):
    """Both member accounts joined the pack 30 days ago: their first remediation (a user without a password) ran then."""
    for account in organization["members"]:
        probe = member_user(account, "probe", console_password=False)
        assert remediate(organization, account, probe, days=-30)["outcome"] == "not_non_compliant"
    organization["messages"]()
    return organization


def test_a_members_non_compliant_user_is_enforced_in_that_account_only_and_the_operators_are_told(
    organization, joined_long_ago
):
    prod, dev = organization["members"]
    bob = member_user(prod, "bob", console_password=True, password_age_days=30)
    result = remediate(organization, prod, bob)
    assert result["outcome"] == "enforced"
    assert group_members(prod, organization["group"]) == {"bob"}
    assert group_members(dev, organization["group"]) == set()
    (message,) = organization["messages"]()
    assert message["Subject"] == f"MFA enforced: bob in {prod}"


def test_a_member_user_who_complied_since_the_evaluation_is_left_alone(organization):
    prod, _ = organization["members"]
    alice = member_user(prod, "alice", console_password=True, devices=("fido",), password_age_days=30)
    assert remediate(organization, prod, alice)["outcome"] == "not_non_compliant"
    assert group_members(prod, organization["group"]) == set()


def test_the_member_users_grace_period_is_honoured(organization):
    prod, _ = organization["members"]
    new = member_user(prod, "new", console_password=True, password_age_days=3)
    assert remediate(organization, prod, new)["outcome"] == "in_grace"
    assert group_members(prod, organization["group"]) == set()


def test_a_request_without_a_running_automation_in_that_account_changes_nothing(organization):
    prod, dev = organization["members"]
    bob = member_user(prod, "bob", console_password=True, password_age_days=30)
    # An execution that exists, but in another member account, is no remediation in this one.
    elsewhere = organization["automation"].start(dev, organization["document"], bob["UserId"])
    with pytest.raises(UnconfirmedAutomationError, match="no automation execution"):
        remediate(organization, prod, bob, execution_id=elsewhere)
    assert group_members(prod, organization["group"]) == set()


@pytest.mark.parametrize(
    "document, status, other_user, why",
    [
        ("SomeoneElses-Document", "InProgress", False, "not this account's 'IAM_USER_CONSOLE_MFA-Enforce'"),
        # A document of the same name shared from another account runs under its ARN there.
        (
            "arn:aws:ssm:us-east-1:999999999999:document/IAM_USER_CONSOLE_MFA-Enforce",
            "InProgress",
            False,
            "not this account's",
        ),
        ("IAM_USER_CONSOLE_MFA-Enforce", "Success", False, "its status is 'Success'"),
        ("IAM_USER_CONSOLE_MFA-Enforce", "InProgress", True, "another user's"),
    ],
)
def test_an_automation_of_another_document_state_or_user_is_refused(organization, document, status, other_user, why):
    prod, _ = organization["members"]
    bob = member_user(prod, "bob", console_password=True, password_age_days=30)
    carol = member_user(prod, "carol", console_password=True, password_age_days=30)
    execution = organization["automation"].start(prod, document, (carol if other_user else bob)["UserId"], status)
    with pytest.raises(UnconfirmedAutomationError, match=why):
        remediate(organization, prod, bob, execution_id=execution)
    assert group_members(prod, organization["group"]) == set()


def test_the_members_own_document_is_confirmed_by_its_arn_too(organization, joined_long_ago):
    prod, _ = organization["members"]
    bob = member_user(prod, "bob", console_password=True, password_age_days=30)
    own = f"arn:aws:ssm:us-east-1:{prod}:document/{organization['document']}"
    execution = organization["automation"].start(prod, own, bob["UserId"])
    assert remediate(organization, prod, bob, execution_id=execution)["outcome"] == "enforced"


def test_the_member_document_invokes_the_organizations_function_through_the_invoker_role(organization, joined_long_ago):
    prod, _ = organization["members"]
    bob = member_user(prod, "bob", console_password=True, password_age_days=30)
    del organization["function"].invoked[:]  # joined_long_ago's first remediations
    assert remediate(organization, prod, bob)["outcome"] == "enforced"
    function_name = organization_stack(organization["id"]).resources["EnforcementFunction"]["Properties"]
    assert organization["function"].invoked == [member_stack(organization["id"]).parameters["EnforcementFunctionArn"]]
    assert function_name["FunctionName"] == "console-mfa-enforce-mfa"


def test_an_account_outside_the_organization_is_refused_before_any_role_is_assumed(organization):
    outsider = "999999999999"
    user = member_user(outsider, "bob", console_password=True, password_age_days=30)
    execution = organization["automation"].start(outsider, organization["document"], user["UserId"])
    with ApiCallCounter() as counter, pytest.raises(AccountOutsideOrganizationError):
        remediate(organization, outsider, user, execution_id=execution)
    assert counter.calls["sts:AssumeRole"] == 0
    assert counter.of_service("iam") == 0


def test_the_daily_limit_counts_each_member_account_apart(organization, joined_long_ago, monkeypatch):
    monkeypatch.setenv("MAX_ENFORCEMENTS_PER_DAY", "1")
    prod, dev = organization["members"]
    first, second = (member_user(prod, f"prod{n}", console_password=True, password_age_days=30) for n in range(2))
    in_dev = member_user(dev, "dev0", console_password=True, password_age_days=30)
    assert remediate(organization, prod, first)["outcome"] == "enforced"
    assert remediate(organization, prod, second)["outcome"] == "daily_limit_reached"
    assert remediate(organization, dev, in_dev)["outcome"] == "enforced"
    assert group_members(prod, organization["group"]) == {"prod0"}
    assert group_members(dev, organization["group"]) == {"dev0"}


@pytest.mark.parametrize(
    "event",
    [
        {"action": "enforce", "UserId": "AIDAEXAMPLE000000001", "AccountId": "12345", "ExecutionId": "x"},
        {"action": "enforce", "UserId": "bob", "AccountId": "123456789012", "ExecutionId": "x"},
    ],
)
def test_bad_requests_are_refused_before_anything_is_read(organization, event):
    with ApiCallCounter() as counter, pytest.raises(InvalidEventError):
        handler(event, LambdaContext(account_id=MANAGEMENT))
    assert counter.calls == {}


def _actions(role):
    granted = set()
    for policy in role["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            action = statement["Action"]
            granted |= {action} if isinstance(action, str) else set(action)
    return granted


def test_each_role_grants_exactly_the_actions_the_code_calls_in_its_account(
    organization, joined_long_ago, monkeypatch, caplog
):
    monkeypatch.setenv("MAX_ENFORCEMENTS_PER_DAY", "1")
    prod, _ = organization["members"]
    first, second = (member_user(prod, f"user{n}", console_password=True, password_age_days=30) for n in range(2))
    iam = clients_in(prod, "iam")
    keys = member_user(prod, "keys", console_password=True, password_age_days=30)
    mark_access_key_used(
        prod, iam.create_access_key(UserName="keys")["AccessKey"]["AccessKeyId"], datetime.now(timezone.utc)
    )
    member_user(prod, "new", console_password=True, password_age_days=1)
    iam.tag_user(UserName="new", Tags=[{"Key": "email", "Value": "new@example.com"}])
    _memberships.clear()  # the membership check's cache is warm from joined_long_ago
    with caplog.at_level(logging.INFO, logger="console_mfa.enforcement"):
        remediate(organization, prod, first)
        remediate(organization, prod, second)  # held back: the metric
        remediate(organization, prod, keys)  # access keys in use
        iam.enable_mfa_device(
            UserName="user0",
            SerialNumber=device_serial("hardware", "user0", prod),
            AuthenticationCode1="123456",
            AuthenticationCode2="654321",
        )
        daily_run(days=1)  # tells "new" (SES), takes user0 out of the group
    own, in_member = set(), set()
    for record in caplog.records:
        if record.name == "console_mfa.enforcement" and "apiCalls" in record.getMessage():
            line = json.loads(record.getMessage())
            own |= {call.replace("monitoring:", "cloudwatch:") for call in line["apiCalls"]}
            in_member |= set(line["memberApiCalls"])
    function_role = organization_stack(organization["id"]).resources["EnforcementFunctionRole"]
    # Lambda writes the logs; SNS uses the topic's key on the function's behalf; rdklib's helper assumes the role.
    assert own | {"sts:AssumeRole"} == _actions(function_role) - {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "kms:Decrypt",
        "kms:Encrypt",
        "kms:GenerateDataKey",
        "kms:GenerateDataKey*",
    }
    assert in_member == _actions(member_stack(organization["id"]).resources["EnforcerRole"])


# moto's CloudFormation creates the roles and the document (it skips AWS::IAM::Group: the unit tests check it).
@pytest.mark.filterwarnings("ignore:Tried to parse AWS::")
def test_the_member_role_stack_creates_the_enforcement_resources_under_their_fixed_names(organization):
    prod, _ = organization["members"]
    cloudformation = clients_in(prod, "cloudformation")
    parameters = {
        "FunctionRoleArn": f"arn:aws:iam::{MANAGEMENT}:role/rule",
        "OrganizationId": organization["id"],
        "EnforcementFunctionArn": f"arn:aws:lambda:us-east-1:{MANAGEMENT}:function:console-mfa-enforce-mfa",
        "EnforcementFunctionRoleArn": f"arn:aws:iam::{MANAGEMENT}:role/enforcer",
        "EnforcementInvokerRoleArn": f"arn:aws:iam::{MANAGEMENT}:role/{INVOKER_ROLE}",
    }
    cloudformation.create_stack(
        StackName="console-mfa-member",
        TemplateBody=(TEMPLATES / "member-role.yaml").read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    stack = cloudformation.describe_stacks(StackName="console-mfa-member")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    iam = clients_in(prod, "iam")
    for role in ("iam-user-console-mfa-enforcement-automation", "iam-user-console-mfa-enforcer"):
        assert iam.get_role(RoleName=role)["Role"]["Arn"] == f"arn:aws:iam::{prod}:role/{role}"
    # moto's own SSM, past the automation emulator.
    ssm = clients_in(prod, "ssm", endpoint_url="https://ssm.us-east-1.amazonaws.com")
    document = ssm.get_document(Name=organization["document"])
    assert document["DocumentType"] == "Automation"
    # (moto stores the content as CloudFormation gave it, not as JSON text.)
    assert parameters["EnforcementFunctionArn"] in document["Content"]


# --- issue 25 in the organization route: grace from joining the pack, the organization's cap, the daily run ---


def test_an_old_password_in_an_account_that_just_joined_the_pack_is_not_enforced_on_day_0(organization):
    prod, _ = organization["members"]
    alice = member_user(prod, "alice", console_password=True, password_age_days=400)
    assert remediate(organization, prod, alice)["outcome"] == "in_grace"
    assert group_members(prod, organization["group"]) == set()
    # Config asks no more (the verdict never changed); the organization's daily run enforces her after the grace.
    assert daily_run(days=14)["enforced"] == 1
    assert group_members(prod, organization["group"]) == {"alice"}


def test_the_organizations_daily_cap_bounds_all_member_accounts_together(organization, joined_long_ago, monkeypatch):
    monkeypatch.setenv("MAX_ORGANIZATION_ENFORCEMENTS_PER_DAY", "3")
    prod, dev = organization["members"]
    for account in (prod, dev):
        for n in range(3):
            member_user(account, f"user{n}", console_password=True, password_age_days=30)
    result = daily_run()
    assert (result["enforced"], result["organization_limit_reached"]) == (3, 3)
    assert len(group_members(prod, organization["group"]) | group_members(dev, organization["group"])) <= 3
    digest = [m for m in organization["messages"]() if "digest" in m["Subject"]]
    assert len(digest) == 1 and organization["id"] in digest[0]["Subject"]
    assert daily_run(days=1)["enforced"] == 3


def test_the_organizations_kill_switch_stops_every_member_account(organization, joined_long_ago):
    prod, dev = organization["members"]
    bob = member_user(prod, "bob", console_password=True, password_age_days=30)
    member_user(dev, "carol", console_password=True, password_age_days=30)
    # A new session: the SSM emulator answers clients made after it started.
    boto3.Session().client("ssm", region_name="us-east-1").put_parameter(
        Name=os.environ["ENFORCEMENT_SWITCH_PARAMETER"], Value="paused", Type="String", Overwrite=True
    )
    assert remediate(organization, prod, bob)["outcome"] == "paused"
    result = daily_run()
    assert result["paused"] is True and result["due"] == 2
    assert group_members(prod, organization["group"]) == group_members(dev, organization["group"]) == set()
