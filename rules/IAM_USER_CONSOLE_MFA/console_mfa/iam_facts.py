"""Read IAM: users, login profiles, MFA devices, tags, the credential report. No decisions here.

Example::

    clients = AwsClients.from_session(boto3.Session(), "us-east-1")
    for user in list_users(clients.iam):
        print(live_user_facts(clients.iam, user["UserName"], user["UserId"], user["Arn"]))
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from botocore.client import BaseClient

from .aws import call, call_if_exists, collect, collect_if_exists
from .credential_report import ReportRow, parse_credential_report
from .exceptions import AwsCallError, CredentialReportError
from .facts import MfaDevice, UserFacts
from .policy import Policy
from .verdict import needs_tags

# How long a sweep waits for IAM to generate a credential report before it
# gives up on the report and checks every user live instead.
REPORT_WAIT_SECONDS = 60.0
REPORT_POLL_SECONDS = 2.0
# IAM's list calls return 100 items unless asked for more, up to this.
IAM_MAX_PAGE = 1000


@dataclass(frozen=True)
class MissingUser:
    """A user that was listed (or named by Config) but that IAM no longer has."""

    user_id: str
    user_name: str
    why: str


@dataclass(frozen=True)
class CredentialReport:
    generated: datetime
    rows: tuple[ReportRow, ...]


def login_profile_created(iam: BaseClient, user_name: str) -> tuple[bool, Any]:
    """``(True, CreateDate)`` when the user has a console password, else ``(False, None)``."""
    response = call_if_exists(iam, "GetLoginProfile", UserName=user_name)
    if response is None:
        return False, None
    return True, response["LoginProfile"]["CreateDate"]


def mfa_devices(iam: BaseClient, user_name: str) -> tuple[MfaDevice, ...] | None:
    """The user's MFA devices, or ``None`` when IAM no longer has the user."""
    devices = collect_if_exists(iam, "ListMFADevices", "MFADevices", UserName=user_name)
    if devices is None:
        return None
    return tuple(MfaDevice(device["SerialNumber"]) for device in devices)


def live_user_facts(
    iam: BaseClient, user_name: str, user_id: str, arn: str, always_list_devices: bool = False
) -> UserFacts | MissingUser:
    """Ask IAM directly: the login profile, then (only if there is one) the MFA devices.

    ``always_list_devices`` makes the second call even without a password, as the
    straightforward sweep the benchmark compares against does.
    """
    has_password, created = login_profile_created(iam, user_name)
    if not has_password and not always_list_devices:
        # NoSuchEntity here means "no console password" or "no such user"; either
        # way the rule does not apply, so one call settles it.
        return UserFacts(user_name, user_id, arn, None)
    devices = mfa_devices(iam, user_name)
    if devices is None:
        return MissingUser(user_id, user_name, "The user was deleted while it was being evaluated.")
    return UserFacts(user_name, user_id, arn, created, devices)


def user_tags(iam: BaseClient, user_name: str) -> tuple[tuple[str, str], ...] | None:
    """The user's tags (ListUserTags, every page), or ``None`` when IAM no longer has the user."""
    tags = collect_if_exists(iam, "ListUserTags", "Tags", UserName=user_name)
    if tags is None:
        return None
    return tuple((tag["Key"], tag.get("Value", "")) for tag in tags)


def with_tags_if_needed(
    iam: BaseClient,
    user: UserFacts | MissingUser,
    policy: Policy,
    now: datetime,
    known: tuple[tuple[str, str], ...] | None = None,
) -> UserFacts | MissingUser:
    """``user`` with its tags where an exemption tag could change its verdict (:func:`console_mfa.verdict.needs_tags`).

    ``known`` are tags already at hand (a configuration item's): then no call is made.
    """
    if isinstance(user, MissingUser) or not needs_tags(user, policy, now):
        return user
    tags = known if known is not None else user_tags(iam, user.user_name)
    if tags is None:
        return MissingUser(user.user_id, user.user_name, "The user was deleted while it was being evaluated.")
    return replace(user, tags=tags)


def user_for_change(iam: BaseClient, user_name: str, user_id: str) -> UserFacts | MissingUser:
    """Facts for the user a configuration item names, checking it is still the same user.

    A user deleted and re-created under the same name gets a new UserId; the old
    item must not be judged by the new user's settings.
    """
    response = call_if_exists(iam, "GetUser", UserName=user_name)
    if response is None:
        return MissingUser(user_id, user_name, "The user no longer exists in IAM.")
    if response["User"]["UserId"] != user_id:
        return MissingUser(user_id, user_name, "The user was deleted; its name now belongs to a different user.")
    return live_user_facts(iam, user_name, user_id, response["User"]["Arn"])


def list_users(iam: BaseClient) -> list[dict[str, Any]]:
    return collect(iam, "ListUsers", "Users", page_size=IAM_MAX_PAGE)


def assigned_virtual_devices(iam: BaseClient) -> dict[str, tuple[MfaDevice, ...]]:
    """Every assigned virtual MFA device, by the UserId it is assigned to (1,000 per call)."""
    by_user: dict[str, tuple[MfaDevice, ...]] = {}
    assigned = collect(
        iam, "ListVirtualMFADevices", "VirtualMFADevices", page_size=IAM_MAX_PAGE, AssignmentStatus="Assigned"
    )
    for device in assigned:
        user_id = device.get("User", {}).get("UserId")
        if user_id:
            by_user[user_id] = by_user.get(user_id, ()) + (MfaDevice(device["SerialNumber"]),)
    return by_user


def fetch_credential_report(
    iam: BaseClient, sleep: Callable[[float], None] | None = None, wait_seconds: float = REPORT_WAIT_SECONDS
) -> CredentialReport:
    """The current credential report; :class:`CredentialReportError` when there is none to be had in ``wait_seconds``.

    IAM reuses a report younger than 4 hours, so the report may be that old; the
    caller must treat it as a snapshot taken at ``generated``.
    """
    sleep = sleep or time.sleep
    waited = 0.0
    while True:
        state = call(iam, "GenerateCredentialReport")["State"]
        if state == "COMPLETE":
            try:
                response = call(iam, "GetCredentialReport")
            except AwsCallError as error:
                # Expired or gone between the two calls: generate again. In progress: wait.
                if error.code not in ("ReportExpired", "ReportNotPresent", "ReportInProgress"):
                    raise
            else:
                content = response["Content"]
                rows = parse_credential_report(content if isinstance(content, bytes) else content.encode())
                return CredentialReport(response["GeneratedTime"], tuple(rows))
        if waited >= wait_seconds:
            raise CredentialReportError(f"the credential report was not ready after {wait_seconds:.0f} s")
        sleep(REPORT_POLL_SECONDS)
        waited += REPORT_POLL_SECONDS
