"""The steady-state sweep keeps held results CloudTrail shows unchanged, with no IAM call, and checks the rest live.

Each scenario runs the real handler against moto IAM, the emulated CloudTrail and the emulated Config, on one
clock; after every sweep Config must hold the truth (what a sweep sends when Config holds nothing).
"""

import json
import logging
from datetime import timedelta

import pytest
from console_mfa import sweep as sweep_module
from IAM_USER_CONSOLE_MFA import lambda_handler

from mfa_audit.emulation.events import LambdaContext, scheduled_event
from mfa_audit.emulation.services import ApiCallCounter, FrozenCredentialReport
from tests.functional.test_sending_only_changes import Clock, assert_config_holds_the_truth, held

pytestmark = pytest.mark.usefixtures("no_real_sleep")


@pytest.fixture
def no_real_sleep(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda seconds: None)


@pytest.fixture
def clock(config, cloudtrail):
    moving = Clock()
    config.clock = moving
    cloudtrail.clock = moving
    return moving


@pytest.fixture
def account(add_user, cloudtrail, config, clock, monkeypatch):
    """Five users swept once, an hour ago; CloudTrail's record of creating them is older than that."""
    monkeypatch.setenv("SWEEP_STRATEGY", "auto")
    add_user("alice", password=True, devices=("fido",))
    add_user("bob", password=True, devices=("virtual",))
    add_user("carol", password=True)
    add_user("dave")
    add_user("erin", password=True, devices=("hardware",))
    cloudtrail.age_history(timedelta(hours=2))
    run(config, clock)
    clock.advance(hours=1)


def run(config, clock, parameters=None, caplog=None):
    """One periodic run; returns its log line and the IAM calls it made per action."""
    config.put_calls.clear()
    with ApiCallCounter() as counter:
        lambda_handler(scheduled_event(parameters), LambdaContext(), clock=clock)
    return {op: n for op, n in counter.calls.items() if op.startswith("iam:")}


def last_log(caplog):
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "console_mfa" and "{" in r.getMessage()]
    return lines[-1]


def per_user_calls(calls):
    return sum(n for op, n in calls.items() if op != "iam:ListUsers")


def test_a_sweep_with_nothing_changed_keeps_every_result_without_a_per_user_call(account, config, clock, caplog):
    caplog.set_level(logging.INFO, logger="console_mfa")
    calls = run(config, clock)
    log = last_log(caplog)
    assert log["strategy"] == "carry-forward"
    assert per_user_calls(calls) == 0
    assert config.sent == []
    assert_config_holds_the_truth(config, clock)


def test_a_user_who_changed_is_checked_live_and_corrected_and_no_one_else_is(account, iam, config, clock, caplog):
    caplog.set_level(logging.INFO, logger="console_mfa")
    iam.create_login_profile(UserName="dave", Password="Emulated-Passw0rd!")  # noqa: S106
    calls = run(config, clock)
    assert calls.get("iam:GetLoginProfile") == 1
    assert [e["ComplianceType"] for e in config.sent] == ["NON_COMPLIANT"]
    assert "1 changed" in last_log(caplog)["notes"][1]
    assert_config_holds_the_truth(config, clock)


def test_a_change_cloudtrail_delivers_late_is_still_seen_by_the_next_sweep(account, iam, cloudtrail, config, clock):
    cloudtrail.delivery_delay = timedelta(minutes=10)
    iam.delete_login_profile(UserName="carol")
    run(config, clock)  # the event is not yet visible
    clock.advance(minutes=30)
    run(config, clock)
    assert [e["ComplianceType"] for e in config.sent] == ["NOT_APPLICABLE"]
    assert_config_holds_the_truth(config, clock)


def test_a_grace_period_that_ends_while_carried_is_checked_live_and_set_non_compliant(
    add_user, cloudtrail, config, clock
):
    parameters = {"GracePeriodDays": "1"}
    add_user("fred", password=True, password_age_days=0)
    cloudtrail.age_history(timedelta(hours=2))
    run(config, clock, parameters)
    assert held(config) and next(iter(held(config).values()))[0] == "COMPLIANT"
    clock.advance(days=2)
    calls = run(config, clock, parameters)
    assert calls.get("iam:GetLoginProfile") == 1
    assert [e["ComplianceType"] for e in config.sent] == ["NON_COMPLIANT"]
    assert_config_holds_the_truth(config, clock, parameters)


