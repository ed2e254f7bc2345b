"""Which IAM user names may no longer have the facts last read for them, since a moment, per CloudTrail.

A name counts as changed when its console password or MFA devices changed, or when the user
holding it was deleted or renamed: facts read for that name (a report row, a held result) may
then describe a user that no longer holds it.

Which calls count (``CHANGING_EVENTS``), and why the list is complete for what the verdict reads
(whether a login profile exists and its CreateDate, and the kinds of the user's MFA devices):

* a login profile appears only by ``CreateLoginProfile`` (the console's "enable console access"
  and its new-user wizard call it too) and goes only by ``DeleteLoginProfile``;
  ``UpdateLoginProfile`` and ``ChangePassword`` change the password, which IAM does not document
  as moving CreateDate: they count anyway, at one lookup each per search;
* a device is assigned only by ``EnableMFADevice`` (virtual, hardware, FIDO security keys and
  passkeys alike) and unassigned only by ``DeactivateMFADevice``. ``DeleteVirtualMFADevice``
  needs no entry: IAM refuses to delete an assigned device (DeleteConflict), so it never changes
  what a user has; ``ResyncMFADevice`` and ``CreateVirtualMFADevice`` assign nothing;
* ``DeleteUser`` frees a name and ``UpdateUser`` renames (old and new name both count) or moves
  a user to another path (its ARN, which ExemptUsers may name). ``CreateUser`` needs no entry: a
  new user has a new UserId, for which nothing is held.
* ``TagUser`` and ``UntagUser`` set and remove the exemption tag (``ExemptionTag``). Every tag
  change counts, not only the exemption tag's: the event names its keys, but which key was the
  exemption tag when a held result was recorded is not known here, and tags change seldom.

IAM Identity Center users are not IAM users and never reach this rule.

Example::

    changed = users_changed_since(clients.cloudtrail_for_iam("aws"), report.generated)
    latest = user_changes_since(cloudtrail, since, max_events=2000)   # {user name (casefolded): last change}
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from botocore.client import BaseClient

from .aws import call
from .exceptions import AwsCallError, ChangeHistoryError, MissingPermissionError

CHANGING_EVENTS = (
    "CreateLoginProfile",
    "UpdateLoginProfile",
    "DeleteLoginProfile",
    "ChangePassword",
    "EnableMFADevice",
    "DeactivateMFADevice",
    "DeleteUser",
    "UpdateUser",
    "TagUser",
    "UntagUser",
)
# LookupEvents' largest page.
LOOKUP_PAGE = 50


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


def user_changes_since(cloudtrail: BaseClient, since: datetime, max_events: int | None = None) -> dict[str, datetime]:
    """The latest change to each user name since ``since``, by casefolded name (IAM's names are case-blind).

    One search per event name, 50 events a page, so the cost grows with the changes, not the users.
    Raises :class:`ChangeHistoryError` when an event does not say which user it changed, when more than
    ``max_events`` are found, or when CloudTrail cannot be read (denied, throttled past retries).
    """
    latest: dict[str, datetime] = {}
    seen = 0
    try:
        for event_name in CHANGING_EVENTS:
            token: dict[str, str] = {}
            while True:
                page = call(
                    cloudtrail,
                    "LookupEvents",
                    LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": event_name}],
                    StartTime=since,
                    MaxResults=LOOKUP_PAGE,
                    **token,
                )
                for event in page.get("Events", []):
                    if event.get("EventSource", "iam.amazonaws.com") != "iam.amazonaws.com":
                        continue
                    seen += 1
                    if max_events is not None and seen > max_events:
                        raise ChangeHistoryError(
                            f"more than {max_events} IAM changes since {since:%Y-%m-%d %H:%M} UTC in CloudTrail"
                        )
                    users = _changed_users(event)
                    if not users:
                        raise ChangeHistoryError(
                            f"a {event_name} event at {event.get('EventTime')} does not say which user it changed"
                        )
                    at = event["EventTime"]
                    for name in users:
                        key = name.casefold()
                        if key not in latest or latest[key] < at:
                            latest[key] = at
                if not page.get("NextToken"):
                    break
                token = {"NextToken": page["NextToken"]}
    except (AwsCallError, MissingPermissionError) as error:
        raise ChangeHistoryError(f"CloudTrail LookupEvents could not be read: {error}") from error
    return latest


def users_changed_since(cloudtrail: BaseClient, since: datetime) -> set[str]:
    """User names (casefolded) changed, deleted or renamed (old and new name) since ``since``.

    Raises :class:`ChangeHistoryError` as :func:`user_changes_since` does.
    """
    return set(user_changes_since(cloudtrail, since))
