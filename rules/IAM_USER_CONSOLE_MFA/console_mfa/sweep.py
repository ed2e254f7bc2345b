"""The periodic sweep: facts for every IAM user in the account, fresh and within the time limit.

Strategies (environment variable ``SWEEP_STRATEGY``):

* ``live`` - every user checked live: GetLoginProfile, and ListMFADevices for users with a
  password, 8 users at a time.
* ``bulk`` - what IAM offers in bulk (credential report, assigned virtual devices), kept fresh
  by CloudTrail's record of changes since the report, and live calls only for the users whose
  verdict the bulk sources cannot settle.
* ``auto`` (default) - given the results Config holds: ``carry-forward`` (see
  :mod:`console_mfa.carry_forward`): every held result CloudTrail shows no change for is kept
  without an IAM call, and only the users who changed, are new, are due for re-confirmation or
  cannot be settled otherwise are checked live (so is a user whose result CloudTrail cannot cover:
  past its 90 days, or without a usable OrderingTimestamp). It falls back, saying why in the notes, to
  ``live`` up to 200 users and ``bulk`` above when CloudTrail cannot be read (over
  ``MAX_CHANGE_EVENTS`` events, a lookup error or throttling, an event that does not name its user),
  when no held result can be carried, or when more than 200 users would be checked live.
* ``baseline`` - two calls per user, one user after another: the straightforward sweep,
  kept for the benchmark to compare against.

A sweep that reaches its deadline stops: users not checked by then are left out of the
result, never guessed, and ``result.complete`` is False. The caller decides what a partial
result may still be used for. Users are checked least recently recorded first (after those who
changed), and the caller re-sends what a partial sweep checked (``checked_live``), so successive
sweeps that run out of time still check every user between them.

Example::

    result = sweep_account(clients, Deadline(600), now, policy, held=held_results(config, rule_name))
    result.users, result.missing, result.strategy, result.complete
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TypeVar

from .aws import AwsClients
from .carry_forward import (
    RECONFIRMATION,
    REPORT_MARGIN,
    ListedUser,
    coverage_start,
    facts_read_from,
    plan_carry_forward,
    settled,
)
from .cloudtrail_changes import user_changes_since, users_changed_since
from .config_report import HeldResult
from .credential_report import ReportRow
from .exceptions import (
    AwsCallError,
    ChangeHistoryError,
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
    with_tags_if_needed,
)
from .identifiers import partition_of
from .policy import Policy
from .verdict import decide, needs_tags

STRATEGIES = ("auto", "live", "bulk", "baseline")
BULK_ABOVE_USERS = 200
# More IAM changes than this in CloudTrail since the oldest carried result: the sweep of old is cheaper.
MAX_CHANGE_EVENTS = 2000

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
    # A carry-forward sweep's users checked live (UserIds): their results are sent even when unchanged, so that
    # the recorded time moves past what sent them to a live check (a change, for one) and the next sweep can
    # carry them; a result not sent keeps its old recorded time, and its user would be checked live every sweep.
    rerecord: set[str] = field(default_factory=set)
    # Users whose facts this sweep read from IAM itself (UserIds). A sweep out of time re-sends their results, so
    # that the next one, which starts with the least recently recorded, starts after them.
    checked_live: set[str] = field(default_factory=set)
    # The credential report's GeneratedTime, when facts were settled from it.
    report_generated: datetime | None = None
    # The OrderingTimestamp of each carried result: kept if it is ever sent again.
    carried_from: dict[str, datetime] = field(default_factory=dict)

    def ordering_timestamp(self, facts: UserFacts, sweep_start: datetime) -> datetime:
        """The OrderingTimestamp for the user's result (:func:`~console_mfa.carry_forward.facts_read_from`).

        Example: ``result.ordering_timestamp(facts, now)`` is ``now`` for facts read live by this sweep.
        """
        if facts.user_id in self.carried_from:
            return self.carried_from[facts.user_id]
        return facts_read_from(facts, sweep_start, self.report_generated)

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
    users: Sequence[ListedUser],
    deadline: Deadline,
    progress: Progress | None,
    always_list_devices: bool = False,
    workers: int | None = None,
) -> list[UserFacts | MissingUser | _NotReached]:
    iam = clients.iam
    return _concurrently(
        clients,
        users,
        lambda user: live_user_facts(iam, user.user_name, user.user_id, user.arn, always_list_devices),
        deadline,
        progress,
        workers,
    )


def least_recently_recorded_first(
    users: Sequence[Item], held: Mapping[str, HeldResult] | None, user_id: Callable[[Item], str]
) -> list[Item]:
    """``users`` in the order a sweep checks them: nothing held first, then the oldest recorded result first.

    A sweep out of time re-sends the results it checked, so the next one starts where it stopped.
    Example: ``least_recently_recorded_first(users, held, lambda user: user.user_id)``.
    """
    held = held or {}
    never = datetime.min.replace(tzinfo=timezone.utc)

    def recorded(item: Item) -> datetime:
        current = held.get(user_id(item))
        return never if current is None else current.recorded

    return sorted(users, key=recorded)


def _result(
    facts: Sequence[UserFacts | MissingUser | _NotReached],
    strategy: str,
    notes: Sequence[str] = (),
    checked_live: Sequence[UserFacts | MissingUser | _NotReached] | None = None,
) -> SweepResult:
    """The sweep's result; ``checked_live`` the items read from IAM (all of ``facts`` unless given)."""
    sweep = SweepResult(strategy=strategy, notes=list(notes), listed=len(facts))
    for item in facts:
        if isinstance(item, MissingUser):
            sweep.missing.append(item)
        elif isinstance(item, UserFacts):
            sweep.users.append(item)
    for item in facts if checked_live is None else checked_live:
        if isinstance(item, (UserFacts, MissingUser)):
            sweep.checked_live.add(item.user_id)
    return sweep


