"""The bulk sweep: as cheap as the credential report, as fresh as live calls.

moto rebuilds its credential report on every read, so here the report is frozen
at a moment and the account is changed after it, as in a real account whose report
is hours old. CloudTrail's record of those changes comes from the emulated event history.
"""

import json
import logging
import time
from datetime import datetime, timedelta, timezone

import pytest
from IAM_USER_CONSOLE_MFA import lambda_handler

from mfa_audit.emulation.events import change_event, scheduled_event
from mfa_audit.emulation.services import ApiCallCounter, FrozenCredentialReport

from .faults import iam_error


@pytest.fixture
def no_sleep(monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda seconds: None)


@pytest.fixture
def bulk(monkeypatch, no_sleep):
    monkeypatch.setenv("SWEEP_STRATEGY", "bulk")


@pytest.fixture
def report(aws):
    with FrozenCredentialReport() as frozen:
        yield frozen


def results(config):
    """What Config holds for each user after the sweeps so far."""
    return {resource_id: e["ComplianceType"] for resource_id, e in config.results.items()}


def sweep_log(caplog):
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "console_mfa"]
    return lines[-1]


@pytest.fixture
def stale_account(add_user, iam, report, cloudtrail):
    """Users as they were when the report was taken, then changed after it."""
    users = {
        "gets-password": add_user("gets-password"),
        "loses-mfa": add_user("loses-mfa", password=True, devices=("fido",)),
        "enables-mfa": add_user("enables-mfa", password=True),
        "loses-password": add_user("loses-password", password=True),
        "unchanged-virtual": add_user("unchanged-virtual", password=True, devices=("virtual",)),
        "unchanged-hardware": add_user("unchanged-hardware", password=True, devices=("hardware",)),
        "unchanged-sms": add_user("unchanged-sms", password=True, devices=("sms",)),
        "unchanged-no-mfa": add_user("unchanged-no-mfa", password=True),
        "unchanged-no-password": add_user("unchanged-no-password"),
    }
    cloudtrail.age_history(timedelta(days=2))
    report.generate_now()

    iam.create_login_profile(UserName="gets-password", Password="Emulated-Passw0rd!")
    serial = iam.list_mfa_devices(UserName="loses-mfa")["MFADevices"][0]["SerialNumber"]
    iam.deactivate_mfa_device(UserName="loses-mfa", SerialNumber=serial)
    iam.enable_mfa_device(
        UserName="enables-mfa", SerialNumber="GAKT00000001", AuthenticationCode1="123456", AuthenticationCode2="654321"
    )
    iam.delete_login_profile(UserName="loses-password")
    users["created-after"] = add_user("created-after", password=True)
    return users


