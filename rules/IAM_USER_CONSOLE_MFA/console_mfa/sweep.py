"""The periodic sweep: facts for every IAM user in the account, fresh and within the time limit.

Strategies (environment variable ``SWEEP_STRATEGY``):

* ``live`` - every user checked live: GetLoginProfile, and ListMFADevices for users with a
  password, 8 users at a time.
* ``bulk`` - what IAM offers in bulk (credential report, assigned virtual devices), kept fresh
  by CloudTrail's record of changes since the report, and live calls only for the users whose
  verdict the bulk sources cannot settle.
* ``auto`` (default) - ``live`` up to 200 users, ``bulk`` above.
* ``baseline`` - two calls per user, one user after another: the straightforward sweep,
  kept for the benchmark to compare against.

A sweep that reaches its deadline stops: users not checked by then are left out of the
result, never guessed, and ``result.complete`` is False. The caller decides what a partial
result may still be used for.

Example::

    result = sweep_account(clients, Deadline(600), now, policy)
    result.users, result.missing, result.strategy, result.complete
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from .aws import AwsClients
from .cloudtrail_changes import users_changed_since
from .credential_report import ReportRow
from .exceptions import (
    AwsCallError,
    CredentialReportError,
    InvalidParameterError,
    MissingPermissionError,
)
from .facts import SELECTABLE_MFA_TYPES, MfaDevice, MfaType, UserFacts
from .iam_facts import (
    REPORT_WAIT_SECONDS,
    CredentialReport,
    MissingUser,
    assigned_virtual_devices,
    fetch_credential_report,
    list_users,
    live_user_facts,
    login_profile_created,
    mfa_devices,
)
from .policy import Policy
from .verdict import ComplianceType, Reason, Verdict, decide

STRATEGIES = ("auto", "live", "bulk", "baseline")
BULK_ABOVE_USERS = 200
# CloudTrail is searched from this long before the report's timestamp, because the
# report is assembled over a while and its timestamp is not the instant of every row.
REPORT_MARGIN = timedelta(minutes=15)

# Called as progress(checked, total) while users are checked live, once per phase of live
# calls (the CLI's progress bar starts a new bar when a new phase begins).
Progress = Callable[[int, int], None]
Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass
class SweepResult:
    """The facts of the users one sweep settled: every user listed, unless it ran out of time."""

    users: list[UserFacts] = field(default_factory=list)
    missing: list[MissingUser] = field(default_factory=list)
    strategy: str = "live"
    notes: list[str] = field(default_factory=list)
    # How many users ListUsers returned; more than were settled when the deadline stopped the sweep.
    listed: int = 0

    @property
    def checked(self) -> int:
        return len(self.users) + len(self.missing)

    @property
    def complete(self) -> bool:
        return self.checked == self.listed


class Deadline:
    """A moment by which some work must stop, so that what follows it still fits in the Lambda's time.

    Example::

        deadline = Deadline(remaining_seconds - 60)
        if deadline.expired(): ...
    """

    def __init__(self, seconds: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._ends = None if seconds is None else clock() + seconds

    @classmethod
    def unlimited(cls) -> Deadline:
        return cls(None)

    def seconds_left(self) -> float:
        """Seconds until the deadline (0 or less once passed; infinite for an unlimited one)."""
        return math.inf if self._ends is None else self._ends - self._clock()

    def expired(self) -> bool:
        return self.seconds_left() <= 0


class _NotReached:
    """Stands for the result of an item the deadline stopped before its work began."""


NOT_REACHED = _NotReached()


def strategy_from_environment() -> str:
    strategy = os.environ.get("SWEEP_STRATEGY", "auto").strip().lower() or "auto"
    if strategy not in STRATEGIES:
        raise InvalidParameterError(
            "SWEEP_STRATEGY (environment)", f"{strategy!r} is not one of {', '.join(STRATEGIES)}"
        )
    return strategy


def _concurrently(
    clients: AwsClients,
    items: Sequence[Item],
    work: Callable[[Item], Result],
    deadline: Deadline,
    progress: Progress | None = None,
    workers: int | None = None,
) -> list[Result | _NotReached]:
    """``work`` on every item, ``clients.max_workers`` at a time, results in item order.

    An item whose turn comes after the deadline is not worked on: its result is NOT_REACHED.
    """
    total = len(items)
    done = 0
    lock = threading.Lock()

    def run(item: Item) -> Result | _NotReached:
        nonlocal done
        # Checked per item, so the sweep stops within one user's calls of the deadline.
        if deadline.expired():
            return NOT_REACHED
        result = work(item)
        if progress:
            with lock:
                done += 1
                progress(done, total)
        return result

    workers = workers or clients.max_workers
    if workers <= 1 or total <= 1:
        return [run(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, items))


def _live(
    clients: AwsClients,
    users: Sequence[dict[str, Any]],
    deadline: Deadline,
    progress: Progress | None,
    always_list_devices: bool = False,
    workers: int | None = None,
) -> list[UserFacts | MissingUser | _NotReached]:
    iam = clients.iam
    return _concurrently(
        clients,
        users,
        lambda user: live_user_facts(iam, user["UserName"], user["UserId"], user["Arn"], always_list_devices),
        deadline,
        progress,
        workers,
    )


def _result(
    facts: Sequence[UserFacts | MissingUser | _NotReached], strategy: str, notes: Sequence[str] = ()
) -> SweepResult:
    sweep = SweepResult(strategy=strategy, notes=list(notes), listed=len(facts))
    for item in facts:
        if isinstance(item, MissingUser):
            sweep.missing.append(item)
        elif isinstance(item, UserFacts):
            sweep.users.append(item)
    return sweep


def sweep_account(
    clients: AwsClients,
    deadline: Deadline,
    now: datetime,
    policy: Policy,
    strategy: str = "auto",
    progress: Progress | None = None,
) -> SweepResult:
    """Facts for every user in the account, by ``strategy`` (see the module's docstring)."""
    users = list_users(clients.iam)
    if strategy == "baseline":
        return _result(_live(clients, users, deadline, progress, always_list_devices=True, workers=1), "baseline")
    if strategy == "live" or (strategy == "auto" and len(users) <= BULK_ABOVE_USERS):
        return _result(_live(clients, users, deadline, progress), "live")
    try:
        return _bulk(clients, users, deadline, now, policy, progress)
    except _BulkUnavailable as unavailable:
        # The bulk sources are a shortcut; without them every user is still checked live.
        return _result(_live(clients, users, deadline, progress), "live", [f"bulk sources unavailable: {unavailable}"])


class _BulkUnavailable(Exception):
    pass


def _bulk_sources(
    clients: AwsClients, users: Sequence[dict[str, Any]], deadline: Deadline
) -> tuple[CredentialReport, set[str], dict[str, tuple[MfaDevice, ...]]]:
    try:
        # Waiting for a report past the deadline would only leave no time to use it.
        wait = max(0.0, min(REPORT_WAIT_SECONDS, deadline.seconds_left()))
        report = fetch_credential_report(clients.iam, wait_seconds=wait)
        if isinstance(report, str):
            raise _BulkUnavailable(report)
        partition = users[0]["Arn"].split(":")[1] if users else "aws"
        changed = users_changed_since(clients.cloudtrail_for_iam(partition), report.generated - REPORT_MARGIN)
        if isinstance(changed, str):
            raise _BulkUnavailable(changed)
        virtual = assigned_virtual_devices(clients.iam)
    except (MissingPermissionError, AwsCallError, CredentialReportError) as error:
        raise _BulkUnavailable(str(error)) from error
    return report, {name.casefold() for name in changed}, virtual


def _same_second(first: datetime, second: datetime) -> bool:
    return abs((first - second).total_seconds()) < 1


def _settled(worst: Verdict, best: Verdict) -> bool:
    """Whether facts still unknown could change the verdict.

    ``worst`` and ``best`` are the verdicts for the least and most favourable facts
    still possible. Identical verdicts settle it; so does COMPLIANT-by-MFA either way,
    where more devices would only add kinds to the annotation's list.
    """
    if worst == best:
        return True
    return worst.reason is best.reason is Reason.MFA_PRESENT and worst.compliance_type is ComplianceType.COMPLIANT


def _from_report(
    user: dict[str, Any],
    row: ReportRow,
    virtual: tuple[MfaDevice, ...],
    devices: tuple[MfaDevice, ...] | None,
    policy: Policy,
    now: datetime,
) -> UserFacts | None:
    """Facts settled from the report (and ``devices`` when listed live), or None if a call is needed.

    The login profile's CreateDate is not in the report, but it lies between the user's
    creation and the password's last change, which bounds it both ways.
    """
    name, user_id, arn = user["UserName"], user["UserId"], user["Arn"]
    if not row.password_enabled:
        return UserFacts(name, user_id, arn, None)
    earliest, latest = row.user_creation_time, row.password_last_changed or now
    if devices is not None:
        known, unknown_worst, unknown_best = devices, (), ()
    elif row.mfa_active and not virtual:
        # Some device exists that is not virtual: its kind is unknown until listed.
        known = ()
        unknown_worst = (MfaDevice("unknown", MfaType.SMS),)
        unknown_best = tuple(MfaDevice("unknown", kind) for kind in SELECTABLE_MFA_TYPES)
    elif row.mfa_active:
        known, unknown_worst = virtual, ()
        unknown_best = tuple(MfaDevice("unknown", kind) for kind in SELECTABLE_MFA_TYPES)
    else:
        known, unknown_worst, unknown_best = virtual, (), ()
    worst = decide(UserFacts(name, user_id, arn, earliest, known + unknown_worst), policy, now)
    best = decide(UserFacts(name, user_id, arn, latest, known + unknown_best), policy, now)
    if not _settled(worst, best):
        return None
    unverified = (MfaDevice("credential-report", MfaType.UNVERIFIED),) if unknown_worst else ()
    return UserFacts(name, user_id, arn, earliest, known + unverified)


def _bulk(
    clients: AwsClients,
    users: Sequence[dict[str, Any]],
    deadline: Deadline,
    now: datetime,
    policy: Policy,
    progress: Progress | None,
) -> SweepResult:
    report, changed, virtual = _bulk_sources(clients, users, deadline)
    rows = {row.arn: row for row in report.rows}
    iam = clients.iam
    # Only users whose facts are settled are entered here; one the deadline stopped halfway stays out.
    facts: dict[str, UserFacts | MissingUser] = {}
    check_live: list[dict[str, Any]] = []
    list_devices: list[tuple[dict[str, Any], ReportRow]] = []
    read_profile: list[tuple[dict[str, Any], ReportRow, tuple[MfaDevice, ...]]] = []

    for user in users:
        row = rows.get(user["Arn"])
        if (
            row is None  # created after the report, or renamed
            or not _same_second(row.user_creation_time, user["CreateDate"])  # deleted and re-created
            # Changed, deleted or renamed since the report: its row may describe another user of that name.
            or user["UserName"].casefold() in changed
        ):
            check_live.append(user)
            continue
        settled = _from_report(user, row, virtual.get(user["UserId"], ()), None, policy, now)
        if settled is not None:
            facts[user["UserId"]] = settled
        elif row.mfa_active:
            list_devices.append((user, row))
        else:
            read_profile.append((user, row, virtual.get(user["UserId"], ())))

    # Users changed since the report first: where Config's result is most likely wrong, so a sweep
    # the deadline stops has corrected those.
    for user, live in zip(check_live, _live(clients, check_live, deadline, progress), strict=True):
        if not isinstance(live, _NotReached):
            facts[user["UserId"]] = live

    listed = _concurrently(
        clients, list_devices, lambda pair: mfa_devices(iam, pair[0]["UserName"]), deadline, progress
    )
    for (user, row), devices in zip(list_devices, listed, strict=True):
        if isinstance(devices, _NotReached):
            continue
        if devices is None:
            facts[user["UserId"]] = MissingUser(
                user["UserId"], user["UserName"], "The user was deleted while it was being evaluated."
            )
            continue
        settled = _from_report(user, row, virtual.get(user["UserId"], ()), devices, policy, now)
        if settled is not None:
            facts[user["UserId"]] = settled
        else:
            read_profile.append((user, row, devices))

    profiles = _concurrently(
        clients, read_profile, lambda item: login_profile_created(iam, item[0]["UserName"]), deadline, progress
    )
    for (user, _, devices), profile in zip(read_profile, profiles, strict=True):
        if isinstance(profile, _NotReached):
            continue
        has_password, created = profile
        facts[user["UserId"]] = UserFacts(
            user["UserName"], user["UserId"], user["Arn"], created if has_password else None, devices
        )

    notes = [
        f"credential report from {report.generated:%Y-%m-%d %H:%M} UTC; "
        f"{len(changed)} users changed since per CloudTrail",
        f"live calls: {len(check_live)} users in full, {len(list_devices)} device lists, "
        f"{len(read_profile)} login profiles",
    ]
    return _result([facts.get(user["UserId"], NOT_REACHED) for user in users], "bulk", notes)
