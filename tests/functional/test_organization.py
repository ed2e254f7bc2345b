"""Whole organization: the member role in every account, each account's users evaluated there and only there."""

import json
from pathlib import Path

import boto3
import pytest
from IAM_USER_CONSOLE_MFA import lambda_handler

from mfa_audit.emulation.account import SeedUser, create_user
from mfa_audit.emulation.events import scheduled_event
from mfa_audit.templates import CONFORMANCE_PACK_TEMPLATE, ORGANIZATION_TEMPLATE, Template, load_body

from .recorded_run import record_every_path

ROOT = Path(__file__).resolve().parents[2]
MEMBER_ROLE_TEXT = (ROOT / "cloudformation" / "member-role.yaml").read_text()
ORGANIZATION = Template.load(ORGANIZATION_TEMPLATE).body
MEMBER_ROLE = load_body(MEMBER_ROLE_TEXT)
CONFORMANCE_PACK = Template.load(CONFORMANCE_PACK_TEMPLATE).body
ROLE_NAME = "iam-user-console-mfa-reader"
FUNCTION_ROLE = "arn:aws:iam::123456789012:role/org-rule-function"


def _session(account_id):
    credentials = boto3.client("sts", region_name="us-east-1").assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole", RoleSessionName="stackset"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name="us-east-1",
    )


@pytest.fixture
def organization(aws):
    """An organization of five member accounts, each with the member role (as the StackSet creates it) and users."""
    organizations = boto3.client("organizations", region_name="us-east-1")
    org_id = organizations.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    members = {}
    for number in range(5):
        status = organizations.create_account(AccountName=f"member-{number}", Email=f"member{number}@example.com")
        account_id = status["CreateAccountStatus"]["AccountId"]
        session = _session(account_id)
        session.client("cloudformation").create_stack(
            StackName="member-role",
            TemplateBody=MEMBER_ROLE_TEXT,
            Capabilities=["CAPABILITY_NAMED_IAM"],
            Parameters=[
                {"ParameterKey": "RoleName", "ParameterValue": ROLE_NAME},
                {"ParameterKey": "FunctionRoleArn", "ParameterValue": FUNCTION_ROLE},
                {"ParameterKey": "OrganizationId", "ParameterValue": org_id},
            ],
        )
        iam = session.client("iam")
        users = {
            f"m{number}-with-mfa": create_user(iam, SeedUser(f"m{number}-with-mfa", True, ("fido",))),
            f"m{number}-no-mfa": create_user(iam, SeedUser(f"m{number}-no-mfa", True)),
            f"m{number}-no-password": create_user(iam, SeedUser(f"m{number}-no-password")),
        }
        members[account_id] = (session, users)
    return org_id, members


def test_member_role_exists_in_every_account_with_the_org_condition(organization):
    org_id, members = organization
    assert len(members) == 5
    for session, _ in members.values():
        role = session.client("iam").get_role(RoleName=ROLE_NAME)["Role"]
        trust = role["AssumeRolePolicyDocument"]
        trust = json.loads(trust) if isinstance(trust, str) else trust
        statement = trust["Statement"][0]
        assert statement["Principal"] == {"AWS": FUNCTION_ROLE}
        assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": org_id}}


def test_each_member_accounts_users_are_evaluated_in_that_account_only(organization, config):
    _, members = organization
    all_ids = {user["UserId"]: account for account, (_, users) in members.items() for user in users.values()}
    for account_id, (_, users) in members.items():
        config.put_calls.clear()
        event = scheduled_event({"ExecutionRoleName": ROLE_NAME}, account_id=account_id)
        event["executionRoleArn"] = (
            f"arn:aws:iam::{account_id}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"
        )
        lambda_handler(event, None)
        sent = {
            e["ComplianceResourceId"]: e["ComplianceType"] for e in config.sent if e["ComplianceResourceId"] in all_ids
        }
        assert {all_ids[user_id] for user_id in sent} == {account_id}
        by_name = {name: sent[user["UserId"]] for name, user in users.items()}
        number = list(members).index(account_id)
        assert by_name == {
            f"m{number}-with-mfa": "COMPLIANT",
            f"m{number}-no-mfa": "NON_COMPLIANT",
            f"m{number}-no-password": "NOT_APPLICABLE",
        }


