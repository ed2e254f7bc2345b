"""Every AWS operation the rule calls, under every fault: it heals, falls back, or fails loudly.

The operations come from a recorded run of each code path, not from a list kept by hand.
The matrix of outcomes is printed at the end of the test session; docs/development.md shows it, and a test\nholds the two together.
"""

from datetime import timedelta
from pathlib import Path

import boto3
import pytest
from console_mfa.exceptions import RuleError
from IAM_USER_CONSOLE_MFA import lambda_handler

from mfa_audit.emulation.account import SeedUser, create_user
from mfa_audit.emulation.events import RULE_NAME, LambdaContext, change_event, scheduled_event
from mfa_audit.emulation.services import ApiCallCounter, EmulatedCloudTrail, EmulatedConfig

from .faults import inject

ROOT = Path(__file__).resolve().parents[2]
MEMBER_ACCOUNT = "222222222222"
USERS = (
    SeedUser("alice", True, ("virtual",)),
    SeedUser("bob", True),
    SeedUser("carol"),
    SeedUser("dave", True, ("fido",)),
)
VICTIM = "dave"  # the user "deleted in the middle of a sweep" for NoSuchEntity
BULK_SOURCES = {
    "iam:GenerateCredentialReport",
    "iam:GetCredentialReport",
    "iam:ListVirtualMFADevices",
    "cloudtrail:LookupEvents",
}
PER_USER = {"iam:GetLoginProfile", "iam:ListMFADevices", "iam:GetUser"}

# column -> (fault, how many sends meet it)
COLUMNS = {
    "throttled, clears": ("throttling", 2),
    "throttled, never clears": ("throttling", 1000),
    "AccessDenied": ("access_denied", 1000),
    "5xx, clears": ("server_error", 2),
    "connection error, clears": ("connection_error", 2),
    "read timeout, never clears": ("read_timeout", 1000),
    "NoSuchEntity (user deleted)": ("no_such_entity", 1000),
}
MATRIX: dict[str, dict[str, str]] = {}


def _iam_for(account):
    if account == "123456789012":
        return boto3.client("iam", region_name="us-east-1")
    credentials = boto3.client("sts", region_name="us-east-1").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/setup", RoleSessionName="setup"
    )["Credentials"]
    return boto3.client(
        "iam",
        region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def _run(scenario, monkeypatch, fault=None):
    """Build the account, run the scenario (with ``fault`` injected), return (outcome, verdicts by user name)."""
    from moto import mock_aws

    account = MEMBER_ACCOUNT if scenario == "cross-account" else "123456789012"
    monkeypatch.setenv("SWEEP_STRATEGY", "bulk" if scenario == "periodic-bulk" else "live")
    with mock_aws(), EmulatedCloudTrail(account) as cloudtrail, EmulatedConfig(RULE_NAME) as config:
        iam = _iam_for(account)
        users = {seed.name: create_user(iam, seed) for seed in USERS}
        cloudtrail.age_history(timedelta(days=1))
        names = {user["UserId"]: name for name, user in users.items()}
        if scenario == "change":
            events = [change_event(users[name]) for name in users]
        elif scenario == "cross-account":
            events = [scheduled_event({"ExecutionRoleName": "mfa-rule-reader"}, account_id=MEMBER_ACCOUNT)]
        else:
            events = [scheduled_event()]
        with ApiCallCounter() as counter:
            try:
                if fault is None:
                    for event in events:
                        lambda_handler(event, LambdaContext())
                else:
                    with fault():
                        for event in events:
                            lambda_handler(event, LambdaContext())
                outcome = "ok"
            except RuleError as error:
                outcome = f"{type(error).__name__}: {error}"
        verdicts = {
            names.get(e["ComplianceResourceId"], e["ComplianceResourceId"]): e["ComplianceType"] for e in config.sent
        }
    return outcome, verdicts, set(counter.calls)


SCENARIOS = ("change", "periodic-live", "periodic-bulk", "cross-account")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """Each scenario's fault-free verdicts and the actions it calls."""
    monkeypatch = pytest.MonkeyPatch()
    for name, value in {
        "AWS_ACCESS_KEY_ID": "AKIATESTKEYFORMOTO01",
        "AWS_SECRET_ACCESS_KEY": "test-secret-key-never-logged",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_RETRY_MODE": "standard",
        "AWS_MAX_ATTEMPTS": "3",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    baseline = {scenario: _run(scenario, monkeypatch) for scenario in SCENARIOS}
    yield baseline, monkeypatch
    monkeypatch.undo()


def _text(body):
    return body.decode() if isinstance(body, bytes) else (body or "")


def _expected(action, column):
    fault, times = COLUMNS[column]
    if fault == "no_such_entity":
        return f"{VICTIM} NOT_APPLICABLE, sweep goes on" if action in PER_USER else None
    if times < 1000:
        return "retried, right verdicts"
    return "falls back to live checks" if action in BULK_SOURCES else "fails, names the action"


def _actions(baseline):
    """Each operation the fault-free runs called, with the first scenario that calls it."""
    actions = {}
    for scenario, (outcome, _, called) in baseline.items():
        assert outcome == "ok", f"fault-free {scenario} failed: {outcome}"
        for action in sorted(called):
            actions.setdefault(action, scenario)
    assert len(actions) >= 10, actions
    return actions


@pytest.mark.parametrize("column", list(COLUMNS))
def test_fault_matrix(recorded, column):
    baseline, monkeypatch = recorded
    actions = _actions(baseline)
    fault, times = COLUMNS[column]
    problems = []
    for action, scenario in sorted(actions.items()):
        expected = _expected(action, column)
        if expected is None:
            MATRIX.setdefault(action, {})[column] = "-"
            continue
        victim_only = (
            (lambda request: VICTIM in _text(request.body)) if fault == "no_such_entity" else (lambda request: True)
        )
        outcome, verdicts, _ = _run(scenario, monkeypatch, lambda: inject(action, fault, times, victim_only))
        right = baseline[scenario][1]
        if expected == "fails, names the action":
            got = expected if outcome != "ok" and action in outcome else f"{outcome} / {verdicts}"
        elif expected.startswith(VICTIM):
            wanted = {**right, VICTIM: "NOT_APPLICABLE"}
            got = expected if outcome == "ok" and verdicts == wanted else f"{outcome} / {verdicts}"
        else:
            got = expected if outcome == "ok" and verdicts == right else f"{outcome} / {verdicts}"
        MATRIX.setdefault(action, {})[column] = got if got == expected else "UNEXPECTED"
        if got != expected:
            problems.append(f"{action} under {column}: expected {expected!r}, got {got!r}")
    assert not problems, "\n".join(problems)


def matrix_table(cells):
    columns = list(COLUMNS)
    lines = ["| operation | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for action in sorted(cells):
        lines.append(f"| {action} | " + " | ".join(cells[action].get(c, "?") for c in columns) + " |")
    return "\n".join(lines)


def render_matrix():
    """The matrix as the columns that ran found it (printed at the end of the session)."""
    return matrix_table(MATRIX)


def test_the_development_guide_shows_the_matrix_the_columns_print_when_they_pass(recorded):
    # Each column fails unless every cell is what _expected says, so a passing run prints this table.
    baseline, _ = recorded
    passing = {action: {c: _expected(action, c) or "-" for c in COLUMNS} for action in _actions(baseline)}
    guide = (ROOT / "docs" / "development.md").read_text()
    shown = guide.split("<!-- fault-matrix: start -->", 1)[1].split("<!-- fault-matrix: end -->", 1)[0]
    assert shown.strip() == matrix_table(passing)
