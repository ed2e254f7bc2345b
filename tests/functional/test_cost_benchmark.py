"""The cost benchmark runs, and its day of sweeps keeps Config right while sending far less than everyone."""

from datetime import datetime, timezone

import pytest
from console_mfa.facts import MfaType
from console_mfa.verdict import FactsRecord

from benchmarks.cost import _record_holds, monthly_charge, simulate_day


# Each size: the one `make test` runs, and the benchmark-sized one (marker bench) `make bench` runs.
@pytest.mark.filterwarnings("ignore")
# 60 users: the smallest whose 1% daily churn rounds to a change.
@pytest.mark.parametrize("size", [60, pytest.param(100, marks=pytest.mark.bench)])
def test_a_day_of_hourly_sweeps_on_a_small_account_sends_little_and_stays_right(monkeypatch, size):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    day = simulate_day(size=size, seed=1)
    assert len(day.checks) == 24
    assert day.every_sweep_right
    assert day.wrong_compliance_types == 0
    assert day.first_sweep_evaluations == size
    assert len(day.evaluations_per_sweep) == 24
    assert day.changes >= 1
    assert day.changes <= day.evaluations_per_day < size


@pytest.mark.parametrize(
    ("per_day", "monthly"),
    [(0, 0.0), (1000, 30.0), (5000, 140.0), (20_000, 100.0 + 400_000 * 0.0008 + 100_000 * 0.0005)],
)
def test_monthly_charge_follows_configs_price_tiers(per_day, monthly):
    assert monthly_charge(per_day) == pytest.approx(monthly)


@pytest.mark.filterwarnings("ignore")
# Above 200 users (console_mfa.sweep.BULK_ABOVE_USERS) the first sweep is a bulk one: 201 is the smallest.
@pytest.mark.parametrize("size", [201, pytest.param(250, marks=pytest.mark.bench)])
def test_a_day_starting_from_a_bulk_sweeps_results_has_no_wrong_compliance_type(monkeypatch, size):
    # The first sweep is a bulk one: its records are bounds (pw>=), a live check's exact (pw=).
    for name, value in {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    day = simulate_day(size=size, seed=1, held_from="bulk")
    assert "iam:GetCredentialReport" in day.first_sweep_calls  # the bulk sweep it is about
    assert day.wrong_compliance_types == 0
    assert day.every_sweep_right, [example for check in day.checks for example in check.examples]


CREATED = datetime(2026, 1, 1, tzinfo=timezone.utc)
LATER = datetime(2026, 1, 2, tzinfo=timezone.utc)


def test_a_bulk_record_is_true_when_the_live_profile_is_as_old_or_newer_and_has_its_devices():
    bulk = FactsRecord(CREATED, frozenset({MfaType.VIRTUAL, MfaType.UNVERIFIED}), from_credential_report=True)
    assert _record_holds(bulk, FactsRecord(LATER, frozenset({MfaType.VIRTUAL, MfaType.HARDWARE})))


def test_a_bulk_record_is_untrue_when_the_live_profile_is_older():
    bulk = FactsRecord(LATER, frozenset(), from_credential_report=True)
    assert not _record_holds(bulk, FactsRecord(CREATED, frozenset()))


def test_a_bulk_records_unknown_device_is_untrue_without_a_further_live_device():
    bulk = FactsRecord(CREATED, frozenset({MfaType.VIRTUAL, MfaType.UNVERIFIED}), from_credential_report=True)
    assert not _record_holds(bulk, FactsRecord(CREATED, frozenset({MfaType.VIRTUAL})))


def test_a_checked_record_must_equal_the_live_one():
    checked = FactsRecord(CREATED, frozenset({MfaType.VIRTUAL}))
    assert not _record_holds(checked, FactsRecord(LATER, frozenset({MfaType.VIRTUAL})))
    assert _record_holds(checked, FactsRecord(CREATED, frozenset({MfaType.VIRTUAL})))


@pytest.mark.filterwarnings("ignore")
def test_the_truth_check_counts_a_held_compliance_type_a_live_check_contradicts(monkeypatch):
    import boto3
    from IAM_USER_CONSOLE_MFA import lambda_handler
    from moto import mock_aws

    from benchmarks.cost import PARAMETERS, Clock, check_against_live
    from mfa_audit.emulation.events import RULE_NAME, LambdaContext, scheduled_event
    from mfa_audit.emulation.services import EmulatedCloudTrail, EmulatedConfig

    for name, value in {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    clock = Clock(datetime.now(timezone.utc))
    with mock_aws(), EmulatedCloudTrail(), EmulatedConfig(RULE_NAME) as config:
        iam = boto3.client("iam")
        iam.create_user(UserName="bob")
        iam.create_login_profile(UserName="bob", Password="Emulated-Passw0rd!")  # noqa: S106 - emulated account
        lambda_handler(scheduled_event(PARAMETERS), LambdaContext(), clock=clock)
        assert check_against_live(config, clock).right
        (held,) = config.results.values()
        held["ComplianceType"] = "NOT_APPLICABLE" if held["ComplianceType"] != "NOT_APPLICABLE" else "COMPLIANT"
        check = check_against_live(config, clock)
    assert check.wrong_compliance_types == 1
    assert not check.right
