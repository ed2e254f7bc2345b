"""The re-evaluation coalescer: one StartConfigRulesEvaluation per account per batch, nothing dropped."""

import json

import pytest
from console_mfa.exceptions import AwsCallError, InvalidEventError, MissingPermissionError
from console_mfa.reevaluation import REEVALUATING_EVENTS, Outcome, Settings, coalesce, parse_record

from mfa_audit.emulation.iam_events import sqs_record

HOME, MEMBER = "111111111111", "222222222222"


class Config:
    """Answers start(account) with the outcomes given per account, in turn, recording every call."""

    def __init__(self, **answers):
        self.answers = {account: list(outcomes) for account, outcomes in answers.items()}
        self.calls = []

    def __call__(self, account_id):
        self.calls.append(account_id)
        answer = self.answers.get(account_id, [Outcome.STARTED]).pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def burst(account_id, count, prefix="m"):
    return [sqs_record(f"{prefix}{account_id}-{n}", account_id, REEVALUATING_EVENTS[n % 8]) for n in range(count)]


def test_a_burst_of_100_changes_in_one_account_starts_one_evaluation():
    config = Config()
    result = coalesce(burst(HOME, 100), config)
    assert config.calls == [HOME]
    assert result.failed_message_ids == []
    assert result.response() == {"batchItemFailures": []}


def test_a_batch_spanning_two_accounts_starts_one_evaluation_in_each():
    config = Config()
    coalesce(burst(HOME, 60) + burst(MEMBER, 40), config)
    assert sorted(config.calls) == [HOME, MEMBER]


def test_an_account_whose_evaluation_is_busy_gets_all_its_messages_back_for_redelivery():
    config = Config(**{MEMBER: [Outcome.BUSY]})
    home, member = burst(HOME, 3), burst(MEMBER, 5)
    result = coalesce(home + member, config)
    assert sorted(result.failed_message_ids) == sorted(r["messageId"] for r in member)
    assert result.outcomes == {HOME: "started", MEMBER: "busy"}


def test_redelivered_messages_succeed_once_config_accepts_so_the_last_change_is_kept_until_then():
    config = Config(**{HOME: [Outcome.BUSY, Outcome.BUSY, Outcome.STARTED]})
    first = burst(HOME, 10, "first")
    returned = coalesce(first, config).failed_message_ids
    # SQS delivers the failed ones again together with the last change of the burst, which came meanwhile.
    last = burst(HOME, 1, "last")
    redelivered = [r for r in first if r["messageId"] in returned] + last
    assert sorted(coalesce(redelivered, config).failed_message_ids) == sorted(returned + [last[0]["messageId"]])
    assert coalesce(redelivered, config).failed_message_ids == []
    assert config.calls == [HOME, HOME, HOME]


@pytest.mark.parametrize(
    "error",
    [
        AwsCallError("config:StartConfigRulesEvaluation", "Throttling", "ThrottlingException"),
        MissingPermissionError("sts:AssumeRole", "AccessDenied"),
    ],
    ids=["throttled", "denied"],
)
def test_an_account_whose_call_fails_is_retried_not_dropped(error):
    config = Config(**{HOME: [error]})
    records = burst(HOME, 4)
    result = coalesce(records, config)
    assert sorted(result.failed_message_ids) == sorted(r["messageId"] for r in records)
    assert type(error).__name__ in result.errors[HOME]


def test_an_account_without_the_rule_is_not_retried_and_is_reported():
    config = Config(**{MEMBER: [Outcome.NO_RULE]})
    result = coalesce(burst(MEMBER, 2), config)
    assert result.failed_message_ids == [] and result.outcomes == {MEMBER: "no_rule"}


def test_an_unreadable_message_is_failed_so_it_reaches_the_dead_letter_queue():
    config = Config()
    bad = {"messageId": "bad-1", "body": "not json"}
    other = dict(sqs_record("bad-2", HOME, "CreateLoginProfile"))
    other["body"] = json.dumps({**json.loads(other["body"]), "source": "aws.s3"})
    result = coalesce([bad, other, *burst(HOME, 2)], config)
    assert result.failed_message_ids == ["bad-1", "bad-2"]
    assert config.calls == [HOME]
    assert "not JSON" in result.errors["bad-1"] and "aws.s3" in result.errors["bad-2"]


def test_a_record_without_a_message_id_fails_the_whole_batch():
    with pytest.raises(InvalidEventError, match="messageId"):
        coalesce([{"body": "{}"}], Config())


@pytest.mark.parametrize("event_name", ["CreateAccessKey", None])
def test_events_the_rule_does_not_watch_are_refused_by_name(event_name):
    record = sqs_record("m-1", HOME, "CreateLoginProfile")
    body = json.loads(record["body"])
    body["detail"]["eventName"] = event_name
    with pytest.raises(InvalidEventError, match="eventName"):
        parse_record({**record, "body": json.dumps(body)})


def test_settings_refuse_a_role_name_iam_would_refuse():
    from console_mfa.exceptions import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="MEMBER_ROLE_NAME"):
        Settings.from_environment({"MEMBER_ROLE_NAME": "no spaces allowed"})
    assert Settings.from_environment({}) == Settings("IAM_USER_CONSOLE_MFA", None)