def test_a_policy_change_checks_the_users_whose_verdict_it_changes_live(account, config, clock, caplog):
    caplog.set_level(logging.INFO, logger="console_mfa")
    parameters = {"AllowedMfaTypes": "fido,hardware"}
    calls = run(config, clock, parameters)
    assert "verdict would change" in last_log(caplog)["notes"][1]
    assert calls.get("iam:ListMFADevices", 0) >= 1
    assert any(e["ComplianceType"] == "NON_COMPLIANT" for e in config.sent)  # bob's virtual device no longer counts
    assert_config_holds_the_truth(config, clock, parameters)


def test_a_user_due_for_re_confirmation_is_still_checked_live_and_sent_again(account, config, clock, caplog):
    from console_mfa.config_report import latest_reconfirmation_moment

    caplog.set_level(logging.INFO, logger="console_mfa")
    user_id = sorted(config.recorded_at)[0]
    # Recorded just before its latest re-confirmation moment: due now, the others not.
    config.recorded_at[user_id] = latest_reconfirmation_moment(user_id, clock(), 30) - timedelta(seconds=1)
    calls = run(config, clock)
    assert "1 re-confirmation" in last_log(caplog)["notes"][1]
    assert calls.get("iam:GetLoginProfile") == 1
    assert [e["ComplianceResourceId"] for e in config.sent] == [user_id]
    assert_config_holds_the_truth(config, clock)


def test_when_every_result_is_due_the_full_sweep_runs_and_says_why(account, config, clock, caplog):
    caplog.set_level(logging.INFO, logger="console_mfa")
    clock.advance(days=31)
    calls = run(config, clock)
    assert "carry-forward not used: no result Config holds" in last_log(caplog)["notes"][0]
    assert calls.get("iam:GetLoginProfile") == 5
    assert len(config.sent) == 5
    assert_config_holds_the_truth(config, clock)


def test_a_renamed_user_is_checked_live(account, iam, config, clock, caplog):
    caplog.set_level(logging.INFO, logger="console_mfa")
    iam.update_user(UserName="bob", NewUserName="robert")
    calls = run(config, clock)
    assert calls.get("iam:GetLoginProfile") == 1
    assert "1 changed" in last_log(caplog)["notes"][1]
    assert_config_holds_the_truth(config, clock)


def test_a_deleted_user_is_set_not_applicable_without_a_per_user_call(account, iam, config, clock):
    for device in iam.list_mfa_devices(UserName="erin")["MFADevices"]:
        iam.deactivate_mfa_device(UserName="erin", SerialNumber=device["SerialNumber"])
    iam.delete_login_profile(UserName="erin")
    iam.delete_user(UserName="erin")
    calls = run(config, clock)
    assert per_user_calls(calls) == 0
    assert [e["ComplianceType"] for e in config.sent] == ["NOT_APPLICABLE"]
    assert_config_holds_the_truth(config, clock)


def test_a_result_without_the_facts_record_is_checked_live(account, config, clock, caplog):
    caplog.set_level(logging.INFO, logger="console_mfa")
    user_id, result = next((rid, e) for rid, e in config.results.items() if e["ComplianceType"] == "COMPLIANT")
    result["Annotation"] = result["Annotation"].rsplit(" [", 1)[0]  # as written before records existed
    calls = run(config, clock)
    assert "1 no facts record" in last_log(caplog)["notes"][1]
    assert calls.get("iam:GetLoginProfile") == 1
    assert [e["ComplianceResourceId"] for e in config.sent] == [user_id]
    assert_config_holds_the_truth(config, clock)


def _deny_lookups(cloudtrail, monkeypatch):
    from mfa_audit.emulation.services import EmulatedError

    def deny(params):
        raise EmulatedError("ThrottlingException", 400, "Rate exceeded")

    monkeypatch.setitem(cloudtrail.operations, "LookupEvents", deny)


def test_a_cloudtrail_lookup_error_falls_back_to_the_full_sweep_and_says_why(
    account, cloudtrail, config, clock, caplog, monkeypatch
):
    caplog.set_level(logging.INFO, logger="console_mfa")
    _deny_lookups(cloudtrail, monkeypatch)
    calls = run(config, clock)
    log = last_log(caplog)
    assert log["strategy"] == "live"
    assert log["notes"][0].startswith("carry-forward not used: CloudTrail LookupEvents could not be read")
    assert per_user_calls(calls) >= 5
    assert_config_holds_the_truth(config, clock)