def _live_sweep(
    clients: AwsClients,
    users: Sequence[ListedUser],
    deadline: Deadline,
    progress: Progress | None,
    held: Mapping[str, HeldResult] | None,
    notes: Sequence[str] = (),
) -> SweepResult:
    ordered = least_recently_recorded_first(users, held, lambda user: user.user_id)
    return _result(_live(clients, ordered, deadline, progress), "live", notes)


def sweep_account(
    clients: AwsClients,
    deadline: Deadline,
    now: datetime,
    policy: Policy,
    strategy: str = "auto",
    progress: Progress | None = None,
    held: Mapping[str, HeldResult] | None = None,
) -> SweepResult:
    """Facts for every user in the account, by ``strategy`` (see the module's docstring).

    ``held`` is what Config holds for the rule, by UserId; without it ``auto`` cannot carry results forward.
    Every strategy's facts then get the tags of the users whose verdict an exemption tag could change.
    """
    result = _facts_by_strategy(clients, deadline, now, policy, strategy, progress, held)
    return _with_exemption_tags(clients, result, deadline, now, policy, progress)


def _with_exemption_tags(
    clients: AwsClients,
    result: SweepResult,
    deadline: Deadline,
    now: datetime,
    policy: Policy,
    progress: Progress | None,
) -> SweepResult:
    """ListUserTags for each user who would otherwise be NON_COMPLIANT (one call each, none for anyone else).

    A user the deadline stops before its tags are read keeps its facts without tags: NON_COMPLIANT, as before
    exemptions existed, never exempt unread. Its record then has no ``ex=``, so the next sweep reads the tags.
    """
    iam = clients.iam
    untagged = [user for user in result.users if needs_tags(user, policy, now)]
    read = _concurrently(
        clients, untagged, lambda user: with_tags_if_needed(iam, user, policy, now), deadline, progress
    )
    by_id = dict(zip((user.user_id for user in untagged), read, strict=True))
    users = []
    for user in result.users:
        facts = by_id.get(user.user_id, user)
        if isinstance(facts, MissingUser):
            result.missing.append(facts)
        else:
            users.append(facts if isinstance(facts, UserFacts) else user)
    unread = sum(1 for facts in read if isinstance(facts, _NotReached))
    if unread:
        result.notes.append(f"exemption tags not read before the deadline for {unread} users: NON_COMPLIANT for now")
    result.users = users
    return result


def _facts_by_strategy(
    clients: AwsClients,
    deadline: Deadline,
    now: datetime,
    policy: Policy,
    strategy: str,
    progress: Progress | None,
    held: Mapping[str, HeldResult] | None,
) -> SweepResult:
    users = [ListedUser.from_list_users(row) for row in list_users(clients.iam)]
    if strategy == "baseline":
        return _result(_live(clients, users, deadline, progress, always_list_devices=True, workers=1), "baseline")
    if strategy == "live":
        return _live_sweep(clients, users, deadline, progress, held)
    if strategy == "bulk":
        return _bulk_or_live(clients, users, deadline, now, policy, progress, held)
    if held:
        try:
            return _carry_forward(clients, users, held, deadline, now, policy, progress)
        except _CarryForwardUnavailable as unavailable:
            notes = [f"carry-forward not used: {unavailable}"]
            return _today(clients, users, deadline, now, policy, progress, held, notes)
    return _today(clients, users, deadline, now, policy, progress, held)


def _today(
    clients: AwsClients,
    users: Sequence[ListedUser],
    deadline: Deadline,
    now: datetime,
    policy: Policy,
    progress: Progress | None,
    held: Mapping[str, HeldResult] | None,
    notes: Sequence[str] = (),
) -> SweepResult:
    """The sweep without carrying anything forward: ``live`` up to BULK_ABOVE_USERS users, ``bulk`` above."""
    if len(users) <= BULK_ABOVE_USERS:
        return _live_sweep(clients, users, deadline, progress, held, notes)
    result = _bulk_or_live(clients, users, deadline, now, policy, progress, held)
    result.notes[:0] = notes
    return result


