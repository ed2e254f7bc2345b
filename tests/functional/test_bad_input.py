"""Bad events and bad rule parameters fail the invocation clearly, and nothing is reported."""

import json

import pytest
from console_mfa.exceptions import InvalidEventError, InvalidParameterError
from IAM_USER_CONSOLE_MFA import lambda_handler

from mfa_audit.emulation.events import change_event, scheduled_event


@pytest.mark.parametrize(
    "parameters, name",
    [
        ({"GracePeriodDays": "-3"}, "GracePeriodDays"),
        ({"AllowedMfaTypes": "sms"}, "AllowedMfaTypes"),
        ({"ExemptUsers": "alice,"}, "ExemptUsers"),
        ({"Exempt": "alice"}, "Exempt"),
    ],
)
def test_bad_parameter_fails_before_anything_is_reported(config, add_user, parameters, name):
    add_user("bob", password=True)
    with pytest.raises(InvalidParameterError, match=name):
        lambda_handler(scheduled_event(parameters), None)
    assert config.put_calls == []


def _scheduled_with(**changes):
    event = scheduled_event()
    event.update(changes)
    return event


@pytest.mark.parametrize(
    "event, message",
    [
        (None, "event must be an object"),
        (_scheduled_with(invokingEvent="{not json"), "invokingEvent is not valid JSON"),
        (_scheduled_with(invokingEvent=json.dumps({"messageType": "SomethingElse"})), "messageType"),
        (_scheduled_with(invokingEvent=json.dumps(["list"])), "must be a JSON object"),
        (_scheduled_with(ruleParameters="{bad"), "ruleParameters is not valid JSON"),
        (_scheduled_with(ruleParameters=json.dumps({"GracePeriodDays": 3})), "must be a string"),
        (_scheduled_with(resultToken=None), "resultToken"),
        (_scheduled_with(eventLeftScope="yes"), "eventLeftScope"),
        (_scheduled_with(executionRoleArn=None), "executionRoleArn"),
    ],
    ids=[
        "not-a-dict",
        "bad-json",
        "unknown-type",
        "not-an-object",
        "bad-parameters-json",
        "non-string-parameter",
        "no-result-token",
        "left-scope-not-bool",
        "no-execution-role",
    ],
)
def test_malformed_event_is_refused_with_a_clear_error(config, event, message):
    with pytest.raises((InvalidEventError, InvalidParameterError), match=message):
        lambda_handler(event, None)
    assert config.put_calls == []


def test_change_event_without_configuration_item_is_refused(config, add_user):
    event = change_event(add_user("bob"))
    invoking = json.loads(event["invokingEvent"])
    del invoking["configurationItem"]
    event["invokingEvent"] = json.dumps(invoking)
    with pytest.raises(InvalidEventError, match="configurationItem is missing"):
        lambda_handler(event, None)
