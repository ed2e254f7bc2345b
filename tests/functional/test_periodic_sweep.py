"""The scheduled sweep through the real handler, against an emulated account."""

import pytest
from IAM_USER_CONSOLE_MFA import lambda_handler

from mfa_audit.emulation.events import scheduled_event

PARAMETERS = {"GracePeriodDays": "7", "ExemptUsers": "break-glass"}

# (user, console password, devices, password age in days, expected result)
ACCOUNT = [
    ("no-password", False, (), 400, "NOT_APPLICABLE"),
    ("no-password-with-mfa", False, ("virtual",), 400, "NOT_APPLICABLE"),
    ("virtual-mfa", True, ("virtual",), 400, "COMPLIANT"),
    ("hardware-mfa", True, ("hardware",), 400, "COMPLIANT"),
    ("fido-key", True, ("fido",), 400, "COMPLIANT"),
    ("sms-only", True, ("sms",), 400, "NON_COMPLIANT"),
    ("no-mfa", True, (), 400, "NON_COMPLIANT"),
    (
        "eight-devices",
        True,
        ("sms", "fido", "fido", "hardware", "hardware", "virtual", "virtual", "fido"),
        400,
        "COMPLIANT",
    ),
    ("new-in-grace", True, (), 2, "COMPLIANT"),
    ("grace-over", True, (), 30, "NON_COMPLIANT"),
    ("break-glass", True, (), 400, "NOT_APPLICABLE"),
]


@pytest.fixture
def account(add_user):
    return {name: add_user(name, password, devices, age) for name, password, devices, age, _ in ACCOUNT}


@pytest.mark.parametrize("name, expected", [(row[0], row[4]) for row in ACCOUNT])
def test_sweep_reports_user_by_user_id(config, account, name, expected):
    lambda_handler(scheduled_event(PARAMETERS), None)
    sent = {evaluation["ComplianceResourceId"]: evaluation for evaluation in config.sent}
    evaluation = sent[account[name]["UserId"]]
    assert evaluation["ComplianceType"] == expected
    assert evaluation["ComplianceResourceType"] == "AWS::IAM::User"
    assert len(evaluation["Annotation"]) <= 256


def test_sweep_reports_every_user_once_and_no_user_names(config, account):
    lambda_handler(scheduled_event(PARAMETERS), None)
    ids = [evaluation["ComplianceResourceId"] for evaluation in config.sent]
    assert sorted(ids) == sorted(user["UserId"] for user in account.values())
    assert not set(ids) & set(account)


def test_sweep_clears_results_of_deleted_users(config, add_user, iam):
    add_user("stays", password=True, devices=("fido",))
    gone = add_user("leaves", password=True)
    lambda_handler(scheduled_event(), None)
    assert config.results[gone["UserId"]]["ComplianceType"] == "NON_COMPLIANT"

    iam.delete_login_profile(UserName="leaves")
    iam.delete_user(UserName="leaves")
    lambda_handler(scheduled_event(), None)
    assert config.results[gone["UserId"]]["ComplianceType"] == "NOT_APPLICABLE"
    assert "no longer exists" in config.results[gone["UserId"]]["Annotation"]


def test_sweep_of_empty_account_still_tells_config_it_finished(config):
    lambda_handler(scheduled_event(), None)
    assert config.put_calls == [[]]


def test_testmode_token_sends_but_config_stores_nothing(config, add_user):
    add_user("bob", password=True)
    event = scheduled_event()
    event["resultToken"] = "TESTMODE"
    lambda_handler(event, None)
    assert len(config.sent) == 1
    assert config.results == {}


# Small: 300 users, three full batches. Benchmark-sized (make bench): 3,000 users, thirty.
@pytest.mark.parametrize("users", [300, pytest.param(3000, marks=pytest.mark.bench)])
def test_a_large_sweep_sends_batches_of_at_most_100(config, iam, users):
    for number in range(users):
        iam.create_user(UserName=f"user{number:04d}")
        if number % 3 == 0:
            iam.create_login_profile(UserName=f"user{number:04d}", Password="Emulated-Passw0rd!")
    summary = lambda_handler(scheduled_event(), None)
    assert summary["evaluations"] == users
    assert summary["compliance"] == {"NON_COMPLIANT": users // 3, "NOT_APPLICABLE": users - users // 3}
    assert max(len(batch) for batch in config.put_calls) == 100
    assert len(config.put_calls) == users // 100
    assert len({e["ComplianceResourceId"] for e in config.sent}) == users


class _LambdaContext:
    def __init__(self, remaining_ms):
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self):
        return self.remaining_ms


def test_sweep_with_no_time_left_to_check_anyone_fails_and_reports_nothing(config, add_user):
    from console_mfa.exceptions import SweepIncompleteError

    for name in ("a", "b", "c"):
        add_user(name, password=True)
    # 60 s are kept back for reporting, so 60.0 s left means no time at all for checking users.
    with pytest.raises(SweepIncompleteError, match="before any user was checked; nothing was reported"):
        lambda_handler(scheduled_event(), _LambdaContext(remaining_ms=60_000))
    assert config.put_calls == []


def test_sweep_with_time_to_spare_uses_the_lambda_context(config, add_user):
    add_user("a", password=True)
    lambda_handler(scheduled_event(), _LambdaContext(remaining_ms=900_000))
    assert len(config.sent) == 1
