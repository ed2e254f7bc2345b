"""Read the event AWS Config sends a custom rule, and refuse anything else clearly.

Example::

    invocation = parse_event(event)
    invocation.message_type        # "ScheduledNotification"
    invocation.rule_parameters     # {"GracePeriodDays": "14"}
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .exceptions import InvalidEventError
from .identifiers import ACCOUNT_ID

CHANGE = "ConfigurationItemChangeNotification"
OVERSIZED_CHANGE = "OversizedConfigurationItemChangeNotification"
SCHEDULED = "ScheduledNotification"
MESSAGE_TYPES = (CHANGE, OVERSIZED_CHANGE, SCHEDULED)

_IAM_NAME = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)

# Statuses of an item whose resource still exists and is recorded.
EVALUABLE_STATUSES = ("OK", "ResourceDiscovered")


@dataclass(frozen=True)
class ChangedResource:
    """The part of a configuration item (or its oversized summary) the rule uses."""

    resource_type: str
    resource_id: str
    resource_name: str | None
    status: str
    capture_time: str
    # The user's tags as the item records them; None when it does not (an oversized item's summary).
    tags: tuple[tuple[str, str], ...] | None = None


@dataclass(frozen=True)
class RuleInvocation:
    message_type: str
    rule_parameters: dict[str, Any]
    result_token: str
    config_rule_name: str
    account_id: str
    event_left_scope: bool
    notification_time: str | None
    changed_resource: ChangedResource | None

    @property
    def is_periodic(self) -> bool:
        return self.message_type == SCHEDULED

    @property
    def test_mode(self) -> bool:
        # RDK's local tests use this token; Config then checks but stores nothing.
        return self.result_token == "TESTMODE"  # noqa: S105 - a fixed token, not a secret


def _json_object(event: Mapping[str, Any], key: str, default: str | None = None) -> dict[str, Any]:
    raw = event.get(key, default)
    if not isinstance(raw, str):
        raise InvalidEventError(f"event.{key} must be a JSON string, got {type(raw).__name__}")
    try:
        value = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as error:
        raise InvalidEventError(f"event.{key} is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise InvalidEventError(f"event.{key} must be a JSON object, got {type(value).__name__}")
    return value


def _string(container: Mapping[str, Any], key: str, where: str) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidEventError(f"{where}.{key} is missing or not a non-empty string")
    return value


def _item_tags(item: Mapping[str, Any]) -> tuple[tuple[str, str], ...] | None:
    """The item's ``tags`` (a key-to-value object), else ``configuration.tags`` (IAM's Key/Value list); None if neither.

    A shape this does not know is None too: the rule then reads the tags from IAM.
    """
    tags = item.get("tags")
    if isinstance(tags, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        return tuple(sorted(tags.items()))
    configuration = item.get("configuration")
    listed = configuration.get("tags") if isinstance(configuration, dict) else None
    if isinstance(listed, list) and all(
        isinstance(tag, dict) and isinstance(tag.get("key", tag.get("Key")), str) for tag in listed
    ):
        pairs = [(tag.get("key", tag.get("Key")), tag.get("value", tag.get("Value", ""))) for tag in listed]
        if all(isinstance(value, str) for _, value in pairs):
            return tuple(sorted(pairs))
    return None


def _changed_resource(invoking_event: Mapping[str, Any], message_type: str) -> ChangedResource:
    # The oversized summary carries every field the rule needs, so there is no
    # call to GetResourceConfigHistory (and no permission for it) on that path.
    key = "configurationItemSummary" if message_type == OVERSIZED_CHANGE else "configurationItem"
    item = invoking_event.get(key)
    where = f"invokingEvent.{key}"
    if not isinstance(item, dict):
        raise InvalidEventError(f"{where} is missing or not an object")
    name = item.get("resourceName")
    if name is not None and not (isinstance(name, str) and _IAM_NAME.fullmatch(name)):
        raise InvalidEventError(f"{where}.resourceName is not an IAM user name: {str(name)[:80]!r}")
    resource_id = _string(item, "resourceId", where)
    if len(resource_id) > 768:
        raise InvalidEventError(f"{where}.resourceId is longer than AWS Config accepts")
    return ChangedResource(
        tags=_item_tags(item),
        resource_type=_string(item, "resourceType", where),
        resource_id=resource_id,
        resource_name=name,
        status=_string(item, "configurationItemStatus", where),
        capture_time=_string(item, "configurationItemCaptureTime", where),
    )


def parse_event(event: Any) -> RuleInvocation:
    """Validate a Config rule Lambda event and return what the rule needs from it."""
    if not isinstance(event, Mapping):
        raise InvalidEventError(f"event must be an object, got {type(event).__name__}")
    invoking_event = _json_object(event, "invokingEvent")
    rule_parameters = _json_object(event, "ruleParameters", default="{}")
    message_type = invoking_event.get("messageType")
    if message_type not in MESSAGE_TYPES:
        raise InvalidEventError(f"invokingEvent.messageType {message_type!r} is not one of {', '.join(MESSAGE_TYPES)}")
    left_scope = event.get("eventLeftScope", False)
    if not isinstance(left_scope, bool):
        raise InvalidEventError("event.eventLeftScope must be true or false")
    account_id = _string(event, "accountId", "event")
    if not ACCOUNT_ID.fullmatch(account_id):
        raise InvalidEventError(f"event.accountId {account_id[:40]!r} is not a 12-digit AWS account id")
    return RuleInvocation(
        message_type=message_type,
        rule_parameters=rule_parameters,
        result_token=_string(event, "resultToken", "event"),
        config_rule_name=_string(event, "configRuleName", "event"),
        account_id=account_id,
        event_left_scope=left_scope,
        notification_time=(
            _string(invoking_event, "notificationCreationTime", "invokingEvent") if message_type == SCHEDULED else None
        ),
        changed_resource=None if message_type == SCHEDULED else _changed_resource(invoking_event, message_type),
    )
