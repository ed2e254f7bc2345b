"""The rule only reads IAM, logs one clean JSON line per invocation, and repeats itself exactly."""

import contextlib
import json
import logging
from datetime import timedelta

from console_mfa.exceptions import RuleError
from IAM_USER_CONSOLE_MFA import lambda_handler

from mfa_audit.emulation.events import scheduled_event

from ..conftest import FAKE_CREDENTIALS
from .recorded_run import record_every_path

# The IAM calls the README documents; any other IAM call fails this test.
DOCUMENTED_IAM_READS = {
    "iam:ListUsers",
    "iam:GetUser",
    "iam:GetLoginProfile",
    "iam:ListMFADevices",
    "iam:ListUserTags",
    "iam:ListVirtualMFADevices",
    "iam:GenerateCredentialReport",
    "iam:GetCredentialReport",
}


def test_the_rule_calls_no_iam_operation_but_the_documented_reads(cloudtrail, monkeypatch):
    called = {action for action in record_every_path(cloudtrail, monkeypatch) if action.startswith("iam:")}
    assert called <= DOCUMENTED_IAM_READS, called - DOCUMENTED_IAM_READS
    # GenerateCredentialReport is IAM's only non-Get/List call here: it builds a report, it changes no identity.
    assert all(action.split(":")[1].startswith(("Get", "List", "GenerateCredentialReport")) for action in called)


def _log_lines(caplog):
    return [json.loads(record.getMessage()) for record in caplog.records if record.name == "console_mfa"]


def test_one_json_log_line_per_invocation_with_counts_calls_and_duration(config, add_user, caplog):
    caplog.set_level(logging.INFO, logger="console_mfa")
    add_user("bob", password=True)
    add_user("alice", password=True, devices=("fido",))
    lambda_handler(scheduled_event(), None)
    (line,) = _log_lines(caplog)
    assert line["messageType"] == "ScheduledNotification"
    assert line["account"] == "123456789012"
    assert line["compliance"] == {"COMPLIANT": 1, "NON_COMPLIANT": 1}
    assert line["apiCalls"]["iam:ListUsers"] == 1 and line["apiCalls"]["config:PutEvaluations"] == 1
    assert isinstance(line["durationMs"], int)
    assert line["outcome"] == "reported"


def test_a_failed_invocation_logs_its_error_line(config, caplog):
    caplog.set_level(logging.INFO, logger="console_mfa")
    with contextlib.suppress(RuleError):  # the log line is what is tested here
        lambda_handler(scheduled_event({"GracePeriodDays": "-1"}), None)
    (line,) = _log_lines(caplog)
    assert line["outcome"] == "error" and line["errorType"] == "InvalidParameterError"


def test_no_credential_ever_reaches_the_logs(config, add_user, caplog, capsys, cloudtrail, monkeypatch):
    caplog.set_level(logging.DEBUG)
    add_user("bob", password=True)
    record_every_path(cloudtrail, monkeypatch)
    with contextlib.suppress(RuleError):  # the error path must not leak either
        lambda_handler(scheduled_event({"AllowedMfaTypes": "sms"}), None)
    captured = caplog.text + capsys.readouterr().out + capsys.readouterr().err
    for secret in (
        FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
        "Emulated-Passw0rd!",
    ):
        assert secret not in captured


def test_two_sweeps_of_an_unchanged_account_decide_the_same_and_the_second_sends_nothing(config, cloudtrail, add_user):
    for name, password, devices in (("a", True, ()), ("b", True, ("fido",)), ("c", False, ()), ("d", True, ("sms",))):
        add_user(name, password=password, devices=devices)
    # Set up an hour ago: a user changed within the carry-forward's margin before a sweep is checked (and sent) again.
    cloudtrail.age_history(timedelta(hours=1))
    event = scheduled_event({"GracePeriodDays": "30"})
    first = lambda_handler(event, None)
    held = dict(config.results)
    config.put_calls.clear()
    second = lambda_handler(event, None)
    # Same verdicts and annotations decided; Config already holds them, so nothing is sent (one empty call).
    assert second["compliance"] == first["compliance"] and second["evaluations"] == first["evaluations"] == 4
    assert (first["sent"], second["sent"]) == (4, 0)
    assert config.put_calls == [[]]
    assert config.results == held
