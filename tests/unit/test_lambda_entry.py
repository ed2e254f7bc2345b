"""The one wrapper of every Lambda entry point: its log line, its error handling, its counts, its log guard."""

import json
import logging
from collections import Counter

import pytest
from console_mfa import RULE_NAME
from console_mfa.exceptions import InvalidEventError, SweepIncompleteError
from console_mfa.lambda_entry import Result, is_lambda_entry, lambda_entry
from console_mfa.version import rule_version

LOGGER = "console_mfa.test_entry"


class Clients:
    def __init__(self, **calls):
        self.calls = Counter(calls)


def lines(caplog):
    return [(r.levelno, json.loads(r.getMessage())) for r in caplog.records if r.name == LOGGER]


@lambda_entry("example", logging.getLogger(LOGGER))
def example(event, context, run, *, fail=None):
    run.keep(account="123456789012")
    run.count(Clients(**{"iam:ListUsers": 2}))
    run.count(Clients(**{"iam:ListUsers": 1, "sts:AssumeRole": 1}))
    run.count(Clients(**{"ssm:GetAutomationExecution": 1}), "memberApiCalls")
    run.tally().update({"config:StartConfigRulesEvaluation": 1})
    if fail == "raise":
        raise InvalidEventError("event.action 'x' is not 'enforce' or 'notify'")
    if fail == "partial":
        return Result("error", None, {"usersChecked": 3}, error=SweepIncompleteError("Checked 3 of 5 users"))
    return Result("done", {"answer": 42}, {"users": 5}, level=logging.WARNING)


def test_the_body_returns_what_lambda_gets_and_the_line_carries_header_kept_fields_result_and_counts(caplog):
    assert example({}, None) == {"answer": 42}
    ((level, line),) = lines(caplog)
    assert level == logging.WARNING
    assert {k: line[k] for k in ("rule", "function", "version", "account", "outcome", "users")} == {
        "rule": RULE_NAME,
        "function": "example",
        "version": rule_version(),
        "account": "123456789012",
        "outcome": "done",
        "users": 5,
    }
    assert line["apiCalls"] == {"config:StartConfigRulesEvaluation": 1, "iam:ListUsers": 3, "sts:AssumeRole": 1}
    assert line["memberApiCalls"] == {"ssm:GetAutomationExecution": 1}
    assert isinstance(line["durationMs"], int)


def test_an_exception_is_logged_as_one_error_line_with_the_kept_fields_and_raised_again(caplog):
    with pytest.raises(InvalidEventError):
        example({}, None, fail="raise")
    ((level, line),) = lines(caplog)
    assert level == logging.ERROR and line["outcome"] == "error" and line["errorType"] == "InvalidEventError"
    assert line["account"] == "123456789012" and line["apiCalls"]["iam:ListUsers"] == 3


def test_a_result_that_must_fail_is_logged_with_what_it_did_then_its_error_raised(caplog):
    with pytest.raises(SweepIncompleteError, match="Checked 3 of 5 users"):
        example({}, None, fail="partial")
    ((level, line),) = lines(caplog)
    assert level == logging.ERROR and (line["outcome"], line["errorType"]) == ("error", "SweepIncompleteError")
    assert line["usersChecked"] == 3 and line["error"] == "Checked 3 of 5 users"


def test_each_invocation_puts_the_sdk_loggers_and_their_children_back_to_warning():
    botocore, endpoint = logging.getLogger("botocore"), logging.getLogger("botocore.endpoint")
    before = botocore.level, endpoint.level
    try:
        botocore.setLevel(logging.DEBUG)
        endpoint.setLevel(logging.DEBUG)
        example({}, None)
        assert not botocore.isEnabledFor(logging.INFO) and not endpoint.isEnabledFor(logging.INFO)
        assert logging.getLogger("urllib3.connectionpool").getEffectiveLevel() >= logging.WARNING
    finally:
        botocore.setLevel(before[0])
        endpoint.setLevel(before[1])


def test_a_plain_function_is_not_an_entry_point():
    assert is_lambda_entry(example) and not is_lambda_entry(lambda event, context: None)
