"""The enforcement function in-process against moto: it checks again, live, and acts only on a user NON_COMPLIANT now.

Config's automatic remediation works from a compliance snapshot, so every case below is a user Config
may well still hold as NON_COMPLIANT; only the first may be put into the ForceMfa group.
"""

import json
import logging
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from console_mfa.enforcer import ENFORCED_METRIC, HELD_BACK_METRIC, METRIC_NAMESPACE
from enforcement_handler import handler

from mfa_audit.emulation.account import device_serial
from mfa_audit.emulation.automation import EmulatedAutomation, EmulatedLambda, run_enforcement_document
from mfa_audit.templates import Template
from tests.functional.enforcement_stack import (
    DOCUMENT_NAME,
    actions_called,
    actions_granted_to_call,
    deploy_enforcement,
)

GROUP = "console-mfa-ForceMfa"
TABLE = "console-mfa-EnforcementLedger"
ACCOUNT = "123456789012"
ACCOUNT_STACK = Template.load("rule.yaml").resolve(
    {"CodeBucket": "artifacts", "Enforcement": "automatic", "AlarmEmail": "secops@example.com"}
)
DOCUMENT = ACCOUNT_STACK.resources["EnforcementDocument"]["Properties"]["Content"]


@pytest.fixture
def enforcement(config, iam, monkeypatch):
    """An account with the stack's ForceMfa group, ledger, topic and kill switch, enforcement started long ago
    (so the start's grace is over), SSM Automation and Lambda emulated; returns a reader of the operators' topic."""
    config.rule_parameters = {"Enforcement": "automatic", "GracePeriodDays": "14"}
    stack = deploy_enforcement(monkeypatch, iam, NoticeSender="")
    with EmulatedAutomation() as automation, EmulatedLambda(handler):
        monkeypatch.setitem(SSM, "automation", automation)
        # The first daily run, a month ago: users existing then have had their grace since.
        handler({"action": "notify"}, clock=lambda: datetime.now(timezone.utc) - timedelta(days=30))
        stack.operator_messages()

        def messages():
            return stack.operator_messages()

        messages.automation = automation
        yield messages


# The emulated SSM Automation of the running test's account (set by the ``enforcement`` fixture).
SSM = {}


def enforce(user):
    """Config's remediation for this user: the stack's own document, run as SSM runs it."""
    return run_enforcement_document(DOCUMENT, DOCUMENT_NAME, {"UserId": user["UserId"]}, ACCOUNT, SSM["automation"])


def group_members(iam):
    return {u["UserName"] for u in iam.get_group(GroupName=GROUP)["Users"]}


def metric_sum(name):
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    now = datetime.now(timezone.utc)
    points = cloudwatch.get_metric_statistics(
        Namespace=METRIC_NAMESPACE,
        MetricName=name,
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(minutes=5),
        Period=3600,
        Statistics=["Sum"],
    )["Datapoints"]
    return sum(p["Sum"] for p in points)


# --- one case per row: who is acted on, and who never is ---


def test_still_non_compliant_user_is_put_into_the_group_and_the_operators_are_told(enforcement, add_user, iam):
    bob = add_user("bob", password=True, password_age_days=30)
    result = enforce(bob)
    assert result["outcome"] == "enforced"
    assert group_members(iam) == {"bob"}
    (message,) = enforcement()
    assert message["Subject"] == f"MFA enforced: bob in {ACCOUNT}"
    assert bob["UserId"] in message["Message"]
    assert "grace period ended: " in message["Message"] and "UTC" in message["Message"]
    assert f"aws iam remove-user-from-group --group-name {GROUP} --user-name bob" in message["Message"]
    assert metric_sum(ENFORCED_METRIC) == 1


def test_user_who_enabled_mfa_since_the_evaluation_is_left_alone(enforcement, add_user, iam):
    bob = add_user("bob", password=True, password_age_days=30)
    iam.enable_mfa_device(
        UserName="bob",
        SerialNumber=device_serial("fido", "bob", ACCOUNT),
        AuthenticationCode1="123456",
        AuthenticationCode2="654321",
    )
    result = enforce(bob)
    assert result["outcome"] == "not_non_compliant"
    assert "COMPLIANT now (mfa_present)" in result["why"]
    assert group_members(iam) == set()
    assert enforcement() == []


