"""The sweep sends Config only what changes what it holds, and after every sweep Config holds the truth.

The emulated Config stores results as Config does (latest per user, with the time it was recorded), and a
clock moves through hours and days of sweeps. "The truth" is what a sweep sends when Config holds nothing.
"""

from datetime import datetime, timedelta, timezone

import boto3
import pytest
from console_mfa import RULE_NAME
from console_mfa.config_report import held_result_for, held_results
from console_mfa.what_to_send import HeldResult, reconfirmation_due
from IAM_USER_CONSOLE_MFA import lambda_handler

from mfa_audit.emulation.events import LambdaContext, change_event, scheduled_event

pytestmark = pytest.mark.usefixtures("no_real_sleep")


@pytest.fixture
def no_real_sleep(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda seconds: None)


class Clock:
    def __init__(self):
        self.now = datetime.now(timezone.utc)

    def __call__(self):
        return self.now

    def advance(self, **delta):
        self.now += timedelta(**delta)


@pytest.fixture
def clock(config, cloudtrail):
    moving = Clock()
    config.clock = moving
    cloudtrail.clock = moving
    moving.cloudtrail = cloudtrail
    return moving


# Before the rule's first sweep, the account's users were set up longer ago than the carry-forward's margin:
# a user changed within it is checked live once more, and its result sent again, by the next sweep.
SET_UP_BEFORE_THE_FIRST_SWEEP = timedelta(hours=1)


def sweep(config, clock, parameters=None):
    """One periodic run; returns the UserIds it sent."""
    if not config.results and getattr(clock, "cloudtrail", None) is not None:
        clock.cloudtrail.age_history(SET_UP_BEFORE_THE_FIRST_SWEEP)
    config.put_calls.clear()
    lambda_handler(scheduled_event(parameters), LambdaContext(), clock=clock)
    return {e["ComplianceResourceId"] for e in config.sent}


def held(config):
    return {rid: (e["ComplianceType"], e["Annotation"]) for rid, e in config.results.items()}


def truth(config, clock, parameters=None):
    """What Config would hold after a sweep that sent everything (nothing held before)."""
    kept = (dict(config.results), dict(config.recorded_at), dict(config.result_accounts))
    config.forget_results()
    event = scheduled_event(parameters)
    event["resultToken"] = "TESTMODE"  # Config checks but stores nothing
    config.put_calls.clear()
    lambda_handler(event, LambdaContext(), clock=clock)
    decided = {e["ComplianceResourceId"]: (e["ComplianceType"], e["Annotation"]) for e in config.sent}
    config.results, config.recorded_at, config.result_accounts = kept
    config.put_calls.clear()
    return decided


def assert_config_holds_the_truth(config, clock, parameters=None):
    decided = truth(config, clock, parameters)
    holds = held(config)
    assert {rid: holds.get(rid) for rid in decided} == decided
    # Results for users IAM no longer has are cleared, never left as they were.
    assert {holds[rid][0] for rid in set(holds) - set(decided)} <= {"NOT_APPLICABLE"}


def due(config, clock, reconfirm_days=30):
    return {
        rid
        for rid, recorded in config.recorded_at.items()
        if reconfirmation_due(rid, recorded, clock(), reconfirm_days)
    }


def test_the_first_sweep_sends_everyone_and_an_unchanged_account_then_sends_only_what_is_due(config, clock, add_user):
    users = [add_user(f"user{n}", password=n % 2 == 0, devices=("virtual",) if n % 3 == 0 else ()) for n in range(9)]
    assert sweep(config, clock) == {u["UserId"] for u in users}
    for _ in range(5):
        clock.advance(hours=1)
        expected = due(config, clock)
        assert sweep(config, clock) == expected
        assert_config_holds_the_truth(config, clock)


def test_changes_between_sweeps_are_sent_and_nothing_else(config, clock, add_user, iam):
    gets_mfa = add_user("gets-mfa", password=True)
    loses_password = add_user("loses-password", password=True, devices=("fido",))
    deleted = add_user("deleted", password=True)
    steady = add_user("steady", password=True, devices=("virtual",))
    sweep(config, clock)
    clock.advance(hours=1)

    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName="gets-mfa-phone")["VirtualMFADevice"]["SerialNumber"]
    iam.enable_mfa_device(
        UserName="gets-mfa", SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
    )
    iam.delete_login_profile(UserName="loses-password")
    iam.delete_login_profile(UserName="deleted")
    iam.delete_user(UserName="deleted")
    created = add_user("created", password=True)

    sent = sweep(config, clock)
    assert sent - due(config, clock) >= {
        gets_mfa["UserId"],
        loses_password["UserId"],
        deleted["UserId"],
        created["UserId"],
    }
    assert steady["UserId"] not in sent - due(config, clock)
    assert_config_holds_the_truth(config, clock)
    assert held(config)[deleted["UserId"]] == ("NOT_APPLICABLE", "The user no longer exists in IAM.")
    assert held(config)[gets_mfa["UserId"]][0] == "COMPLIANT"


