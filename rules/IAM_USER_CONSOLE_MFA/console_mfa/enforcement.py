"""Enforcement: whether the remediation may put a user into the ForceMfa group now, and what to tell operators.

Pure, like :func:`console_mfa.verdict.decide`: facts, policy and the time in; an assessment or a
message out. The verdict comes from ``decide()`` itself; this module only says what the
remediation does with it. It acts for a NON_COMPLIANT user only, because Config's automatic
remediation works from a compliance snapshot and can fire on a user who has since complied.

Example::

    assessment = assess(user, policy, now)
    assessment.act        # True only if decide() says NON_COMPLIANT now and enforcement is on
    assessment.outcome    # Outcome.NOT_NON_COMPLIANT, Outcome.USER_GONE, ... when it does not act
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from .facts import UserFacts
from .iam_facts import MissingUser
from .policy import Enforcement, Policy
from .verdict import ComplianceType, Reason, Verdict, decide, grace_period_end

# A small default: a bug, a bulk import or a wrong parameter locks out at most this many users a day.
DEFAULT_MAX_ENFORCEMENTS_PER_DAY = 5
MAX_ENFORCEMENTS_PER_DAY = 100
DEFAULT_NOTICE_DAYS = 7
MAX_NOTICE_DAYS = 90
# SNS caps a subject at 100 characters; a message at 256 KB, so long lists are sent in parts.
SUBJECT_LIMIT = 100
USERS_PER_MESSAGE = 200


class Outcome(str, enum.Enum):
    """What one remediation did. Stable codes: they appear in the log line and the function's answer."""

    ENFORCED = "enforced"
    ALREADY_IN_GROUP = "already_in_group"
    NOT_NON_COMPLIANT = "not_non_compliant"
    USER_GONE = "user_gone"
    ENFORCEMENT_OFF = "enforcement_off"
    DAILY_LIMIT_REACHED = "daily_limit_reached"


@dataclass(frozen=True)
class Assessment:
    """Whether to act on one user; ``why`` is a sentence for the log and the operators."""

    act: bool
    outcome: Outcome | None
    why: str
    verdict: Verdict | None = None
    grace_ended: datetime | None = None


def assess(user: UserFacts | MissingUser | None, policy: Policy, now: datetime) -> Assessment:
    """Act only when enforcement is on and ``decide()`` says NON_COMPLIANT now.

    ``user`` is ``None`` when IAM has no user with the UserId Config named. Exempt users, users in
    their grace period, without a console password or holding an allowed device are never acted on:
    ``decide()`` does not call them NON_COMPLIANT.
    """
    if policy.enforcement is Enforcement.OFF:
        return Assessment(False, Outcome.ENFORCEMENT_OFF, "The rule parameter Enforcement is off.")
    if user is None:
        return Assessment(False, Outcome.USER_GONE, "IAM has no user with this UserId (deleted).")
    if isinstance(user, MissingUser):
        return Assessment(False, Outcome.USER_GONE, user.why)
    verdict = decide(user, policy, now)
    grace_ended = grace_period_end(user, policy)
    if verdict.compliance_type is not ComplianceType.NON_COMPLIANT:
        return Assessment(
            False,
            Outcome.NOT_NON_COMPLIANT,
            f"The user is {verdict.compliance_type.value} now ({verdict.reason.value}); nothing to enforce.",
            verdict,
            grace_ended,
        )
    return Assessment(True, None, verdict.annotation, verdict, grace_ended)


def notice_due(user: UserFacts, policy: Policy, now: datetime, notice_days: int) -> datetime | None:
    """The end of the user's grace period if it is in grace and the grace ends within ``notice_days``.

    Only users enforcement will reach: enforcement on, and ``decide()`` says grace period.
    """
    if policy.enforcement is Enforcement.OFF:
        return None
    if decide(user, policy, now).reason is not Reason.GRACE_PERIOD:
        return None
    ends = grace_period_end(user, policy)
    if ends is None or ends - timedelta(days=notice_days) > now:
        return None
    return ends


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


