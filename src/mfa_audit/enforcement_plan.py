"""The enforcement plan: who the remediation would enforce now, and when it starts for each user in grace.

Nothing here decides: ``console_mfa.enforcement.assess`` says whether to act and when a user's
enforcement grace ends (which counts from the day enforcement started in the account, too). This module
only lists its answers.

Example::

    plan = enforcement_plan(users, policy, now, enforcement_started=now)   # turned on now: nobody yet
    [entry.user_name for entry in plan if entry.enforce_now]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone

from console_mfa.enforcement import Outcome, assess
from console_mfa.facts import UserFacts
from console_mfa.policy import Enforcement, Policy
from console_mfa.verdict import Reason, active_exemption, decide, human_text

from mfa_audit.formats import UnknownFormatError

PLAN_FORMATS = ("table", "json")


@dataclass(frozen=True)
class PlanEntry:
    """One user the plan names: enforced now, or in grace (or exempt by tag) until ``enforcement_starts``."""

    user_name: str
    arn: str
    enforce_now: bool
    enforcement_starts: datetime | None
    why: str
    exempt: bool = False

    def as_dict(self) -> dict[str, object]:
        starts = None if self.enforcement_starts is None else self.enforcement_starts.isoformat()
        return {
            "user_name": self.user_name,
            "arn": self.arn,
            "action": "enforce_now" if self.enforce_now else "exempt" if self.exempt else "in_grace",
            "enforcement_starts": starts,
            "why": self.why,
        }


def enforcement_plan(
    users: Sequence[UserFacts], policy: Policy, now: datetime, enforcement_started: datetime
) -> list[PlanEntry]:
    """Users ``assess()`` would act on now, then users in grace (or exempt by tag) with the day it ends, by name.

    ``enforcement_started``: the day enforcement was first on in the account (``mfa-audit enforcement
    status`` shows it); ``now`` for an account where it is not on yet. Each user's first password is taken
    to be its current one (the ledger may know an earlier one).
    """
    entries = []
    for user in users:
        assessment = assess(user, policy, now, enforcement_started)
        exemption = active_exemption(user, policy, now)
        verdict = decide(user, policy, now)
        if assessment.act:
            entries.append(PlanEntry(user.user_name, user.arn, True, assessment.grace_ended, assessment.why))
        elif exemption is not None:
            ends = datetime.combine(exemption.last_day + timedelta(days=1), time(), timezone.utc)
            starts = None if policy.enforcement is Enforcement.OFF else ends
            why = human_text(verdict.annotation)
            entries.append(PlanEntry(user.user_name, user.arn, False, starts, why, exempt=True))
        elif assessment.outcome is Outcome.IN_GRACE or (
            policy.enforcement is Enforcement.OFF and verdict.reason is Reason.GRACE_PERIOD
        ):
            starts = None if policy.enforcement is Enforcement.OFF else assessment.grace_ended
            why = human_text(verdict.annotation) if verdict.reason is Reason.GRACE_PERIOD else assessment.why
            entries.append(PlanEntry(user.user_name, user.arn, False, starts, why))
    return sorted(entries, key=lambda entry: (not entry.enforce_now, entry.user_name.casefold(), entry.arn))


def render_plan(name: str, plan: Sequence[PlanEntry], policy: Policy, now: datetime) -> str:
    """The plan as ``table`` or ``json``; any other format is refused by name."""
    if name == "json":
        document = {
            "schema": "mfa-audit-enforcement-plan/v1",
            "generated": now.isoformat(),
            "parameters": {**policy.as_rule_parameters(), "Enforcement": policy.enforcement.value},
            "enforce_now": sum(entry.enforce_now for entry in plan),
            "users": [entry.as_dict() for entry in plan],
        }
        return json.dumps(document, indent=2)
    if name == "table":
        return _table(plan, policy)
    raise UnknownFormatError(
        f"output format {name!r} cannot render the enforcement plan; these can: {', '.join(PLAN_FORMATS)}"
    )


def _table(plan: Sequence[PlanEntry], policy: Policy) -> str:
    def when(entry: PlanEntry) -> str:
        if entry.enforce_now:
            return "now"
        if entry.enforcement_starts is None:
            return "never (Enforcement off)"
        return f"{entry.enforcement_starts:%Y-%m-%d %H:%M} UTC"

    width = max([len("USER"), *(len(entry.user_name) for entry in plan)])
    lines = [f"{'USER'.ljust(width)}  ENFORCEMENT"]
    lines += [f"{entry.user_name.ljust(width)}  {when(entry)}" for entry in plan]
    enforced = sum(entry.enforce_now for entry in plan)
    lines.append(f"{enforced} enforced now, {len(plan) - enforced} in grace (Enforcement={policy.enforcement.value})")
    return "\n".join(lines)