def _bulk_or_live(
    clients: AwsClients,
    users: Sequence[ListedUser],
    deadline: Deadline,
    now: datetime,
    policy: Policy,
    progress: Progress | None,
    held: Mapping[str, HeldResult] | None,
) -> SweepResult:
    try:
        return _bulk(clients, users, deadline, now, policy, progress, held)
    except _BulkUnavailable as unavailable:
        # The bulk sources are a shortcut; without them every user is still checked live.
        return _live_sweep(clients, users, deadline, progress, held, [f"bulk sources unavailable: {unavailable}"])


class _CarryForwardUnavailable(Exception):
    pass


def _carry_forward(
    clients: AwsClients,
    users: Sequence[ListedUser],
    held: Mapping[str, HeldResult],
    deadline: Deadline,
    now: datetime,
    policy: Policy,
    progress: Progress | None,
) -> SweepResult:
    """Keep every held result CloudTrail covers unchanged; check the rest live (:mod:`console_mfa.carry_forward`)."""
    start = coverage_start(held, users, now, policy)
    if start is None:
        raise _CarryForwardUnavailable("no result Config holds carries a facts record that may be carried")
    partition = partition_of(users[0].arn if users else None)
    try:
        changes = user_changes_since(clients.cloudtrail_for_iam(partition), start, max_events=MAX_CHANGE_EVENTS)
    except ChangeHistoryError as error:
        raise _CarryForwardUnavailable(str(error)) from error
    plan = plan_carry_forward(held, users, changes, start, now, policy)
    if len(plan.check_live) > BULK_ABOVE_USERS:
        raise _CarryForwardUnavailable(f"{len(plan.check_live)} users to check live ({_reasons(plan.why_live)})")
    # Users who changed or are new first: where Config's result is most likely wrong, so a sweep the
    # deadline stops has corrected those; re-confirmations last; in each, the least recently recorded first.
    oldest_first = least_recently_recorded_first(plan.check_live, held, lambda user: user.user_id)
    check = sorted(oldest_first, key=lambda user: plan.why[user.user_id] == RECONFIRMATION)
    checked = dict(zip((u.user_id for u in check), _live(clients, check, deadline, progress), strict=True))
    carried = {facts.user_id: facts for facts in plan.carried}
    notes = [
        f"CloudTrail from {start:%Y-%m-%d %H:%M} UTC: {len(changes)} user names changed",
        f"carried {len(plan.carried)} held results; checked {len(plan.check_live)} users live"
        + (f" ({_reasons(plan.why_live)})" if plan.why_live else ""),
    ]
    result = _result(
        [carried.get(u.user_id) or checked[u.user_id] for u in users], "carry-forward", notes, list(checked.values())
    )
    result.rerecord = {facts.user_id for facts in result.users if facts.user_id not in carried}
    result.carried_from = {user_id: held[user_id].ordered for user_id in carried if held[user_id].ordered}
    return result


def _reasons(why: Mapping[str, int]) -> str:
    return ", ".join(f"{count} {reason}" for reason, count in sorted(why.items()))


class _BulkUnavailable(Exception):
    pass


def _bulk_sources(
    clients: AwsClients, users: Sequence[ListedUser], deadline: Deadline
) -> tuple[CredentialReport, set[str], dict[str, tuple[MfaDevice, ...]]]:
    try:
        # Waiting for a report past the deadline would only leave no time to use it.
        wait = max(0.0, min(REPORT_WAIT_SECONDS, deadline.seconds_left()))
        report = fetch_credential_report(clients.iam, wait_seconds=wait)
        partition = partition_of(users[0].arn if users else None)
        changed = users_changed_since(clients.cloudtrail_for_iam(partition), report.generated - REPORT_MARGIN)
        virtual = assigned_virtual_devices(clients.iam)
    except (MissingPermissionError, AwsCallError, CredentialReportError, ChangeHistoryError) as error:
        raise _BulkUnavailable(str(error)) from error
    return report, changed, virtual


def _same_second(first: datetime, second: datetime) -> bool:
    return abs((first - second).total_seconds()) < 1


@dataclass(frozen=True)
class _Unsettled:
    """A user the report alone does not settle, with what is known of it so far."""

    user: ListedUser
    row: ReportRow
    # Listed live, or None while only the report's word is known.
    devices: tuple[MfaDevice, ...] | None = None
    # Whether ``devices`` were listed live; if not, "no other device" is the report's word.
    devices_listed: bool = False