EXPECTED = {
    "gets-password": "NON_COMPLIANT",
    "loses-mfa": "NON_COMPLIANT",
    "enables-mfa": "COMPLIANT",
    "loses-password": "NOT_APPLICABLE",
    "created-after": "NON_COMPLIANT",
    "unchanged-virtual": "COMPLIANT",
    "unchanged-hardware": "COMPLIANT",
    "unchanged-sms": "NON_COMPLIANT",
    "unchanged-no-mfa": "NON_COMPLIANT",
    "unchanged-no-password": "NOT_APPLICABLE",
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_change_after_the_report_is_seen(config, stale_account, bulk, caplog, name):
    caplog.set_level(logging.INFO, logger="console_mfa")
    lambda_handler(scheduled_event(), None)
    log = sweep_log(caplog)
    assert log["strategy"] == "bulk"
    # Only the users changed after the report were checked in full.
    assert "5 users changed since" in log["notes"][0] and "5 users in full" in log["notes"][1]
    assert results(config)[stale_account[name]["UserId"]] == EXPECTED[name]


def test_the_stale_report_really_is_stale(stale_account, report):
    from console_mfa.credential_report import parse_credential_report

    rows = {row.user: row for row in parse_credential_report(report.content)}
    assert rows["gets-password"].password_enabled is False
    assert rows["loses-mfa"].mfa_active is True
    assert "created-after" not in rows


def test_bulk_and_live_give_the_same_verdicts(config, stale_account, monkeypatch, no_sleep):
    monkeypatch.setenv("SWEEP_STRATEGY", "live")
    lambda_handler(scheduled_event({"GracePeriodDays": "3"}), None)
    live = {e["ComplianceResourceId"]: e["ComplianceType"] for e in config.sent}
    config.forget_results()  # so the bulk sweep sends every verdict it reaches
    monkeypatch.setenv("SWEEP_STRATEGY", "bulk")
    lambda_handler(scheduled_event({"GracePeriodDays": "3"}), None)
    assert {e["ComplianceResourceId"]: e["ComplianceType"] for e in config.sent[len(live) :]} == live


def test_no_result_the_bulk_sweep_sends_is_older_than_the_one_config_holds(
    config, stale_account, monkeypatch, no_sleep, caplog
):
    """Config holds live results, newer than the report, for every user; then AllowedMfaTypes changes, so the bulk
    sweep's results differ for users the report settles. Config may drop an evaluation older than what it holds."""
    caplog.set_level(logging.INFO, logger="console_mfa")
    config.drops_older = True
    monkeypatch.setenv("SWEEP_STRATEGY", "live")
    lambda_handler(scheduled_event(), None)
    parameters = {"AllowedMfaTypes": "fido"}
    config.put_calls.clear()
    monkeypatch.setenv("SWEEP_STRATEGY", "bulk")
    lambda_handler(scheduled_event(parameters), None)
    assert config.sent and config.sent_older_than_held == []
    # The four report-settled users with a password (the allowed kinds are in the annotation), and the one without
    # (its record from the report has bounds where the live one has exact facts).
    assert "5 users in full whose result Config holds is newer" in sweep_log(caplog)["notes"][1]
    bulk = {rid: (e["ComplianceType"], e["Annotation"]) for rid, e in config.results.items()}
    config.forget_results()
    monkeypatch.setenv("SWEEP_STRATEGY", "live")
    lambda_handler(scheduled_event(parameters), None)
    assert bulk == {rid: (e["ComplianceType"], e["Annotation"]) for rid, e in config.results.items()}


def test_unchanged_users_settled_by_the_report_cost_no_per_user_calls(config, add_user, report, bulk, cloudtrail):
    for number in range(20):
        add_user(f"no-password-{number}")
        add_user(f"virtual-{number}", password=True, devices=("virtual",))
    cloudtrail.age_history(timedelta(days=2))
    report.generate_now()
    with ApiCallCounter() as counter:
        lambda_handler(scheduled_event(), None)
    assert counter.calls["iam:GetLoginProfile"] == 0
    assert counter.calls["iam:ListMFADevices"] == 0
    assert len(config.sent) == 40


def test_report_not_present_is_generated_then_used(config, add_user, report, bulk, caplog):
    caplog.set_level(logging.INFO, logger="console_mfa")
    bob = add_user("bob", password=True)
    lambda_handler(scheduled_event(), None)
    assert report.requests[:3] == ["GenerateCredentialReport", "GenerateCredentialReport", "GetCredentialReport"]
    assert sweep_log(caplog)["strategy"] == "bulk"
    assert results(config) == {bob["UserId"]: "NON_COMPLIANT"}


def test_report_in_progress_is_waited_for(config, add_user, aws, bulk, caplog):
    caplog.set_level(logging.INFO, logger="console_mfa")
    bob = add_user("bob", password=True, devices=("fido",))
    with FrozenCredentialReport(generation_polls=3) as slow:
        lambda_handler(scheduled_event(), None)
    assert slow.requests.count("GenerateCredentialReport") == 5
    assert sweep_log(caplog)["strategy"] == "bulk"
    assert results(config) == {bob["UserId"]: "COMPLIANT"}


def test_report_never_ready_falls_back_to_live_checks(config, add_user, aws, bulk, caplog):
    caplog.set_level(logging.INFO, logger="console_mfa")
    bob = add_user("bob", password=True)
    with FrozenCredentialReport(generation_polls=10_000):
        lambda_handler(scheduled_event(), None)
    log = sweep_log(caplog)
    assert log["strategy"] == "live"
    assert "not ready" in log["notes"][0]
    assert results(config) == {bob["UserId"]: "NON_COMPLIANT"}


def test_expired_report_is_generated_again(config, add_user, iam, report, bulk):
    bob = add_user("bob")
    report.generate_now()
    iam.create_login_profile(UserName="bob", Password="Emulated-Passw0rd!")
    report.expire()
    lambda_handler(scheduled_event(), None)
    assert "GetCredentialReport" in report.requests
    assert report.expired is False
    assert results(config) == {bob["UserId"]: "NON_COMPLIANT"}


def test_throttled_report_request_falls_back_to_live_checks(config, add_user, bulk, caplog, monkeypatch):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    caplog.set_level(logging.INFO, logger="console_mfa")
    bob = add_user("bob", password=True, devices=("hardware",))
    with iam_error("GenerateCredentialReport", "Throttling", times=100):
        lambda_handler(scheduled_event(), None)
    log = sweep_log(caplog)
    assert log["strategy"] == "live"
    assert "Throttling" in log["notes"][0]
    assert results(config) == {bob["UserId"]: "COMPLIANT"}


def test_cloudtrail_denied_falls_back_to_live_checks(config, stale_account, bulk, caplog):
    from mfa_audit.emulation.services import BeforeCallEmulator, EmulatedError

    class DeniedCloudTrail(BeforeCallEmulator):
        def __init__(self):
            super().__init__()
            self.operations = {"cloudtrail.LookupEvents": self._deny}

        def _deny(self, params):
            raise EmulatedError("AccessDeniedException", 400, "not authorized to perform cloudtrail:LookupEvents")

    caplog.set_level(logging.INFO, logger="console_mfa")
    with DeniedCloudTrail():
        lambda_handler(scheduled_event(), None)
    log = sweep_log(caplog)
    assert log["strategy"] == "live" and "cloudtrail:LookupEvents" in log["notes"][0]
    assert results(config)[stale_account["gets-password"]["UserId"]] == "NON_COMPLIANT"


def test_change_notification_stays_at_three_iam_calls(config, add_user):
    bob = add_user("bob", password=True, devices=("virtual",))
    with ApiCallCounter() as counter:
        lambda_handler(change_event(bob), None)
    assert counter.of_service("iam") == 3
    assert counter.calls["config:PutEvaluations"] == 1


def created_in_the_same_second(*users):
    """Give the users one creation time, as automation creating them together does."""
    from moto.iam.models import iam_backends

    moment = (datetime.now(timezone.utc) - timedelta(days=400)).replace(microsecond=0, tzinfo=None)
    for user in users:
        iam_backends[user["Arn"].split(":")[4]]["aws"].users[user["UserName"]].create_date = moment


def test_a_user_renamed_to_a_deleted_users_name_after_the_report_is_checked_live(
    config, add_user, iam, report, bulk, cloudtrail
):
    alice = add_user("alice")
    bob = add_user("bob", password=True)
    created_in_the_same_second(alice, bob)
    cloudtrail.age_history(timedelta(days=2))
    report.generate_now()

    iam.delete_user(UserName="alice")
    iam.update_user(UserName="bob", NewUserName="alice")
    lambda_handler(scheduled_event(), None)
    # Same ARN, same creation second as alice's row: only CloudTrail tells bob is not her.
    assert results(config) == {bob["UserId"]: "NON_COMPLIANT"}


def test_two_users_created_in_the_same_second_who_swap_names_after_the_report_are_checked_live(
    config, add_user, iam, report, bulk, cloudtrail
):
    alice = add_user("alice")
    bob = add_user("bob", password=True)
    created_in_the_same_second(alice, bob)
    cloudtrail.age_history(timedelta(days=2))
    report.generate_now()

    iam.update_user(UserName="alice", NewUserName="swapping")
    iam.update_user(UserName="bob", NewUserName="alice")
    iam.update_user(UserName="swapping", NewUserName="bob")
    lambda_handler(scheduled_event(), None)
    assert results(config) == {alice["UserId"]: "NOT_APPLICABLE", bob["UserId"]: "NON_COMPLIANT"}
