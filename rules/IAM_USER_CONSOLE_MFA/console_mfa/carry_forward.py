"""Which held results a sweep may keep without asking IAM, and which users it must check live. Pure: no AWS here.

A steady-state sweep costs what changed: a user whose held result still stands keeps it with no IAM
call. A held result is *carried* only when all of these hold:

(a) **It rests on a check.** Its annotation ends in the facts record :func:`~console_mfa.verdict.decide`
    writes (only this rule's results are read, and only a live check, a change-triggered check or a
    bulk sweep's settled facts ever record one). A carried result is never sent again: when today's
    policy and clock would change its verdict or annotation (a grace period that ended, a changed
    parameter, an exemption tag's last day passed) the user is checked live instead. So every result Config
    holds was checked at its recorded time, which (b) and (c) rest on. The record holds the exemption tag's
    state (``ex=``) where the tags were read; a result recorded without it before tags were read is carried
    as it was, and the sweep reads the tags of such a user if it would be NON_COMPLIANT.
(b) **CloudTrail shows no change since its facts could first have been stale.** This is the rule every kept
    result rests on: *a result is kept only when CloudTrail is searched from the earliest moment any of
    its facts could have been stale, however late CloudTrail delivers the events.* That moment
    (:func:`facts_stale_from`) is recorded with the result, in its OrderingTimestamp, when it is sent:

    * facts read live (a sweep, a change notification): the moment before the read, the run's start;
    * facts settled from the credential report (``from_credential_report``, recorded as lower bounds):
      the report's GeneratedTime less ``REPORT_MARGIN`` (a report is assembled over a while), which is
      also where the bulk sweep began its own CloudTrail search. A result mixing live reads with facts
      from the report is recorded as the report's.

    Less ``PROPAGATION_MARGIN`` for IAM's propagation and the clocks of CloudTrail and Lambda. A held
    result is never re-sent while it is carried, so it keeps that moment, and every sweep searches
    CloudTrail from the oldest carried result's moment (:func:`coverage_start`) up to its own start: an
    event CloudTrail delivers late, by any amount, is found by the first sweep that runs once it is
    delivered, for as long as CloudTrail keeps it (``CLOUDTRAIL_HISTORY``). So the sweep assumes only
    that CloudTrail delivers every event, within its 90 days; when it does not deliver an event at all,
    the result stands until the user's re-confirmation (c).

    Degraded per user, never for the whole account: a result whose moment cannot be known (no
    OrderingTimestamp, one after its recording, or for report facts one not at least ``REPORT_MARGIN``
    before its recording, as versions before this rule sent) or lies past CloudTrail's history sends its
    user to a live check, and the search starts at the oldest of the others.

    A user checked live is re-sent even when its result is unchanged (``SweepResult.rerecord``):
    otherwise a change inside the margin would send it to a live check on every later sweep.
(c) **It is not due for re-confirmation** (``ReconfirmDays``, :func:`reconfirmation_due`): due users are
    checked live, so no result is carried longer than ``ReconfirmDays`` without a check.

Facts the bulk sweep settled from the credential report are recorded as lower bounds (``pw>=``,
``mfa>=``); they are carried only when the verdict is the same for every truth the bounds leave open
(the profile created at any moment from the recorded one to the result's recording, the report's
unverified device being SMS or any allowed kind); further unknown devices are covered by the verdict
check in (a), see ``_bounds_settled``.

Also checked live: users who are new (a UserId with nothing held; a user deleted and re-created under
the same name has a new UserId), whose result has no record (written before records existed), and whose
verdict cannot be settled otherwise. Users gone from ListUsers are left to the caller (set NOT_APPLICABLE).

Example::

    start = coverage_start(held, listed, now, policy)
    changes = user_changes_since(cloudtrail, start)          # {casefolded name: latest change}
    plan = plan_carry_forward(held, listed, changes, start, now, policy)
    plan.carried, plan.check_live, plan.why_live
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .config_report import HeldResult, reconfirmation_due
from .facts import SELECTABLE_MFA_TYPES, MfaDevice, MfaType, UserFacts
from .policy import Policy
from .verdict import ComplianceType, FactsRecord, Reason, Verdict, decide, parse_annotation

# See (b) in the module docstring. IAM's propagation and the clocks' skew:
PROPAGATION_MARGIN = timedelta(minutes=5)
# A credential report is assembled over a while: its facts count from this long before its GeneratedTime.
REPORT_MARGIN = timedelta(minutes=15)
# CloudTrail's LookupEvents keeps this much history.
CLOUDTRAIL_HISTORY = timedelta(days=90)
RECONFIRMATION = "re-confirmation"
NO_USABLE_TIMESTAMP = "no usable OrderingTimestamp"
PAST_CLOUDTRAIL_HISTORY = "past CloudTrail's history"


@dataclass(frozen=True)
class ListedUser:
    """One row of ListUsers: who the user is today."""

    user_name: str
    user_id: str
    arn: str
    created: datetime

    @classmethod
    def from_list_users(cls, row: Mapping[str, Any]) -> ListedUser:
        return cls(row["UserName"], row["UserId"], row["Arn"], row["CreateDate"])


@dataclass
class CarryPlan:
    """Facts rebuilt for the users whose held result stands, and the users to check live (why, counted)."""

    carried: list[UserFacts] = field(default_factory=list)
    check_live: list[ListedUser] = field(default_factory=list)
    # Why each user in check_live is checked live, by UserId.
    why: dict[str, str] = field(default_factory=dict)

    @property
    def why_live(self) -> Counter[str]:
        return Counter(self.why.values())

    def live(self, user: ListedUser, why: str) -> None:
        self.check_live.append(user)
        self.why[user.user_id] = why


def settled(worst: Verdict, best: Verdict) -> bool:
    """Whether facts still unknown could change the verdict.

    ``worst`` and ``best`` are the verdicts for the least and most favourable facts still possible.
    Identical verdicts settle it; so does COMPLIANT-by-MFA either way, where more devices would only
    add kinds to the annotation's list.
    """
    if worst == best:
        return True
    return worst.reason is best.reason is Reason.MFA_PRESENT and worst.compliance_type is ComplianceType.COMPLIANT


def _carriable_record(held: HeldResult | None, now: datetime, user_id: str, policy: Policy) -> FactsRecord | None:
    """The facts record of a held result that (a) and (c) allow to carry, else None."""
    if held is None or reconfirmation_due(user_id, held.recorded, now, policy.reconfirm_days):
        return None
    return parse_annotation(held.annotation).facts


def facts_read_from(facts: UserFacts, sweep_start: datetime, report_generated: datetime | None) -> datetime:
    """The OrderingTimestamp a result is sent with: the moment its facts could first have been stale.

    Example: facts read live by a sweep that began at 12:00 give 12:00; facts settled from a credential
    report generated at 10:00, 09:45 (``REPORT_MARGIN`` earlier), whatever the sweep read live besides.
    """
    if facts.from_credential_report:
        if report_generated is None:
            raise ValueError(f"facts of {facts.user_name} are from a credential report, but no report time is given")
        return min(sweep_start, report_generated) - REPORT_MARGIN
    return sweep_start


def facts_stale_from(held: HeldResult, record: FactsRecord) -> datetime | None:
    """From when a change to the user makes its held result stale (the rule, (b) in the module docstring).

    None when the result's OrderingTimestamp does not say. Example: a result read live by a sweep that
    began at 12:00 (its OrderingTimestamp) counts changes from 11:55.
    """
    ordered = held.ordered
    if ordered is None or ordered > held.recorded:
        return None
    # A report's facts are older than any sweep that used them by REPORT_MARGIN at least; a result that
    # is not was sent with the sweep's start (before this rule), and its report's time is unknown.
    if record.from_credential_report and ordered > held.recorded - REPORT_MARGIN:
        return None
    return ordered - PROPAGATION_MARGIN


def _coverable_from(held: HeldResult, record: FactsRecord, now: datetime) -> tuple[datetime | None, str]:
    """The held result's :func:`facts_stale_from` if CloudTrail still covers it, else None and why not."""
    stale_from = facts_stale_from(held, record)
    if stale_from is None:
        return None, NO_USABLE_TIMESTAMP
    if now - stale_from > CLOUDTRAIL_HISTORY:
        return None, PAST_CLOUDTRAIL_HISTORY
    return stale_from, ""


