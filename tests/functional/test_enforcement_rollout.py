"""Enforcement rolled out as the CIS text orders it: every existing user gets a grace period and notices first,
held-back and due users are enforced by the daily run within the limits, one kill switch stops it all, and
nobody's access keys are broken silently.

The real handler, driven as SSM (``enforce``) and EventBridge (``notify``, the daily run) drive it, with the
environment read from rule.yaml; IAM, DynamoDB, SNS, SSM and SES in moto. Day 0 is when enforcement starts.
"""

from datetime import datetime, timedelta, timezone

import boto3
import pytest
from enforcement_handler import handler

from mfa_audit.emulation.account import device_serial, mark_access_key_used
from mfa_audit.emulation.automation import EmulatedAutomation, EmulatedLambda, run_enforcement_document
from mfa_audit.templates import Template
from tests.functional.enforcement_stack import (
    DOCUMENT_NAME,
    STACK_PARAMETERS,
    actions_called,
    actions_granted_to_call,
    deploy_enforcement,
    sent_emails,
)

ACCOUNT = "123456789012"
DOCUMENT = (
    Template.load("rule.yaml").resolve(STACK_PARAMETERS).resources["EnforcementDocument"]["Properties"]["Content"]
)
DAY0 = datetime.now(timezone.utc)


def on(day, hours=1):
    return lambda: DAY0 + timedelta(days=day, hours=hours)


# The emulated world of the running test: SSM Automation, and the clock the function runs on.
WORLD = {}


def enforce(user, day):
    """Config's remediation for this user on that day: the stack's own document, run as SSM runs it."""
    WORLD["clock"] = on(day)
    return run_enforcement_document(DOCUMENT, DOCUMENT_NAME, {"UserId": user["UserId"]}, ACCOUNT, WORLD["automation"])


def daily_run(day):
    return handler({"action": "notify"}, clock=on(day))


def members(iam, stack):
    return {u["UserName"] for u in iam.get_group(GroupName=stack.group)["Users"]}


def tag_address(iam, name):
    iam.tag_user(UserName=name, Tags=[{"Key": "email", "Value": f"{name}@example.com"}])


@pytest.fixture(autouse=True)
def automation(monkeypatch):
    """SSM Automation and Lambda's Invoke, emulated; the function runs on the test's clock."""
    with EmulatedAutomation() as emulated, EmulatedLambda(lambda event: handler(event, clock=WORLD["clock"])):
        monkeypatch.setitem(WORLD, "automation", emulated)
        yield emulated


@pytest.fixture
def stack(config, iam, monkeypatch):
    config.rule_parameters = {"Enforcement": "automatic", "GracePeriodDays": "14"}
    return deploy_enforcement(monkeypatch, iam)


# --- 1. grace for everyone who exists when enforcement starts ---


def test_an_old_password_without_mfa_is_not_enforced_on_day_0_but_after_the_grace(stack, iam, add_user):
    alice = add_user("alice", password=True, password_age_days=400)
    result = enforce(alice, day=0)
    assert result["outcome"] == "in_grace"
    assert "enforcement grace period until" in result["why"]
    assert members(iam, stack) == set()
    assert enforce(alice, day=13)["outcome"] == "in_grace"
    assert enforce(alice, day=14)["outcome"] == "enforced"
    assert members(iam, stack) == {"alice"}


def test_the_rules_verdict_stays_non_compliant_while_enforcement_waits(stack, config, add_user):
    from IAM_USER_CONSOLE_MFA import lambda_handler

    from mfa_audit.emulation.events import scheduled_event

    alice = add_user("alice", password=True, password_age_days=400)
    assert enforce(alice, day=0)["outcome"] == "in_grace"
    lambda_handler(scheduled_event(config.rule_parameters), None)
    assert config.results[alice["UserId"]]["ComplianceType"] == "NON_COMPLIANT"


def test_with_no_grace_period_existing_users_still_get_14_days(stack, config, iam, add_user):
    config.rule_parameters["GracePeriodDays"] = "0"
    alice = add_user("alice", password=True, password_age_days=400)
    assert enforce(alice, day=13)["outcome"] == "in_grace"  # the first call on day 13 starts enforcement
    assert enforce(alice, day=26)["outcome"] == "in_grace"
    assert enforce(alice, day=27)["outcome"] == "enforced"