def _from_report(
    user: ListedUser,
    row: ReportRow,
    virtual: tuple[MfaDevice, ...],
    devices: tuple[MfaDevice, ...] | None,
    policy: Policy,
    now: datetime,
) -> UserFacts | None:
    """Facts settled from the report (and ``devices`` when listed live), or None if a call is needed.

    The login profile's CreateDate is not in the report, but it lies between the user's
    creation and the password's last change, which bounds it both ways. The facts returned
    are marked ``from_credential_report``: their time is that lower bound.
    """
    name, user_id, arn = user.user_name, user.user_id, user.arn
    if not row.password_enabled:
        return UserFacts(name, user_id, arn, None, from_credential_report=True)
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
    if not settled(worst, best):
        return None
    unverified = (MfaDevice("credential-report", MfaType.UNVERIFIED),) if unknown_worst else ()
    return UserFacts(name, user_id, arn, earliest, known + unverified, from_credential_report=True)


def _bulk(
    clients: AwsClients,
    users: Sequence[ListedUser],
    deadline: Deadline,
    now: datetime,
    policy: Policy,
    progress: Progress | None,
    held: Mapping[str, HeldResult] | None = None,
) -> SweepResult:
    """Settle what the bulk sources settle; then, in three phases of live calls, the rest.

    The phases: users the report cannot speak for (checked in full), users whose device kinds
    are needed (ListMFADevices), users whose login profile's CreateDate is needed (GetLoginProfile).
    """
    report, changed, virtual = _bulk_sources(clients, users, deadline)
    rows = {row.arn: row for row in report.rows}
    iam = clients.iam
    # Only users whose facts are settled are entered here; one the deadline stopped halfway stays out.
    facts: dict[str, UserFacts | MissingUser] = {}
    check_live: list[ListedUser] = []
    list_devices: list[_Unsettled] = []
    read_profile: list[_Unsettled] = []

    for user in least_recently_recorded_first(users, held, lambda user: user.user_id):
        row = rows.get(user.arn)
        if (
            row is None  # created after the report, or renamed
            or not _same_second(row.user_creation_time, user.created)  # deleted and re-created
            # Changed, deleted or renamed since the report: its row may describe another user of that name.
            or user.user_name.casefold() in changed
        ):
            check_live.append(user)
            continue
        settled_facts = _from_report(user, row, virtual.get(user.user_id, ()), None, policy, now)
        if settled_facts is not None:
            facts[user.user_id] = settled_facts
        elif row.mfa_active:
            list_devices.append(_Unsettled(user, row))
        else:
            read_profile.append(_Unsettled(user, row, virtual.get(user.user_id, ())))

    # Users changed since the report first: where Config's result is most likely wrong, so a sweep
    # the deadline stops has corrected those.
    reached: list[UserFacts | MissingUser | _NotReached] = []
    for user, live in zip(check_live, _live(clients, check_live, deadline, progress), strict=True):
        if not isinstance(live, _NotReached):
            facts[user.user_id] = live
            reached.append(live)

    listed = _concurrently(
        clients, list_devices, lambda item: mfa_devices(iam, item.user.user_name), deadline, progress
    )
    for item, devices in zip(list_devices, listed, strict=True):
        user = item.user
        if isinstance(devices, _NotReached):
            continue
        if devices is None:
            facts[user.user_id] = reached_item = MissingUser(
                user.user_id, user.user_name, "The user was deleted while it was being evaluated."
            )
            reached.append(reached_item)
            continue
        settled_facts = _from_report(user, item.row, virtual.get(user.user_id, ()), devices, policy, now)
        if settled_facts is not None:
            facts[user.user_id] = settled_facts
            reached.append(settled_facts)
        else:
            read_profile.append(_Unsettled(user, item.row, devices, devices_listed=True))

    profiles = _concurrently(
        clients, read_profile, lambda item: login_profile_created(iam, item.user.user_name), deadline, progress
    )
    for item, profile in zip(read_profile, profiles, strict=True):
        if isinstance(profile, _NotReached):
            continue
        has_password, created = profile
        user = item.user
        # Devices the report speaks for make the facts the report's, however exact the password read live.
        facts[user.user_id] = UserFacts(
            user.user_name,
            user.user_id,
            user.arn,
            created if has_password else None,
            item.devices or (),
            from_credential_report=not item.devices_listed,
        )
        reached.append(facts[user.user_id])

    notes = [
        f"credential report from {report.generated:%Y-%m-%d %H:%M} UTC; "
        f"{len(changed)} users changed since per CloudTrail",
        f"live calls: {len(check_live)} users in full, {len(list_devices)} device lists, "
        f"{len(read_profile)} login profiles",
    ]
    result = _result([facts.get(user.user_id, NOT_REACHED) for user in users], "bulk", notes, reached)
    result.report_generated = report.generated
    return result
