"""Exemption tags on every path the verdict is made: the bulk sweep, the change path, the steady-state sweep,
the enforcement re-check. The tags cost one ListUserTags per user who would otherwise be NON_COMPLIANT."""

import time
from datetime import datetime, timedelta, timezone

from IAM_USER_CONSOLE_MFA import lambda_handler

from mfa_audit.emulation.events import LambdaContext, change_event, scheduled_event
from mfa_audit.emulation.services import ApiCallCounter, FrozenCredentialReport
from tests.functional import test_sending_only_changes
from tests.functional.test_sending_only_changes import assert_config_holds_the_truth

# The carry-forward tests' moving clock, shared by Config and CloudTrail (pytest finds the fixture by this name).
clock = test_sending_only_changes.clock

TAG = "mfa-exempt-until"


def _in_days(days, now=None):
    return f"{((now or datetime.now(timezone.utc)) + timedelta(days=days)):%Y-%m-%d}"


def _result(config, user):
    return config.results[user["UserId"]]


def test_the_bulk_sweep_over_200_users_honours_tags_and_reads_them_only_for_users_otherwise_non_compliant(
    config, add_user, aws, cloudtrail, monkeypatch
):
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    monkeypatch.setenv("SWEEP_STRATEGY", "auto")
    with FrozenCredentialReport() as report:
        for number in range(100):
            add_user(f"virtual-{number}", password=True, devices=("virtual",))
            add_user(f"no-password-{number}", tags={TAG: _in_days(10)})  # a tag that changes nothing
        exempt = add_user("vendor", password=True, tags={TAG: _in_days(10), "mfa-exempt-owner": "alice"})
        lapsed = add_user("lapsed", password=True, tags={TAG: _in_days(-1)})
        plain = [add_user(f"no-mfa-{number}", password=True) for number in range(3)]
        with_mfa_and_tag = add_user("has-mfa", password=True, devices=("virtual",), tags={TAG: _in_days(10)})
        cloudtrail.age_history(timedelta(days=2))
        report.generate_now()
        with ApiCallCounter() as counter:
            lambda_handler(scheduled_event(), None)
    assert _result(config, exempt)["ComplianceType"] == "NOT_APPLICABLE"
    assert _result(config, lapsed)["ComplianceType"] == "NON_COMPLIANT"
    assert "has passed" in _result(config, lapsed)["Annotation"]
    assert {_result(config, user)["ComplianceType"] for user in plain} == {"NON_COMPLIANT"}
    assert _result(config, with_mfa_and_tag)["ComplianceType"] == "COMPLIANT"
    assert counter.calls.get("iam:GetLoginProfile", 0) == 0  # the bulk sweep: settled by the credential report
    # One call for each of the five users without MFA; none for the 201 others.
    assert counter.calls["iam:ListUserTags"] == 5


def test_the_change_path_takes_the_tags_from_the_configuration_item(config, add_user):
    vendor = add_user("vendor", password=True, tags={TAG: _in_days(5)})
    with ApiCallCounter() as counter:
        lambda_handler(change_event(vendor), None)
    assert config.sent[0]["ComplianceType"] == "NOT_APPLICABLE"
    assert f"through {_in_days(5)}" in config.sent[0]["Annotation"]
    assert counter.calls.get("iam:ListUserTags", 0) == 0


def test_the_oversized_change_path_reads_the_tags_from_iam(config, add_user):
    vendor = add_user("vendor", password=True, tags={TAG: _in_days(5)})
    with ApiCallCounter() as counter:
        lambda_handler(change_event(vendor, oversized=True), None)
    assert config.sent[0]["ComplianceType"] == "NOT_APPLICABLE"
    assert counter.calls["iam:ListUserTags"] == 1


def test_a_tag_beyond_the_parameters_limit_on_the_change_path_is_not_honoured(config, add_user):
    vendor = add_user("vendor", password=True, tags={TAG: _in_days(45)})
    lambda_handler(change_event(vendor, parameters={"MaxExemptionDays": "30"}), None)
    assert config.sent[0]["ComplianceType"] == "NON_COMPLIANT"
    assert "MaxExemptionDays (30)" in config.sent[0]["Annotation"]


def _sweep(config, clock):
    config.put_calls.clear()
    with ApiCallCounter() as counter:
        lambda_handler(scheduled_event(), LambdaContext(), clock=clock)
    return counter.calls


def test_tagging_and_untagging_between_steady_state_sweeps_is_seen_by_the_next_sweep(
    config, add_user, iam, cloudtrail, clock, monkeypatch
):
    monkeypatch.setenv("SWEEP_STRATEGY", "auto")
    vendor = add_user("vendor", password=True)
    add_user("alice", password=True, devices=("fido",))
    cloudtrail.age_history(timedelta(hours=2))
    _sweep(config, clock)
    assert _result(config, vendor)["ComplianceType"] == "NON_COMPLIANT"

    clock.advance(hours=1)
    iam.tag_user(UserName="vendor", Tags=[{"Key": TAG, "Value": _in_days(3, clock())}])
    clock.advance(minutes=30)
    calls = _sweep(config, clock)
    assert _result(config, vendor)["ComplianceType"] == "NOT_APPLICABLE"
    assert calls["iam:ListUserTags"] == 1
    assert_config_holds_the_truth(config, clock)

    clock.advance(hours=1)
    calls = _sweep(config, clock)  # nothing changed: the exemption is carried with no per-user call
    assert calls.get("iam:ListUserTags", 0) == 0 and calls.get("iam:GetLoginProfile", 0) == 0

    iam.untag_user(UserName="vendor", TagKeys=[TAG])
    clock.advance(minutes=30)
    _sweep(config, clock)
    assert _result(config, vendor)["ComplianceType"] == "NON_COMPLIANT"
    assert_config_holds_the_truth(config, clock)


def test_an_exemption_that_ends_with_no_iam_change_is_seen_by_the_next_sweep(
    config, add_user, cloudtrail, clock, monkeypatch
):
    monkeypatch.setenv("SWEEP_STRATEGY", "auto")
    vendor = add_user("vendor", password=True, tags={TAG: _in_days(1, clock())})
    cloudtrail.age_history(timedelta(hours=2))
    _sweep(config, clock)
    assert _result(config, vendor)["ComplianceType"] == "NOT_APPLICABLE"
    clock.advance(days=2)
    _sweep(config, clock)
    assert _result(config, vendor)["ComplianceType"] == "NON_COMPLIANT"
    assert "has passed" in _result(config, vendor)["Annotation"]
    assert_config_holds_the_truth(config, clock)


def test_a_denied_list_user_tags_fails_the_run_naming_the_permission_and_reports_nothing(config, add_user):
    import pytest
    from console_mfa.exceptions import MissingPermissionError

    from tests.functional.faults import iam_error

    add_user("vendor", password=True)
    with (
        iam_error("ListUserTags", "AccessDenied", times=1000, status=403),
        pytest.raises(MissingPermissionError) as raised,
    ):
        lambda_handler(scheduled_event(), None)
    assert raised.value.action == "iam:ListUserTags"
    assert config.put_calls == []