def test_a_result_config_holds_wrongly_is_corrected(config, clock, add_user):
    bob = add_user("bob", password=True)
    alice = add_user("alice", password=True, devices=("virtual",))
    sweep(config, clock)
    config.results[bob["UserId"]] = {**config.results[bob["UserId"]], "ComplianceType": "COMPLIANT"}  # tampered
    config.results[alice["UserId"]] = {**config.results[alice["UserId"]], "Annotation": "stale annotation"}
    clock.advance(hours=1)
    assert sweep(config, clock) >= {bob["UserId"], alice["UserId"]}
    assert_config_holds_the_truth(config, clock)
    assert held(config)[bob["UserId"]][0] == "NON_COMPLIANT"


def test_a_result_config_lost_is_sent_again(config, clock, add_user):
    bob = add_user("bob", password=True)
    add_user("alice", password=True, devices=("virtual",))
    sweep(config, clock)
    del config.results[bob["UserId"]]
    clock.advance(hours=1)
    assert bob["UserId"] in sweep(config, clock)
    assert_config_holds_the_truth(config, clock)


@pytest.mark.parametrize(
    ("before", "after", "changed"),
    [
        ({"GracePeriodDays": "0"}, {"GracePeriodDays": "30"}, {"new-password"}),
        # Narrowing the kinds changes every NON_COMPLIANT annotation too ("allowed: fido").
        ({}, {"AllowedMfaTypes": "fido"}, {"virtual-only", "no-mfa", "new-password"}),
        ({}, {"ExemptUsers": "no-mfa"}, {"no-mfa"}),
    ],
    ids=["grace-period", "allowed-types", "exemption"],
)
def test_a_parameter_change_resends_every_affected_result(config, clock, add_user, before, after, changed):
    users = {
        "new-password": add_user("new-password", password=True, password_age_days=3),
        "virtual-only": add_user("virtual-only", password=True, devices=("virtual",)),
        "fido-only": add_user("fido-only", password=True, devices=("fido",)),
        "no-mfa": add_user("no-mfa", password=True),
    }
    sweep(config, clock, before)
    clock.advance(hours=1)
    sent = sweep(config, clock, after) - due(config, clock)
    assert sent == {users[name]["UserId"] for name in changed}
    assert_config_holds_the_truth(config, clock, after)


def test_over_a_reconfirmation_period_every_result_is_sent_again_once(config, clock, add_user):
    users = [add_user(f"user{n}", password=n % 2 == 0) for n in range(12)]
    ids = {u["UserId"] for u in users}
    sweep(config, clock, {"ReconfirmDays": "2"})
    first_recorded = dict(config.recorded_at)
    times_sent = dict.fromkeys(ids, 0)
    for _ in range(2 * 24):  # two days of hourly sweeps
        clock.advance(hours=1)
        for user_id in sweep(config, clock, {"ReconfirmDays": "2"}):
            times_sent[user_id] += 1
    assert set(times_sent.values()) == {1}
    assert all(clock() - config.recorded_at[i] <= timedelta(days=2) for i in ids)
    assert config.recorded_at != first_recorded


def test_a_change_notification_sends_its_evaluation_only_when_it_changes_what_config_holds(
    config, clock, add_user, iam
):
    bob = add_user("bob", password=True)
    sweep(config, clock)
    config.put_calls.clear()
    lambda_handler(change_event(bob), LambdaContext(), clock=clock)
    assert config.sent == []
    iam.delete_login_profile(UserName="bob")
    lambda_handler(change_event(bob), LambdaContext(), clock=clock)
    assert [(e["ComplianceResourceId"], e["ComplianceType"]) for e in config.sent] == [
        (bob["UserId"], "NOT_APPLICABLE")
    ]


def test_nothing_is_sent_when_configs_results_cannot_be_read(config, clock, add_user, monkeypatch):
    from console_mfa.exceptions import RuleError

    add_user("bob", password=True)
    sweep(config, clock)
    clock.advance(hours=1)

    def refuse(params):
        from mfa_audit.emulation.services import EmulatedError

        raise EmulatedError("AccessDeniedException", 400, "not allowed")

    monkeypatch.setitem(config.operations, "GetComplianceDetailsByConfigRule", refuse)
    config.put_calls.clear()
    with pytest.raises(RuleError, match="GetComplianceDetailsByConfigRule"):
        lambda_handler(scheduled_event(), LambdaContext(), clock=clock)
    assert config.put_calls == []


@pytest.fixture
def iam(aws):
    return boto3.client("iam", region_name="us-east-1")


def test_the_result_held_for_one_user_is_read_as_the_sweep_reads_it_ordering_timestamp_included(
    config, clock, add_user
):
    bob = add_user("bob", password=True)
    sweep(config, clock)
    client = boto3.client("config", region_name="us-east-1")
    one = held_result_for(client, RULE_NAME, bob["UserId"])
    assert isinstance(one, HeldResult) and one.ordered is not None
    assert one == held_results(client, RULE_NAME)[bob["UserId"]]