def _subject(text: str) -> str:
    return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 3] + "..."


def enforced_message(
    user: UserFacts, assessment: Assessment, account_id: str, group: str, now: datetime
) -> dict[str, str]:
    """SNS Subject and Message for a user just put into the ForceMfa group: who, why, when the grace ended."""
    lines = [
        f"MFA is now enforced for IAM user {user.user_name} ({user.user_id}) in account {account_id}.",
        f"When: {_when(now)}. Their grace period ended: {_when(assessment.grace_ended)}.",
        f"Why: {assessment.why}",
        f"The user is in the group {group}: until they sign in with MFA, everything is denied except setting up",
        "their own MFA device and changing their password. Send them docs/enforcement-user-guide.md.",
        f"Undo: aws iam remove-user-from-group --group-name {group} --user-name {user.user_name}",
        "(and add the user to ExemptUsers if they must never be enforced).",
    ]
    return {"Subject": _subject(f"MFA enforced: {user.user_name} in {account_id}"), "Message": "\n".join(lines)}


def limit_reached_message(
    user: UserFacts, assessment: Assessment, account_id: str, limit: int, now: datetime
) -> dict[str, str]:
    """SNS Subject and Message for a user held back because today's enforcements reached the limit."""
    lines = [
        f"MFA enforcement held back in account {account_id}: {limit} user(s) were already enforced today "
        f"(MaxEnforcementsPerDay = {limit}), so nobody more is enforced until tomorrow (UTC).",
        f"Held back: IAM user {user.user_name} ({user.user_id}), grace period ended {_when(assessment.grace_ended)}.",
        f"Why it was due: {assessment.why}",
        "If many users are due at once, check first that this is right (a wrong GracePeriodDays or AllowedMfaTypes,",
        "a bulk import), then enforce them by hand with the Config console's Remediate action, or raise the limit.",
        f"Checked at {_when(now)}.",
    ]
    return {
        "Subject": _subject(f"MFA enforcement held back: daily limit {limit} reached in {account_id}"),
        "Message": "\n".join(lines),
    }


def notice_messages(
    due: list[tuple[UserFacts, datetime]],
    unenforced: list[UserFacts],
    account_id: str,
    policy: Policy,
    notice_days: int,
) -> list[dict[str, str]]:
    """Messages for the daily notice: users whose grace ends soon (each announced once), and
    NON_COMPLIANT users not (yet) in the ForceMfa group. Empty when there is nothing to say."""
    entries = [f"{user.user_name} ({user.user_id}): grace ends {_when(ends)}" for user, ends in due]
    entries += [f"{user.user_name} ({user.user_id}): NON_COMPLIANT, not in the ForceMfa group" for user in unenforced]
    if not entries:
        return []
    next_step = {
        Enforcement.AUTOMATIC: "AWS Config puts them into the ForceMfa group when their grace ends.",
        Enforcement.MANUAL: (
            "An operator may put them into the ForceMfa group (Config console: Remediate) once their grace ends."
        ),
    }.get(policy.enforcement, "")
    header = (
        f"IAM users in account {account_id} without an allowed MFA device: {len(due)} whose grace period ends "
        f"within {notice_days} day(s) (each is announced once), {len(unenforced)} NON_COMPLIANT and not enforced. "
        f"{next_step} Tell them now; the instructions are in docs/enforcement-user-guide.md."
    )
    parts = [entries[i : i + USERS_PER_MESSAGE] for i in range(0, len(entries), USERS_PER_MESSAGE)]
    return [
        {
            "Subject": _subject(
                f"MFA enforcement notice for {account_id}" + (f" ({number}/{len(parts)})" if len(parts) > 1 else "")
            ),
            "Message": "\n".join([header, "", *part]),
        }
        for number, part in enumerate(parts, start=1)
    ]