def _actions(template, resource):
    actions = set()
    for policy in template["Resources"][resource]["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            granted = statement["Action"]
            actions |= {granted} if isinstance(granted, str) else set(granted)
    return actions


def test_member_role_grants_exactly_what_the_code_calls_in_an_account(cloudtrail, monkeypatch):
    called = set(record_every_path(cloudtrail, monkeypatch)) - {"sts:AssumeRole"}
    assert _actions(MEMBER_ROLE, "EvaluationRole") == called


def test_function_role_only_assumes_the_member_role_inside_the_organization():
    statements = ORGANIZATION["Resources"]["FunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assume = next(s for s in statements if s["Action"] == "sts:AssumeRole")
    assert assume["Condition"] == {"StringEquals": {"aws:ResourceOrgID": {"Ref": "OrganizationId"}}}
    assert {s["Action"] if isinstance(s["Action"], str) else tuple(s["Action"]) for s in statements} == {
        "sts:AssumeRole",
        "organizations:DescribeAccount",
        ("logs:CreateLogStream", "logs:PutLogEvents"),
        "sqs:SendMessage",
    }


def test_organization_rule_wiring():
    rule = ORGANIZATION["Resources"]["OrganizationRule"]["Properties"]
    metadata = rule["OrganizationCustomRuleMetadata"]
    # The triggers under either ReevaluateOnIamChange: tests/unit/test_rule_triggers.py.
    assert metadata["ResourceTypesScope"] == ["AWS::IAM::User"]
    assert metadata["LambdaFunctionArn"] == {"Fn::GetAtt": ["Function", "Arn"]}
    resolved = Template.load("organization.yaml").resolve(
        {
            "CodeBucket": "artifacts",
            "OrganizationId": "o-abcdefghij",
            "MemberRoleTemplateUrl": "https://artifacts.s3.amazonaws.com/member-role.yaml",
            "DeploymentOrganizationalUnitIds": "r-ab12",
            "ExemptUsers": "breakglass",
            "GracePeriodDays": "7",
        }
    )
    sent = json.loads(
        resolved.resources["OrganizationRule"]["Properties"]["OrganizationCustomRuleMetadata"]["InputParameters"]
    )
    assert sent == {
        "ExecutionRoleName": ROLE_NAME,
        "ExemptUsers": "breakglass",
        "GracePeriodDays": "7",
        "AllowedMfaTypes": "virtual,hardware,fido",
        "ReconfirmDays": "30",
    }
    assert "ExcludedAccounts" in rule
    stackset = ORGANIZATION["Resources"]["MemberRoleStackSet"]["Properties"]
    assert stackset["PermissionModel"] == "SERVICE_MANAGED" and stackset["AutoDeployment"]["Enabled"] is True


def test_conformance_pack_without_the_event_path_holds_the_rule_with_all_triggers():
    # With the event path on (the default) the rule is periodic-only: tests/unit/test_rule_triggers.py.
    rule = CONFORMANCE_PACK["Resources"]["IamUserConsoleMfa"]["Properties"]
    assert rule["Source"]["SourceIdentifier"] == {"Ref": "FunctionArn"}
    assert rule["Scope"] == {"ComplianceResourceTypes": ["AWS::IAM::User"]}
    given = {"FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f", "ReevaluateOnIamChange": "false"}
    resolved = Template.load("conformance-pack.yaml").resolve(given).resources["IamUserConsoleMfa"]["Properties"]
    assert len(resolved["Source"]["SourceDetails"]) == 3
    assert set(rule["InputParameters"]) >= {"ExemptUsers", "GracePeriodDays", "AllowedMfaTypes", "ExecutionRoleName"}


@pytest.mark.filterwarnings("ignore")
def test_management_account_users_are_evaluated_through_the_role_the_organization_stack_creates(
    organization, config, tmp_path
):
    """The organization rule runs in the management account too, where no StackSet instance ever goes."""
    from tools.deploy.artifacts import upload
    from tools.deploy.changesets import deploy
    from tools.deploy.organization import accounts_under, organization_parameters, read_organization

    org_id, members = organization
    management = "123456789012"
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="artifacts")
    role_template = upload(s3, "artifacts", ROOT / "cloudformation" / "member-role.yaml", management).key
    organizations = boto3.client("organizations", region_name="us-east-1")
    layout = read_organization(organizations, boto3.client("sts", region_name="us-east-1"))
    assert layout.call_as == "SELF" and layout.management_account == management
    assert accounts_under(organizations, [layout.root_id]) == set(members) | {management}
    parameters = {
        "CodeBucket": "artifacts",
        "CodeKey": upload(s3, "artifacts", ROOT / "cloudformation" / "aggregator.yaml", management).key,  # never run
        "MemberRoleTemplateUrl": f"https://artifacts.s3.us-east-1.amazonaws.com/{role_template}",
        **organization_parameters(organizations, layout, {}, {}, management_account_has_role=False, say=lambda _: None),
    }
    assert parameters["AccountsWithoutMemberRole"] == ""  # the root reaches every member; the stack, the management
    text = (ROOT / "cloudformation" / "organization.yaml").read_text()
    assert deploy(boto3.client("cloudformation", region_name="us-east-1"), "org", text, parameters, say=lambda _: None)

    iam = boto3.client("iam", region_name="us-east-1")
    # moto's STS does not check that a role exists, so check it here: the nested stack made it, trusting the function.
    role = iam.get_role(RoleName=ROLE_NAME)["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": org_id}}
    with_mfa = create_user(iam, SeedUser("mgmt-with-mfa", True, ("virtual",)))
    without_mfa = create_user(iam, SeedUser("mgmt-no-mfa", True))
    config.put_calls.clear()
    event = scheduled_event({"ExecutionRoleName": ROLE_NAME}, account_id=management)
    lambda_handler(event, None)
    sent = {e["ComplianceResourceId"]: e["ComplianceType"] for e in config.sent}
    assert sent[with_mfa["UserId"]] == "COMPLIANT"
    assert sent[without_mfa["UserId"]] == "NON_COMPLIANT"
    member_ids = {user["UserId"] for _, users in members.values() for user in users.values()}
    assert not member_ids & set(sent)