def test_an_event_that_does_not_name_its_user_falls_back_and_says_why(account, cloudtrail, config, clock, caplog):
    caplog.set_level(logging.INFO, logger="console_mfa")
    cloudtrail.events.append(
        {
            "eventVersion": "1.09",
            "eventID": "no-user",
            "eventTime": clock(),
            "eventSource": "iam.amazonaws.com",
            "eventName": "DeleteLoginProfile",
            "userIdentity": {"type": "AssumedRole", "accountId": "123456789012"},
            "requestParameters": {},
        }
    )
    run(config, clock)
    log = last_log(caplog)
    assert log["strategy"] == "live"
    assert "does not say which user it changed" in log["notes"][0]


def test_more_changes_than_the_limit_fall_back_and_say_why(account, iam, config, clock, caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger="console_mfa")
    monkeypatch.setattr(sweep_module, "MAX_CHANGE_EVENTS", 1)
    iam.delete_login_profile(UserName="carol")
    iam.create_login_profile(UserName="dave", Password="Emulated-Passw0rd!")  # noqa: S106
    run(config, clock)
    log = last_log(caplog)
    assert log["strategy"] == "live"
    assert "more than 1 IAM changes" in log["notes"][0]
    assert_config_holds_the_truth(config, clock)


def test_a_result_whose_timestamp_is_past_cloudtrails_history_sends_only_that_user_to_a_live_check(
    account, config, clock, caplog
):
    # Config can hold one old OrderingTimestamp (an old configuration item's capture time, say): that user alone
    # is checked live; the account's sweep stays a steady-state one.
    caplog.set_level(logging.INFO, logger="console_mfa")
    user_id = sorted(config.results)[0]
    config.results[user_id]["OrderingTimestamp"] = clock() - timedelta(days=91)
    calls = run(config, clock)
    log = last_log(caplog)
    assert log["strategy"] == "carry-forward"
    assert "1 past CloudTrail's history" in log["notes"][1]
    assert calls.get("iam:GetLoginProfile") == 1
    assert [e["ComplianceResourceId"] for e in config.sent] == [user_id]
    assert per_user_calls(run(config, clock)) == 0  # re-sent with this sweep's timestamp: carried from now on
    assert_config_holds_the_truth(config, clock)


def test_a_result_without_a_usable_timestamp_sends_only_that_user_to_a_live_check(account, config, clock, caplog):
    caplog.set_level(logging.INFO, logger="console_mfa")
    user_id = sorted(config.results)[0]
    config.results[user_id]["OrderingTimestamp"] = clock() + timedelta(hours=1)  # after its recording
    calls = run(config, clock)
    assert "1 no usable OrderingTimestamp" in last_log(caplog)["notes"][1]
    assert calls.get("iam:GetLoginProfile") == 1
    assert_config_holds_the_truth(config, clock)


def test_a_user_checked_live_after_a_change_is_carried_from_the_sweep_after_next(account, iam, config, clock):
    # The change lies within the margin before the result's recording, so the next sweep checks the user
    # again; that check must re-record the (unchanged) result, or every later sweep would check it again too.
    iam.create_login_profile(UserName="dave", Password="Emulated-Passw0rd!")  # noqa: S106
    run(config, clock)
    clock.advance(hours=1)
    again = run(config, clock)
    assert per_user_calls(again) >= 1
    assert [e["ComplianceType"] for e in config.sent] == ["NON_COMPLIANT"]
    for _ in range(3):
        clock.advance(hours=1)
        assert per_user_calls(run(config, clock)) == 0
        assert config.sent == []
    assert_config_holds_the_truth(config, clock)


def test_a_password_cloudtrail_had_not_delivered_when_the_bulk_sweep_looked_is_checked_by_the_next_sweep(
    add_user, iam, cloudtrail, config, clock, monkeypatch
):
    add_user("dave")
    cloudtrail.age_history(timedelta(hours=2))
    with FrozenCredentialReport() as report:
        report.generate_now()  # before the password: the bulk sweep relies on CloudTrail for what came after
        cloudtrail.delivery_delay = timedelta(minutes=15)
        clock.advance(minutes=50)
        iam.create_login_profile(UserName="dave", Password="Emulated-Passw0rd!")  # noqa: S106
        clock.advance(minutes=10)
        monkeypatch.setenv("SWEEP_STRATEGY", "bulk")
        run(config, clock)
        # What the report and CloudTrail showed 10 minutes after the change, before its event was delivered.
        assert [e["ComplianceType"] for e in config.sent] == ["NOT_APPLICABLE"]
        monkeypatch.setenv("SWEEP_STRATEGY", "auto")
        clock.advance(hours=1)
        run(config, clock)
    assert [e["ComplianceType"] for e in config.sent] == ["NON_COMPLIANT"]
    assert_config_holds_the_truth(config, clock)