def test_the_start_of_enforcement_is_recorded_once(stack, add_user):
    alice = add_user("alice", password=True, password_age_days=400)
    daily_run(0)
    daily_run(10)  # a later run does not move the start
    assert enforce(alice, day=14)["outcome"] == "enforced"


def test_re_creating_the_password_does_not_restart_the_grace(stack, iam, add_user):
    bob = add_user("bob", password=True, password_age_days=400)
    daily_run(0)
    iam.delete_login_profile(UserName="bob")
    iam.create_login_profile(UserName="bob", Password="Another-Passw0rd!")  # CreateDate: now
    # The rule's own GracePeriodDays would start again from the new password; enforcement's does not.
    assert enforce(bob, day=14)["outcome"] == "enforced"


# --- 4. nobody waits for Config to ask again ---


def test_limit_2_and_seven_users_due_are_all_enforced_by_day_4_with_one_digest_a_day(stack, iam, add_user, monkeypatch):
    monkeypatch.setenv("MAX_ENFORCEMENTS_PER_DAY", "2")
    users = [add_user(f"user{n}", password=True, password_age_days=400) for n in range(7)]
    daily_run(0)
    stack.operator_messages()
    # Config sends each NON_COMPLIANT user once, on day 14: two are enforced, five held back.
    outcomes = [enforce(user, day=14)["outcome"] for user in users]
    assert outcomes.count("enforced") == 2 and outcomes.count("daily_limit_reached") == 5
    told = stack.operator_messages()
    assert len(told) == 2 and all(m["Subject"].startswith("MFA enforced") for m in told)  # none per held-back user
    for day in (15, 16, 17):
        result = daily_run(day)
        assert result["enforced"] == 2 if day < 17 else 1
        digest = [m for m in stack.operator_messages() if "digest" in m["Subject"]]
        assert len(digest) == 1
    assert members(iam, stack) == {f"user{n}" for n in range(7)}


def test_held_back_users_are_listed_in_one_message_not_one_each(stack, add_user, monkeypatch):
    monkeypatch.setenv("MAX_ENFORCEMENTS_PER_DAY", "1")
    for n in range(4):
        add_user(f"user{n}", password=True, password_age_days=400)
    daily_run(0)
    stack.operator_messages()
    result = daily_run(14)
    assert (result["enforced"], result["daily_limit_reached"]) == (1, 3)
    (digest,) = stack.operator_messages()
    assert "held back by MaxEnforcementsPerDay (enforced on a later day): 3" in digest["Message"]


# --- 3. the kill switch ---


@pytest.mark.parametrize("value", ["paused", "On", "off"])
def test_any_switch_value_but_on_pauses_enforcement(stack, iam, add_user, value):
    alice = add_user("alice", password=True, password_age_days=400)
    daily_run(0)
    stack.set_switch(value)
    result = enforce(alice, day=20)
    assert result["outcome"] == "paused"
    assert daily_run(21)["paused"] is True
    assert members(iam, stack) == set()


def test_a_missing_switch_pauses_enforcement(stack, iam, add_user):
    alice = add_user("alice", password=True, password_age_days=400)
    daily_run(0)
    boto3.client("ssm", region_name="us-east-1").delete_parameter(
        Name=stack.environment["ENFORCEMENT_SWITCH_PARAMETER"]
    )
    assert enforce(alice, day=20)["outcome"] == "paused"
    assert members(iam, stack) == set()


def test_manual_remediation_does_not_enforce_while_paused_and_does_after_resume(stack, config, iam, add_user):
    config.rule_parameters["Enforcement"] = "manual"
    alice = add_user("alice", password=True, password_age_days=400)
    daily_run(0)
    stack.set_switch("paused")
    assert enforce(alice, day=20)["outcome"] == "paused"
    stack.set_switch("on")
    assert enforce(alice, day=20)["outcome"] == "enforced"


def test_the_daily_run_lists_due_users_while_paused(stack, add_user):
    add_user("alice", password=True, password_age_days=400)
    daily_run(0)
    stack.operator_messages()
    stack.set_switch("paused")
    assert daily_run(20)["due"] == 1
    (digest,) = stack.operator_messages()
    assert "Enforcement is PAUSED" in digest["Message"] and "alice (" in digest["Message"]


