"""Gather facts from IAM: the only module that reads users, passwords and MFA devices.

Example::

    clients = AwsClients.from_session(boto3.Session(), "us-east-1")
    result = sweep_live(clients, Deadline.unlimited())
    for user in result.users:
        print(user.user_name, user.has_console_password)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.client import BaseClient

from .aws import AwsClients, call, collect
from .exceptions import SweepIncompleteError
from .facts import MfaDevice, UserFacts


@dataclass(frozen=True)
class MissingUser:
    """A user that was listed (or named by Config) but that IAM no longer has."""

    user_id: str
    user_name: str
    why: str


@dataclass
class SweepResult:
    """The facts of every user in the account, as one sweep found them."""

    users: list[UserFacts] = field(default_factory=list)
    missing: list[MissingUser] = field(default_factory=list)
    strategy: str = "live"


class Deadline:
    """Stops a sweep that would not finish before the Lambda is killed.

    A sweep that runs out of time raises rather than report part of the account.
    """

    def __init__(self, seconds: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._ends = None if seconds is None else clock() + seconds

    @classmethod
    def unlimited(cls) -> Deadline:
        return cls(None)

    def check(self, checked: int, total: int) -> None:
        if self._ends is not None and self._clock() >= self._ends:
            raise SweepIncompleteError(
                f"Checked {checked} of {total} users before the time limit; nothing was reported. "
                "Raise the Lambda timeout or memory, or see the README on large accounts."
            )


def login_profile_created(iam: BaseClient, user_name: str) -> tuple[bool, Any]:
    """``(True, CreateDate)`` when the user has a console password, else ``(False, None)``."""
    response = call(iam, "GetLoginProfile", missing_ok=True, UserName=user_name)
    if response is None:
        return False, None
    return True, response["LoginProfile"]["CreateDate"]


def mfa_devices(iam: BaseClient, user_name: str) -> tuple[MfaDevice, ...] | None:
    """The user's MFA devices, or ``None`` when IAM no longer has the user."""
    devices = collect(iam, "ListMFADevices", "MFADevices", missing_ok=True, UserName=user_name)
    if devices is None:
        return None
    return tuple(MfaDevice(device["SerialNumber"]) for device in devices)


def live_user_facts(iam: BaseClient, user_name: str, user_id: str, arn: str) -> UserFacts | MissingUser:
    """Ask IAM directly: the login profile, then (only if there is one) the MFA devices."""
    has_password, created = login_profile_created(iam, user_name)
    if not has_password:
        # NoSuchEntity here means "no console password" or "no such user"; either
        # way the rule does not apply, so one call settles it.
        return UserFacts(user_name, user_id, arn, None)
    devices = mfa_devices(iam, user_name)
    if devices is None:
        return MissingUser(user_id, user_name, "The user was deleted while it was being evaluated.")
    return UserFacts(user_name, user_id, arn, created, devices)


def user_for_change(iam: BaseClient, user_name: str, user_id: str) -> UserFacts | MissingUser:
    """Facts for the user a configuration item names, checking it is still the same user.

    A user deleted and re-created under the same name gets a new UserId; the old
    item must not be judged by the new user's settings.
    """
    response = call(iam, "GetUser", missing_ok=True, UserName=user_name)
    if response is None:
        return MissingUser(user_id, user_name, "The user no longer exists in IAM.")
    if response["User"]["UserId"] != user_id:
        return MissingUser(
            user_id, user_name, "The user was deleted; its name now belongs to a different user."
        )
    return live_user_facts(iam, user_name, user_id, response["User"]["Arn"])


def list_users(iam: BaseClient) -> list[dict[str, Any]]:
    return collect(iam, "ListUsers", "Users") or []


# Called as progress(checked, total) after each user; used by the CLI's progress bar.
Progress = Callable[[int, int], None]


def check_users_live(
    clients: AwsClients, listed_users: Sequence[dict[str, Any]], deadline: Deadline, progress: Progress | None = None
) -> list[UserFacts | MissingUser]:
    """Live facts for each listed user, ``clients.max_workers`` at a time, in the listed order."""
    total = len(listed_users)
    iam = clients.iam
    checked = 0
    lock = threading.Lock()

    def check(numbered: tuple[int, dict[str, Any]]) -> UserFacts | MissingUser:
        index, user = numbered
        deadline.check(index, total)
        facts = live_user_facts(iam, user["UserName"], user["UserId"], user["Arn"])
        if progress:
            nonlocal checked
            with lock:
                checked += 1
                progress(checked, total)
        return facts

    if clients.max_workers <= 1:
        return [check(numbered) for numbered in enumerate(listed_users)]
    with ThreadPoolExecutor(max_workers=clients.max_workers) as pool:
        return list(pool.map(check, enumerate(listed_users)))


def split_results(results: Sequence[UserFacts | MissingUser], strategy: str) -> SweepResult:
    sweep = SweepResult(strategy=strategy)
    for result in results:
        (sweep.missing if isinstance(result, MissingUser) else sweep.users).append(result)
    return sweep


def sweep_live(clients: AwsClients, deadline: Deadline, progress: Progress | None = None) -> SweepResult:
    """Every user in the account, each checked live."""
    return split_results(check_users_live(clients, list_users(clients.iam), deadline, progress), "live")


def sweep_account(
    clients: AwsClients, deadline: Deadline, now: datetime, progress: Progress | None = None
) -> SweepResult:
    """The periodic sweep's facts for every user in the account."""
    return sweep_live(clients, deadline, progress)