def coverage_start(
    held: Mapping[str, HeldResult], listed: Sequence[ListedUser], now: datetime, policy: Policy
) -> datetime | None:
    """Where CloudTrail must be searched from: the earliest :func:`facts_stale_from` of a carriable result.

    Results CloudTrail cannot cover are left out (their users are checked live). None when no held
    result could be carried at all.
    """
    starts = []
    for user in listed:
        record = _carriable_record(held.get(user.user_id), now, user.user_id, policy)
        if record is not None:
            stale_from, _ = _coverable_from(held[user.user_id], record, now)
            if stale_from is not None:
                starts.append(stale_from)
    return min(starts) if starts else None


def _bounds_settled(record: FactsRecord, recorded: datetime, user: UserFacts, policy: Policy, now: datetime) -> bool:
    """For facts recorded as lower bounds: the verdict is the same for every truth they leave open."""
    kinds = record.mfa_types - {MfaType.UNVERIFIED}
    worst_kinds = kinds | ({MfaType.SMS} if MfaType.UNVERIFIED in record.mfa_types else set())
    # Further unknown devices (the report's "mfa_active" beside known virtual ones) need no allowance here: such a
    # result was settled as COMPLIANT by MFA (or exempt), and a policy that no longer counts the known kinds
    # changes the verdict read back, which sends the user to a live check before this is asked.
    best_kinds = kinds | (SELECTABLE_MFA_TYPES if MfaType.UNVERIFIED in record.mfa_types else set())

    def facts(created: datetime | None, kinds: set[MfaType] | frozenset[MfaType]) -> UserFacts:
        devices = tuple(MfaDevice(f"bound-{kind.value}", kind) for kind in sorted(kinds))
        return UserFacts(user.user_name, user.user_id, user.arn, created, devices, tags=user.tags)

    latest = None if record.login_profile_created is None else max(recorded, record.login_profile_created)
    worst = decide(facts(record.login_profile_created, worst_kinds), policy, now)
    best = decide(facts(latest, best_kinds), policy, now)
    return settled(worst, best)


