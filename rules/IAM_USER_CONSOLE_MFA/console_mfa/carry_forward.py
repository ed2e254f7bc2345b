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
(b) **CloudTrail shows no change since.** No event of ``CHANGING_EVENTS`` names the user (by its
    current name; a rename names both) from the moment its facts were read, less a margin, up to now
    (:func:`changes_count_from`). That moment is the result's OrderingTimestamp, which this rule sets to
    its sweep's start, before any IAM read; the margin (``PROPAGATION_MARGIN``) covers IAM's
    propagation and the clocks of CloudTrail and Lambda. Facts the bulk sweep settled from the
    credential report and CloudTrail are only as fresh as what CloudTrail had delivered when it looked,
    so theirs count ``CLOUDTRAIL_DELIVERY`` earlier still. A result with no usable OrderingTimestamp
    (none, or one after its recording) counts from its recorded time less a Lambda's run (``LAMBDA_RUN``)
    between the read and Config's recording. The search starts at the
    oldest carried result, so a late-delivered event is still seen by the next sweep: a result not
    re-sent keeps its timestamps. For the same reason the sweep re-sends the result of every user it
    checks live, changed or not (``SweepResult.rerecord``): otherwise a change inside the margin would
    send its user to a live check on every later sweep.
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
# Where only the recorded time is known, the read was up to a Lambda's run before it:
LAMBDA_RUN = timedelta(minutes=15)
# CloudTrail delivers an event to LookupEvents up to about 15 minutes after the call:
CLOUDTRAIL_DELIVERY = timedelta(minutes=15)
# A live read's result known only by its recorded time counts changes from this far before it.
COVERAGE_MARGIN = LAMBDA_RUN + PROPAGATION_MARGIN
# CloudTrail's LookupEvents keeps this much history.
CLOUDTRAIL_HISTORY = timedelta(days=90)
RECONFIRMATION = "re-confirmation"


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


def changes_count_from(held: HeldResult, record: FactsRecord) -> datetime:
    """From when a change to the user makes its held result stale (see (b) in the module docstring).

    Example: a result read live by a sweep that began at 12:00 (its OrderingTimestamp) counts changes from
    11:55; one the bulk sweep settled from the credential report and CloudTrail, from 11:40.
    """
    if held.ordered is not None and held.ordered <= held.recorded:
        facts_read_after = held.ordered
    else:
        facts_read_after = held.recorded - LAMBDA_RUN
    # Facts settled from CloudTrail are only as fresh as what CloudTrail had delivered when the sweep looked.
    margin = PROPAGATION_MARGIN + (CLOUDTRAIL_DELIVERY if record.from_credential_report else timedelta(0))
    return facts_read_after - margin


def coverage_start(
    held: Mapping[str, HeldResult], listed: Sequence[ListedUser], now: datetime, policy: Policy
) -> datetime | None:
    """Where CloudTrail must be searched from: the earliest :func:`changes_count_from` of a carriable result.

    None when no held result could be carried at all.
    """
    starts = []
    for user in listed:
        record = _carriable_record(held.get(user.user_id), now, user.user_id, policy)
        if record is not None:
            starts.append(changes_count_from(held[user.user_id], record))
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
        counted_from = changes_count_from(current, record)
        if covered_from is None or counted_from < covered_from:
            plan.live(user, "outside CloudTrail's coverage")
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
