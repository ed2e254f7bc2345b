"""Which IAM users had their console password or MFA devices changed since a moment, per CloudTrail.

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

# The IAM calls that change what the rule looks at. Creating or deleting a user
# needs no event: ListUsers is read live, and a new user is not in the report.
CHANGING_EVENTS = ("CreateLoginProfile", "DeleteLoginProfile", "EnableMFADevice", "DeactivateMFADevice")


def _changed_user(event: dict[str, Any]) -> str | None:
    detail = json.loads(event.get("CloudTrailEvent") or "{}")
    user = (detail.get("requestParameters") or {}).get("userName")
    if user:
        return str(user)
    # Without a userName parameter, IAM acts on the calling user itself.
    identity = detail.get("userIdentity") or {}
    if identity.get("type") == "IAMUser" and identity.get("userName"):
        return str(identity["userName"])
    return None


def users_changed_since(cloudtrail: BaseClient, since: datetime) -> set[str] | str:
    """User names with a login-profile or MFA change since ``since``, or why that cannot be told."""
    changed: set[str] = set()
    for event_name in CHANGING_EVENTS:
        events = (
            collect(
                cloudtrail,
                "LookupEvents",
                "Events",
                page_size=50,  # LookupEvents' maximum
                LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": event_name}],
                StartTime=since,
            )
            or []
        )
        for event in events:
            if event.get("EventSource", "iam.amazonaws.com") != "iam.amazonaws.com":
                continue
            user = _changed_user(event)
            if user is None:
                return f"a {event_name} event at {event.get('EventTime')} does not say which user it changed"
            changed.add(user)
    return changed