def plan_carry_forward(
    held: Mapping[str, HeldResult],
    listed: Sequence[ListedUser],
    changes: Mapping[str, datetime],
    covered_from: datetime | None,
    now: datetime,
    policy: Policy,
) -> CarryPlan:
    """Split the listed users into carried results and users to check live (see the module docstring).

    ``changes`` maps casefolded user names to their latest change per CloudTrail, searched from
    ``covered_from`` up to now.
    """
    plan = CarryPlan()
    for user in listed:
        current = held.get(user.user_id)
        if current is None:
            plan.live(user, "new")
            continue
        if reconfirmation_due(user.user_id, current.recorded, now, policy.reconfirm_days):
            plan.live(user, RECONFIRMATION)
            continue
        record = parse_annotation(current.annotation).facts
        if record is None:
            plan.live(user, "no facts record")
            continue
        counted_from, uncoverable = _coverable_from(current, record, now)
        if counted_from is None:
            plan.live(user, uncoverable)
            continue
        if covered_from is None or counted_from < covered_from:
            plan.live(user, "outside the searched coverage")
            continue
        changed = changes.get(user.user_name.casefold())
        if changed is not None and changed >= counted_from:
            plan.live(user, "changed")
            continue
        facts = record.user_facts(user.user_name, user.user_id, user.arn, policy.exemption_tag)
        verdict = decide(facts, policy, now)
        if verdict.compliance_type.value != current.compliance_type or verdict.annotation != current.annotation:
            plan.live(user, "verdict would change")
            continue
        if record.from_credential_report and not _bounds_settled(record, current.recorded, facts, policy, now):
            plan.live(user, "not settled by the credential report's bounds")
            continue
        plan.carried.append(facts)
    return plan
