"""An on-demand re-evaluation (StartConfigRulesEvaluation) costs what changed, under each reading of what Config sends.

AWS does not document what a rule with periodic and change triggers receives when started on demand: one
ScheduledNotification, one change notification per user, or both. Each reading is played here after a sweep
has left Config holding every result, with one user changed since.
"""

from datetime import datetime, timedelta, timezone

import pytest
from console_mfa.what_to_send import latest_reconfirmation_moment
from IAM_USER_CONSOLE_MFA import lambda_handler

from mfa_audit.emulation.events import LambdaContext, change_event, scheduled_event
from mfa_audit.emulation.services import ApiCallCounter

READINGS = ("one scheduled notification", "a change notification per user", "both")


class Clock:
    def __init__(self):
        self.now = datetime.now(timezone.utc)

    def __call__(self):
        return self.now


@pytest.fixture
def account(config, cloudtrail, add_user, monkeypatch):
    """Ten users set up an hour before a sweep that Config recorded, and an hour later."""
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    clock = Clock()
    config.clock = clock
    cloudtrail.clock = clock
    users = [add_user(f"user{n}", password=n % 2 == 0, devices=("fido",) if n % 4 == 0 else ()) for n in range(10)]
    # Start where no user's re-confirmation moment falls within the hour played here, so that what is sent
    # is what changed and never a re-confirmation that happens to fall due (1 in 70 runs otherwise).
    while any(
        latest_reconfirmation_moment(user["UserId"], clock.now + timedelta(hours=1), 30) > clock.now for user in users
    ):
        clock.now += timedelta(hours=1)
    # Older than the carry-forward's margin: a user changed just before its recording is checked (and sent) again.
    cloudtrail.age_history(timedelta(hours=1))
    lambda_handler(scheduled_event(), LambdaContext(), clock=clock)
    clock.now += timedelta(hours=1)
    config.put_calls.clear()
    return users, clock


def reevaluate(reading, users, clock):
    """What Config invokes the rule with for one StartConfigRulesEvaluation, under ``reading``."""
    if reading in ("one scheduled notification", "both"):
        lambda_handler(scheduled_event(), LambdaContext(), clock=clock)
    if reading in ("a change notification per user", "both"):
        for user in users:
            lambda_handler(change_event(user), LambdaContext(), clock=clock)


@pytest.mark.parametrize("reading", READINGS)
def test_a_reevaluation_with_nothing_changed_sends_nothing(config, account, reading):
    users, clock = account
    reevaluate(reading, users, clock)
    assert config.sent == []


@pytest.mark.parametrize("reading", READINGS)
def test_a_reevaluation_after_one_change_sends_that_users_result_and_nothing_else(config, account, iam, reading):
    users, clock = account
    iam.create_login_profile(UserName="user1", Password="Emulated-Passw0rd!")  # no MFA: NON_COMPLIANT
    reevaluate(reading, users, clock)
    sent = {(e["ComplianceResourceId"], e["ComplianceType"]) for e in config.sent}
    assert sent == {(users[1]["UserId"], "NON_COMPLIANT")}
    assert config.results[users[1]["UserId"]]["ComplianceType"] == "NON_COMPLIANT"


def test_per_user_notifications_cost_at_most_three_iam_calls_and_one_config_read_per_user(config, account):
    users, clock = account
    with ApiCallCounter() as counter:
        reevaluate("a change notification per user", users, clock)
    iam_calls = counter.of_service("iam")
    # GetUser and GetLoginProfile for everyone, ListMFADevices for those with a password: the documented cost.
    assert iam_calls == len(users) * 2 + sum(1 for n in range(len(users)) if n % 2 == 0)
    assert counter.calls["config:GetComplianceDetailsByResource"] == len(users)
    assert config.sent == []


def test_a_change_notification_for_a_user_config_holds_nothing_for_is_sent(config, account, add_user):
    users, clock = account
    newcomer = add_user("newcomer", password=True, devices=("virtual",))
    lambda_handler(change_event(newcomer), LambdaContext(), clock=clock)
    assert [(e["ComplianceResourceId"], e["ComplianceType"]) for e in config.sent] == [
        (newcomer["UserId"], "COMPLIANT")
    ]


def test_a_change_notification_resends_an_unchanged_result_that_is_due_for_reconfirmation(config, account):
    users, clock = account
    clock.now += timedelta(days=31)  # past every user's re-confirmation moment (ReconfirmDays 30)
    lambda_handler(change_event(users[0]), LambdaContext(), clock=clock)
    assert [e["ComplianceResourceId"] for e in config.sent] == [users[0]["UserId"]]