def test_exempt_user_is_left_alone(enforcement, config, add_user, iam):
    config.rule_parameters["ExemptUsers"] = "break-glass"
    user = add_user("break-glass", password=True, password_age_days=400)
    assert enforce(user)["outcome"] == "not_non_compliant"
    assert group_members(iam) == set()


def test_user_exempt_by_tag_is_left_alone(enforcement, add_user, iam):
    last_day = f"{datetime.now(timezone.utc) + timedelta(days=5):%Y-%m-%d}"
    user = add_user("vendor", password=True, password_age_days=400, tags={"mfa-exempt-until": last_day})
    result = enforce(user)
    assert result["outcome"] == "not_non_compliant"
    assert "exemption_tag" in result["why"]
    assert group_members(iam) == set()


def test_user_in_grace_is_left_alone(enforcement, add_user, iam):
    new = add_user("new-hire", password=True, password_age_days=2)
    result = enforce(new)
    assert result["outcome"] == "in_grace"
    assert "enforcement grace period until" in result["why"]
    assert group_members(iam) == set()


def test_user_without_a_console_password_is_left_alone(enforcement, add_user, iam):
    robot = add_user("deploy-robot", password=False)
    assert enforce(robot)["outcome"] == "not_non_compliant"
    assert group_members(iam) == set()


def test_deleted_user_is_left_alone(enforcement, add_user, iam):
    gone = add_user("leaver", password=True, password_age_days=30)
    iam.delete_login_profile(UserName="leaver")
    iam.delete_user(UserName="leaver")
    assert enforce(gone)["outcome"] == "user_gone"
    assert group_members(iam) == set()


def test_user_already_in_the_group_is_not_changed_or_counted(enforcement, add_user, iam):
    bob = add_user("bob", password=True, password_age_days=30)
    iam.add_user_to_group(GroupName=GROUP, UserName="bob")
    assert enforce(bob)["outcome"] == "already_in_group"
    assert group_members(iam) == {"bob"}
    assert enforcement() == []
    items = boto3.client("dynamodb", region_name="us-east-1").scan(TableName=TABLE)["Items"]
    assert [item for item in items if item["pk"]["S"].startswith("enforcements#")] == []


def test_past_the_daily_limit_nobody_is_enforced_the_alarms_metric_is_emitted_and_no_message_each(
    enforcement, add_user, iam, monkeypatch
):
    monkeypatch.setenv("MAX_ENFORCEMENTS_PER_DAY", "2")
    users = [add_user(f"user{n}", password=True, password_age_days=30) for n in range(4)]
    outcomes = [enforce(user)["outcome"] for user in users]
    assert outcomes == ["enforced", "enforced", "daily_limit_reached", "daily_limit_reached"]
    assert group_members(iam) == {"user0", "user1"}
    assert metric_sum(HELD_BACK_METRIC) == 2
    # The daily run lists them in its one digest (and enforces them on later days).
    assert {m["Subject"] for m in enforcement()} == {f"MFA enforced: user{n} in {ACCOUNT}" for n in range(2)}


def test_a_retried_remediation_of_a_user_counted_today_does_not_use_another_slot(enforcement, add_user, iam):
    bob = add_user("bob", password=True, password_age_days=30)
    assert enforce(bob)["outcome"] == "enforced"
    iam.remove_user_from_group(GroupName=GROUP, UserName="bob")  # e.g. the add was undone, and Config retries
    assert enforce(bob)["outcome"] == "enforced"
    items = boto3.client("dynamodb", region_name="us-east-1").scan(TableName=TABLE)["Items"]
    (day,) = [item for item in items if item["pk"]["S"].startswith("enforcements#")]
    assert day["enforced"] == {"N": "1"}