# --- 5. access keys are never broken silently; devices of a kind not allowed ---


def test_a_user_whose_access_keys_were_used_recently_is_held_back_and_told(stack, iam, add_user):
    carol = add_user("carol", password=True, password_age_days=400)
    tag_address(iam, "carol")
    key = iam.create_access_key(UserName="carol")["AccessKey"]["AccessKeyId"]
    mark_access_key_used(ACCOUNT, key, DAY0 + timedelta(days=10))
    daily_run(0)
    result = enforce(carol, day=14)
    assert result["outcome"] == "access_keys_in_use"
    assert key in result["why"]
    assert members(iam, stack) == set()
    told = [m for m in sent_emails() if m["To"] == ["carol@example.com"] and "Action needed" in m["Subject"]]
    assert len(told) == 1 and key in told[0]["Body"]
    stack.operator_messages()
    daily_run(15)  # listed once for the operators; not e-mailed again
    assert len([m for m in sent_emails() if "Action needed" in m["Subject"]]) == 1


def test_keys_unused_for_longer_than_recent_access_key_days_do_not_hold_back(stack, iam, add_user):
    carol = add_user("carol", password=True, password_age_days=400)
    key = iam.create_access_key(UserName="carol")["AccessKey"]["AccessKeyId"]
    mark_access_key_used(ACCOUNT, key, DAY0 - timedelta(days=60))
    daily_run(0)
    assert enforce(carol, day=14)["outcome"] == "enforced"


def test_a_parameter_enforces_users_with_used_keys_anyway(config, iam, add_user, monkeypatch):
    config.rule_parameters = {"Enforcement": "automatic", "GracePeriodDays": "14"}
    stack = deploy_enforcement(monkeypatch, iam, EnforceUsersWithRecentAccessKeys="true")
    carol = add_user("carol", password=True, password_age_days=400)
    key = iam.create_access_key(UserName="carol")["AccessKey"]["AccessKeyId"]
    mark_access_key_used(ACCOUNT, key, DAY0 + timedelta(days=10))
    daily_run(0)
    assert enforce(carol, day=14)["outcome"] == "enforced"
    assert members(iam, stack) == {"carol"}


def test_a_user_with_a_device_of_a_kind_not_allowed_is_told_not_grouped(stack, config, iam, add_user):
    config.rule_parameters["AllowedMfaTypes"] = "fido"
    dave = add_user("dave", password=True, devices=("virtual",), password_age_days=400)
    tag_address(iam, "dave")
    daily_run(0)
    result = enforce(dave, day=14)
    assert result["outcome"] == "mfa_device_not_allowed"
    assert members(iam, stack) == set()
    assert [m["To"] for m in sent_emails() if "Action needed" in m["Subject"]] == [["dave@example.com"]]


def test_an_enforced_user_who_sets_up_mfa_is_taken_out_of_the_group_by_the_daily_run(stack, iam, add_user):
    alice = add_user("alice", password=True, password_age_days=400)
    daily_run(0)
    assert enforce(alice, day=14)["outcome"] == "enforced"
    iam.enable_mfa_device(
        UserName="alice",
        SerialNumber=device_serial("hardware", "alice", ACCOUNT),
        AuthenticationCode1="123456",
        AuthenticationCode2="654321",
    )
    assert daily_run(15)["released"] == 1
    assert members(iam, stack) == set()


# --- 2. tell the person ---


def test_a_user_in_grace_is_told_at_the_start_and_14_7_3_1_days_before(stack, iam, add_user, config):
    config.rule_parameters["GracePeriodDays"] = "30"
    add_user("erin", password=True, password_age_days=400)
    tag_address(iam, "erin")
    for day in range(0, 31):
        daily_run(day)
    mails = [m for m in sent_emails() if m["To"] == ["erin@example.com"]]
    assert len(mails) == 5
    first = mails[0]
    assert first["Subject"].startswith(f"Set up MFA for AWS account {ACCOUNT} by ")
    assert "reminder" not in first["Subject"]
    assert [m["Subject"].split("(reminder: ")[-1] for m in mails[1:]] == [
        "14 days left)",
        "7 days left)",
        "3 days left)",
        "1 day left)",
    ]
    body = first["Body"]
    assert "access keys" in body and "enforcement-user-guide" in body and "your AWS administrators" in body
    assert stack.group in body


