"""The re-evaluation coalescer: one StartConfigRulesEvaluation per account per batch, nothing dropped."""

import json
from datetime import datetime, timedelta, timezone

import pytest
from console_mfa.exceptions import AwsCallError, InvalidEventError, MissingPermissionError
from console_mfa.reevaluation import (
    REEVALUATING_EVENTS,
    VISIBILITY_BOUND,
    Outcome,
    Settings,
    coalesce,
    parse_record,
)

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


# Waiting for the event history (LookupEvents) to show each change before starting the run that must see it.

RECEIVED = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def _change(message_id, account_id=HOME):
    return sqs_record(
        message_id, account_id, "EnableMFADevice", "2026-12-01T11:55:00Z", f"event-{message_id}", RECEIVED
    )


def _shown(*event_ids):
    return lambda account_id, changes: set(event_ids)


def test_a_change_the_event_history_does_not_show_yet_is_redelivered_and_not_started():
    config = Config()
    result = coalesce([_change("m1")], config, _shown(), RECEIVED + timedelta(minutes=2))
    assert result.failed_message_ids == ["m1"] and config.calls == []
    assert (result.waiting, result.outcomes) == (1, {HOME: "waiting"})


def test_a_change_the_event_history_shows_is_started_and_let_go():
    config = Config()
    result = coalesce([_change("m1")], config, _shown("event-m1"), RECEIVED + timedelta(minutes=2))
    assert result.failed_message_ids == [] and config.calls == [HOME]
    assert result.started_unseen == 0


def test_the_shown_changes_are_started_while_the_others_of_the_account_wait():
    config = Config()
    result = coalesce([_change("m1"), _change("m2")], config, _shown("event-m1"), RECEIVED)
    assert result.failed_message_ids == ["m2"] and config.calls == [HOME]


def test_past_the_bound_an_unseen_change_is_started_anyway_and_counted():
    config = Config()
    late = RECEIVED + VISIBILITY_BOUND + timedelta(seconds=1)
    result = coalesce([_change("m1")], config, _shown(), late)
    assert result.failed_message_ids == [] and config.calls == [HOME]
    assert result.started_unseen == 1


def test_the_bound_covers_a_15_minute_lag_of_the_event_history_at_a_2_minute_visibility_timeout():
    # Tries come every 2 minutes from the first receipt: one falls after any lag up to 15 minutes, within the bound.
    tries = [RECEIVED + timedelta(minutes=2 * n) for n in range(10)]
    assert any(timedelta(minutes=15) <= t - RECEIVED <= VISIBILITY_BOUND for t in tries)


def test_a_failed_lookup_redelivers_the_accounts_messages():
    def denied(account_id, changes):
        raise AwsCallError("cloudtrail:LookupEvents", "Rate exceeded", "ThrottlingException")

    config = Config()
    result = coalesce([_change("m1")], config, denied, RECEIVED)
    assert result.failed_message_ids == ["m1"] and config.calls == [] and HOME in result.errors


def test_the_first_receipt_is_read_from_the_sqs_attributes():
    change = parse_record(_change("m1"))
    assert change.first_received == RECEIVED and change.event_id == "event-m1"