def test_enforcement_turned_off_on_the_rule_stops_the_remediation(enforcement, config, add_user, iam):
    config.rule_parameters["Enforcement"] = "off"
    bob = add_user("bob", password=True, password_age_days=30)
    assert enforce(bob)["outcome"] == "enforcement_off"
    assert group_members(iam) == set()


def test_a_parameter_changed_since_the_evaluation_is_honoured(enforcement, config, add_user, iam):
    bob = add_user("bob", password=True, password_age_days=30)
    config.rule_parameters["GracePeriodDays"] = "60"  # Config's snapshot was taken under 14 days
    assert enforce(bob)["outcome"] == "in_grace"
    assert group_members(iam) == set()


def test_every_action_and_refusal_is_one_json_log_line(enforcement, add_user, caplog):
    bob = add_user("bob", password=True, password_age_days=30)
    new = add_user("new-hire", password=True, password_age_days=2)
    with caplog.at_level(logging.INFO, logger="console_mfa.enforcement"):
        enforce(bob)
        enforce(new)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "console_mfa.enforcement"]
    final = [line for line in lines if "step" not in line]
    assert [(line["userName"], line["outcome"]) for line in final] == [
        ("bob", "enforced"),
        ("new-hire", "in_grace"),
    ]
    assert final[0]["graceEnds"] and final[0]["why"].startswith("Console password but no allowed MFA device")
    assert final[0]["apiCalls"]["iam:AddUserToGroup"] == 1
    assert "iam:AddUserToGroup" not in final[1]["apiCalls"]


@pytest.mark.parametrize(
    "event",
    [{"action": "enforce", "UserId": "bob"}, {"action": "enforce"}, {"action": "delete-everyone"}, {}],
    ids=["user-name-not-id", "no-user-id", "unknown-action", "empty"],
)
def test_bad_events_are_refused_before_anything_is_read(enforcement, event):
    from console_mfa.exceptions import InvalidEventError

    with pytest.raises(InvalidEventError):
        handler(event)


def test_missing_topic_setting_fails_naming_the_variable(enforcement, add_user, monkeypatch):
    from console_mfa.exceptions import InvalidParameterError

    monkeypatch.delenv("OPERATORS_TOPIC_ARN")
    user = add_user("bob", password=True, password_age_days=30)
    execution_id = enforcement.automation.start(ACCOUNT, DOCUMENT_NAME, user["UserId"])
    with pytest.raises(InvalidParameterError, match="OPERATORS_TOPIC_ARN"):
        handler({"action": "enforce", "UserId": user["UserId"], "ExecutionId": execution_id})


# --- the daily run ---


def notify(clock=None):
    return handler({"action": "notify"}, clock=clock or (lambda: datetime.now(timezone.utc)))


def test_no_notice_while_enforcement_is_off(enforcement, config, add_user):
    config.rule_parameters["Enforcement"] = "off"
    add_user("soon", password=True, password_age_days=10)
    assert notify()["outcome"] == "enforcement_off"
    assert enforce(add_user("bob", password=True, password_age_days=30))["outcome"] == "enforcement_off"
    assert enforcement() == []


# --- the whole chain in emulation: NON_COMPLIANT, enforced, locked out of other work, enables MFA, COMPLIANT ---


def _force_mfa_policy_document():
    from mfa_audit.templates import Template

    stack = Template.load("rule.yaml").resolve(
        {"CodeBucket": "artifacts", "Enforcement": "automatic", "AlarmEmail": "secops@example.com"}
    )
    return stack.resources["ForceMfaPolicy"]["Properties"]["PolicyDocument"]


def _statements_from_the_users_groups(iam, user_name):
    """Every statement of the managed policies attached to the user's groups, as IAM holds them."""
    statements = []
    for group in iam.list_groups_for_user(UserName=user_name)["Groups"]:
        for attached in iam.list_attached_group_policies(GroupName=group["GroupName"])["AttachedPolicies"]:
            policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
            version = iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"])
            document = version["PolicyVersion"]["Document"]
            statements += json.loads(document) if isinstance(document, str) else document["Statement"]
    return statements


