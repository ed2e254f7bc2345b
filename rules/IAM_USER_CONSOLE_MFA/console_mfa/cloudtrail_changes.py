"""Which IAM user names may no longer match their credential-report row since a moment, per CloudTrail.

A name counts as changed when its console password or MFA devices changed, or when the user
holding it was deleted or renamed: the report's row for that name (same ARN, maybe the same
creation second) may then describe a user that no longer holds it.

Example::

    changed = users_changed_since(clients.cloudtrail_for_iam("aws"), report.generated)
    if isinstance(changed, str):
        print("cannot tell:", changed)
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from botocore.client import BaseClient

from .aws import collect

# The IAM calls after which a user name's report row may be wrong. CreateUser needs no
# event: a new name is not in the report, and a name that existed before was freed by a
# DeleteUser or UpdateUser, which are here. UpdateUser counts for the old and the new name.
CHANGING_EVENTS = (
    "CreateLoginProfile",
    "DeleteLoginProfile",
    "EnableMFADevice",
    "DeactivateMFADevice",
    "DeleteUser",
    "UpdateUser",
)


def _changed_users(event: dict[str, Any]) -> set[str]:
    """The user names an event changed; empty when it does not say."""
    detail = json.loads(event.get("CloudTrailEvent") or "{}")
    parameters = detail.get("requestParameters") or {}
    names = {str(parameters[key]) for key in ("userName", "newUserName") if parameters.get(key)}
    if names:
        return names
    # Without a userName parameter, IAM acts on the calling user itself.
    identity = detail.get("userIdentity") or {}
    if identity.get("type") == "IAMUser" and identity.get("userName"):
        return {str(identity["userName"])}
    return set()


def users_changed_since(cloudtrail: BaseClient, since: datetime) -> set[str] | str:
    """User names changed, deleted or renamed (old and new name) since ``since``, or why that cannot be told."""
    changed: set[str] = set()
    for event_name in CHANGING_EVENTS:
        events = collect(
            cloudtrail,
            "LookupEvents",
            "Events",
            page_size=50,  # LookupEvents' maximum
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": event_name}],
            StartTime=since,
        )
        for event in events:
            if event.get("EventSource", "iam.amazonaws.com") != "iam.amazonaws.com":
                continue
            users = _changed_users(event)
            if not users:
                return f"a {event_name} event at {event.get('EventTime')} does not say which user it changed"
            changed |= users
    return changed