def test_users_without_an_address_are_listed_in_one_digest_for_the_operators(stack, iam, add_user):
    add_user("frank", password=True, password_age_days=400)
    add_user("grace", password=True, password_age_days=400)
    tag_address(iam, "grace")
    daily_run(0)
    (digest,) = stack.operator_messages()
    assert "no e-mail address in their tag (tell them yourselves): 1" in digest["Message"]
    assert "frank (" in digest["Message"]
    assert [m["To"] for m in sent_emails()] == [["grace@example.com"]]
    assert {m["Subject"][:11] for m in sent_emails()} == {"Set up MFA "}


def test_without_a_sender_nobody_is_emailed_and_every_user_is_listed(config, iam, add_user, monkeypatch):
    config.rule_parameters = {"Enforcement": "automatic", "GracePeriodDays": "14"}
    stack = deploy_enforcement(monkeypatch, iam, NoticeSender="")
    add_user("grace", password=True, password_age_days=400)
    tag_address(iam, "grace")
    daily_run(0)
    assert sent_emails() == []
    (digest,) = stack.operator_messages()
    assert "grace (" in digest["Message"]


# --- the function's role ---


def test_function_role_grants_exactly_the_actions_the_code_calls(stack, iam, add_user, monkeypatch, caplog):
    import logging

    monkeypatch.setenv("MAX_ENFORCEMENTS_PER_DAY", "1")
    add_user("soon", password=True, password_age_days=400)
    tag_address(iam, "soon")
    keys = add_user("keys", password=True, password_age_days=400)
    mark_access_key_used(ACCOUNT, iam.create_access_key(UserName="keys")["AccessKey"]["AccessKeyId"], DAY0)
    first, second = (add_user(f"user{n}", password=True, password_age_days=400) for n in range(2))
    with caplog.at_level(logging.INFO, logger="console_mfa.enforcement"):
        daily_run(0)  # the notices (SES)
        enforce(first, day=14)
        enforce(second, day=14)  # held back: the metric
        enforce(keys, day=14)  # access keys in use
        iam.enable_mfa_device(
            UserName=first["UserName"],
            SerialNumber=device_serial("hardware", first["UserName"], ACCOUNT),
            AuthenticationCode1="123456",
            AuthenticationCode2="654321",
        )
        daily_run(15)  # takes the first out of the group
    assert actions_called(caplog.records) == actions_granted_to_call(stack.resources["EnforcementFunctionRole"])


# --- 3. pause, resume and undo, as mfa-audit enforcement does them ---


def control_of(stack):
    from console_mfa.aws import AwsClients

    from mfa_audit.enforcement_control import EnforcementControl

    clients = AwsClients.from_session(boto3.Session(), "us-east-1")
    return EnforcementControl(
        clients, stack.environment["ENFORCEMENT_SWITCH_PARAMETER"], stack.environment["LEDGER_TABLE"], stack.group
    )


def test_pause_stops_the_next_enforcement_and_resume_lets_it_go_on(stack, iam, add_user):
    alice = add_user("alice", password=True, password_age_days=400)
    daily_run(0)
    control = control_of(stack)
    control.pause()
    assert control.status(DAY0).on is False
    assert enforce(alice, day=14)["outcome"] == "paused"
    control.resume()
    assert enforce(alice, day=14)["outcome"] == "enforced"
    status = control.status(DAY0 + timedelta(days=14, hours=1))
    assert (status.switch, status.enforced_today) == ("on", 1)
    assert status.started == DAY0 + timedelta(hours=1)


def test_undo_takes_out_of_the_group_everyone_enforced_since_a_day(stack, iam, add_user):
    users = [add_user(f"user{n}", password=True, password_age_days=400) for n in range(3)]
    daily_run(0)
    enforce(users[0], day=14)
    enforce(users[1], day=15)
    enforce(users[2], day=16)
    iam.remove_user_from_group(GroupName=stack.group, UserName="user2")  # already undone by hand
    day15 = (DAY0 + timedelta(days=15)).replace(hour=0, minute=0, second=0, microsecond=0)
    undone = control_of(stack).undo(iam, since=day15, now=DAY0 + timedelta(days=17))
    assert (undone.removed, undone.not_in_group) == (["user1"], ["user2"])
    assert members(iam, stack) == {"user0"}