def test_non_compliant_user_is_enforced_locked_out_enables_mfa_and_is_compliant(enforcement, config, iam, add_user):
    from IAM_USER_CONSOLE_MFA import lambda_handler

    from mfa_audit.emulation.events import scheduled_event
    from mfa_audit.emulation.iam_policy import ALLOW, EXPLICIT_DENY, decision

    policy = iam.create_policy(PolicyName="force-mfa", PolicyDocument=json.dumps(_force_mfa_policy_document()))
    iam.attach_group_policy(GroupName=GROUP, PolicyArn=policy["Policy"]["Arn"])
    bob = add_user("bob", password=True, password_age_days=30)
    parameters = config.rule_parameters

    # 1. The rule's sweep finds bob NON_COMPLIANT.
    lambda_handler(scheduled_event(parameters), None)
    assert config.results[bob["UserId"]]["ComplianceType"] == "NON_COMPLIANT"

    # 2. Config runs the remediation for that UserId; the function checks again and enforces.
    assert enforce(bob)["outcome"] == "enforced"
    assert "bob" in group_members(iam)

    # 3. The group's policy, as IAM holds it, denies bob's other work until he signs in with MFA ...
    statements = _statements_from_the_users_groups(iam, "bob")
    without_mfa = {"aws:username": "bob", "aws:MultiFactorAuthPresent": "false"}
    assert decision(statements, "s3:ListAllMyBuckets", "*", without_mfa) == EXPLICIT_DENY
    assert decision(statements, "iam:CreateAccessKey", bob["Arn"], without_mfa) == EXPLICIT_DENY
    # ... and lets him set up his own device.
    device_arn = f"arn:aws:iam::{ACCOUNT}:mfa/bob-phone"
    assert decision(statements, "iam:CreateVirtualMFADevice", device_arn, without_mfa) == ALLOW
    assert decision(statements, "iam:EnableMFADevice", bob["Arn"], without_mfa) == ALLOW

    # 4. Bob enables a virtual device (the calls the policy allowed).
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName="bob-phone")["VirtualMFADevice"]["SerialNumber"]
    iam.enable_mfa_device(
        UserName="bob", SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
    )

    # 5. The next sweep records him COMPLIANT, and a late automatic remediation leaves him alone.
    lambda_handler(scheduled_event(parameters), None)
    assert config.results[bob["UserId"]]["ComplianceType"] == "COMPLIANT"
    assert enforce(bob)["outcome"] == "not_non_compliant"
    # Signed in with MFA, he works again; and the daily run takes him out of the group, so his access keys
    # (which never carry MFA) work again too.
    with_mfa = {"aws:username": "bob", "aws:MultiFactorAuthPresent": "true"}
    assert decision(statements, "s3:ListAllMyBuckets", "*", with_mfa) != EXPLICIT_DENY
    assert notify()["released"] == 1
    assert group_members(iam) == set()


def test_function_role_grants_exactly_the_actions_the_code_calls(enforcement, add_user, iam, monkeypatch, caplog):
    monkeypatch.setenv("MAX_ENFORCEMENTS_PER_DAY", "1")
    add_user("soon", password=True, password_age_days=10)
    first, second = (add_user(f"user{n}", password=True, password_age_days=30) for n in range(2))
    iam.create_access_key(UserName="user1")  # its last use is read before the user is enforced
    with caplog.at_level(logging.INFO, logger="console_mfa.enforcement"):
        enforce(first)
        enforce(second)  # held back: the metric and the message
        # The enforced user sets up MFA: the daily run takes it out of the group.
        serial = iam.create_virtual_mfa_device(VirtualMFADeviceName="user0")["VirtualMFADevice"]["SerialNumber"]
        iam.enable_mfa_device(
            UserName="user0", SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
        )
        assert notify()["released"] == 1
    role = (
        Template.load("rule.yaml")
        .resolve({"CodeBucket": "b", "Enforcement": "automatic", "AlarmEmail": "a@example.com"})
        .resources["EnforcementFunctionRole"]
    )
    assert actions_called(caplog.records) == actions_granted_to_call(role)
