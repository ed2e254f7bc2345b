"""Enforcement: whether the remediation may put a user into the ForceMfa group now, and what to tell operators.

Pure, like :func:`console_mfa.verdict.decide`: facts, policy, the ledger's dates and the time in; an
assessment or a message out. The verdict comes from ``decide()`` itself; this module only says what
enforcement does with it. It acts only for a user with a console password and no allowed device whose
enforcement grace has ended (the latest of the first password's and the start of enforcement's
grace), checked live, because Config's automatic remediation works from a compliance snapshot and can
fire on a user who has since complied.

Example::

    assessment = assess(user, policy, now, enforcement_started, password_first_seen)
    assessment.act        # True only without an allowed device, enforcement on and the enforcement grace over
    assessment.outcome    # Outcome.IN_GRACE, Outcome.NOT_NON_COMPLIANT, Outcome.USER_GONE, ... when it does not act
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from .facts import MissingUser, UserFacts
from .policy import Enforcement, Policy
from .verdict import Reason, Verdict, decide

# A small default: a bug, a bulk import or a wrong parameter locks out at most this many users a day.
DEFAULT_MAX_ENFORCEMENTS_PER_DAY = 5
MAX_ENFORCEMENTS_PER_DAY = 100
# The organization's function: at most this many users a day across every member account together.
DEFAULT_MAX_ORGANIZATION_ENFORCEMENTS_PER_DAY = 20
MAX_ORGANIZATION_ENFORCEMENTS_PER_DAY = 1000
# Everyone who exists when enforcement starts (or the account joins the pack) has at least this long.
MIN_START_GRACE_DAYS = 14
# A user in grace is told when it starts, then this many days before it ends (each once).
REMINDER_DAYS = (14, 7, 3, 1)
START_STAGE = "start"
DEFAULT_RECENT_KEY_DAYS = 30
MAX_RECENT_KEY_DAYS = 365
# SNS caps a subject at 100 characters; a message at 256 KB, so long lists are sent in parts.
SUBJECT_LIMIT = 100
USERS_PER_MESSAGE = 200


class Outcome(str, enum.Enum):
    """What one remediation did. Stable codes: they appear in the log line and the function's answer.

    Every outcome but ENFORCED is a refusal, and a refusal is a success of the action: only a failure to
    check or to act raises.
    """

    ENFORCED = "enforced"
    ALREADY_IN_GROUP = "already_in_group"
    NOT_NON_COMPLIANT = "not_non_compliant"
    USER_GONE = "user_gone"
    ENFORCEMENT_OFF = "enforcement_off"
    PAUSED = "paused"
    IN_GRACE = "in_grace"
    MFA_DEVICE_NOT_ALLOWED = "mfa_device_not_allowed"
    ACCESS_KEYS_IN_USE = "access_keys_in_use"
    DAILY_LIMIT_REACHED = "daily_limit_reached"
    ORGANIZATION_LIMIT_REACHED = "organization_limit_reached"


# Refusals the user is told about (with why), and the operators in the daily digest.
HELD_BACK = (Outcome.MFA_DEVICE_NOT_ALLOWED, Outcome.ACCESS_KEYS_IN_USE)


@dataclass(frozen=True)
class Assessment:
    """Whether to act on one user; ``why`` is a sentence for the log and the operators."""

    act: bool
    outcome: Outcome | None
    why: str
    verdict: Verdict | None = None
    grace_ended: datetime | None = None


def enforcement_grace_end(policy: Policy, password_first_seen: datetime, enforcement_started: datetime) -> datetime:
    """When enforcement may reach a user: the latest of the password's grace and the start's grace.

    ``password_first_seen`` is the earliest console-password CreateDate recorded for the UserId (a
    re-created password does not move it); ``enforcement_started`` when enforcement was first on in
    the account, or the account joined the organization's pack. Everyone existing then gets
    ``GracePeriodDays``, and never less than ``MIN_START_GRACE_DAYS``.

    >>> day = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> enforcement_grace_end(Policy(grace_period_days=0), day - timedelta(days=400), day).date()
    datetime.date(2026, 1, 15)
    """
    from_password = password_first_seen + timedelta(days=policy.grace_period_days)
    from_start = enforcement_started + timedelta(days=max(policy.grace_period_days, MIN_START_GRACE_DAYS))
    return max(from_password, from_start).astimezone(timezone.utc)


def without_allowed_mfa(verdict: Verdict) -> bool:
    """Whether the verdict is of a console password without an allowed device (in the rule's grace or not)."""
    return verdict.reason in (Reason.NO_ALLOWED_MFA, Reason.GRACE_PERIOD)


def assess(
    user: UserFacts | MissingUser | None,
    policy: Policy,
    now: datetime,
    enforcement_started: datetime | None = None,
    password_first_seen: datetime | None = None,
) -> Assessment:
    """Act only when enforcement is on, the user has a password without an allowed device, and its
    enforcement grace (:func:`enforcement_grace_end`) has ended.

    ``user`` is ``None`` when IAM has no user with the UserId Config named. Exempt users, users without
    a console password or holding an allowed device are never acted on; nor is a user holding only
    devices of a kind not allowed (the ForceMfa policy cannot tell kinds apart: it would break their
    access keys and leave their console as it is). ``enforcement_started`` and ``password_first_seen``
    come from the ledger; without them nobody is acted on (the grace cannot be known).
    """
    if policy.enforcement is Enforcement.OFF:
        return Assessment(False, Outcome.ENFORCEMENT_OFF, "The rule parameter Enforcement is off.")
    if user is None:
        return Assessment(False, Outcome.USER_GONE, "IAM has no user with this UserId (deleted).")
    if isinstance(user, MissingUser):
        return Assessment(False, Outcome.USER_GONE, user.why)
    verdict = decide(user, policy, now)
    if not without_allowed_mfa(verdict):
        return Assessment(
            False,
            Outcome.NOT_NON_COMPLIANT,
            f"The user is {verdict.compliance_type.value} now ({verdict.reason.value}); nothing to enforce.",
            verdict,
        )
    assert user.login_profile_created is not None  # without_allowed_mfa: the user has a password
    if enforcement_started is None:
        raise ValueError("assess() needs the day enforcement started for a user without an allowed device")
    ends = enforcement_grace_end(policy, password_first_seen or user.login_profile_created, enforcement_started)
    if now < ends:
        return Assessment(
            False,
            Outcome.IN_GRACE,
            f"The user has no allowed MFA device, and is in the enforcement grace period until {_when(ends)} "
            f"(GracePeriodDays from the first password, and from the start of enforcement in the account, at least "
            f"{MIN_START_GRACE_DAYS} days).",
            verdict,
            ends,
        )
    if user.mfa_devices:
        kinds = ", ".join(sorted({device.mfa_type.value for device in user.mfa_devices}))
        return Assessment(
            False,
            Outcome.MFA_DEVICE_NOT_ALLOWED,
            f"The user has an MFA device of a kind not allowed ({kinds}); the ForceMfa group cannot require another "
            "kind (aws:MultiFactorAuthPresent is true with any), so the user is told and listed instead.",
            verdict,
            ends,
        )
    return Assessment(True, None, verdict.annotation, verdict, ends)


def notice_stage(grace_ends: datetime, now: datetime) -> str | None:
    """Which notice a user in grace is due: ``"start"`` while more than ``REMINDER_DAYS[0]`` days remain,
    else the reminder for the fewest days at least the days left (``"7"`` with 5 days left); ``None``
    when the grace has ended.

    >>> day = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> notice_stage(day + timedelta(days=5), day), notice_stage(day + timedelta(days=30), day)
    ('7', 'start')
    """
    left = grace_ends - now
    if left <= timedelta(0):
        return None
    due = [days for days in REMINDER_DAYS if left <= timedelta(days=days)]
    return str(min(due)) if due else START_STAGE


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


def _subject(text: str) -> str:
    return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 3] + "..."


@dataclass(frozen=True)
class Contact:
    """What a user's e-mail needs besides the user: where the instructions are, and whom to ask."""

    guide_url: str
    ask: str


def _what_breaks(group: str) -> list[str]:
    return [
        f"You will be put into the IAM group {group}. Until you sign in with MFA, everything is denied except",
        "setting up your own MFA device and changing your own password. That includes your access keys (the AWS CLI,",
        "SDKs and scripts): they are refused until you set up MFA, after which you are taken out of the group",
        "within a day and your keys work again. Security keys and passkeys cannot be used with the CLI or API.",
    ]


def user_notice(
    user: UserFacts, grace_ends: datetime, stage: str, account_id: str, group: str, policy: Policy, contact: Contact
) -> dict[str, str]:
    """The e-mail a user in grace receives (``stage``: ``"start"`` or a reminder's days): what, when, why, how."""
    kinds = ", ".join(sorted(kind.value for kind in policy.allowed_mfa_types))
    lines = [
        f"Hello {user.user_name},",
        "",
        f"your IAM user {user.user_name} in AWS account {account_id} has a console password but no MFA device "
        f"of an allowed kind ({kinds}).",
        f"What happens, and when: from {_when(grace_ends)} MFA is enforced for you, unless you set up MFA before.",
        *_what_breaks(group),
        "Why: the CIS AWS Foundations Benchmark requires MFA for every IAM user with a console password.",
        f"How: follow {contact.guide_url} (about five minutes).",
        f"Questions, or a reason you cannot: {contact.ask}.",
    ]
    reminder = "" if stage == START_STAGE else f" (reminder: {stage} day{'s' if stage != '1' else ''} left)"
    return {
        "Subject": _subject(f"Set up MFA for AWS account {account_id} by {grace_ends:%Y-%m-%d}{reminder}"),
        "Body": "\n".join(lines),
    }


def held_back_notice(user: UserFacts, assessment: Assessment, account_id: str, contact: Contact) -> dict[str, str]:
    """The e-mail a user held back from enforcement receives: why, and what to do."""
    lines = [
        f"Hello {user.user_name},",
        "",
        f"your IAM user {user.user_name} in AWS account {account_id} has a console password without an allowed MFA "
        "device, and its grace period has ended. MFA was not enforced for you yet, because:",
        assessment.why,
        f"Set up an allowed MFA device now: {contact.guide_url}. Questions: {contact.ask}.",
        "Your security team has been told.",
    ]
    return {"Subject": _subject(f"Action needed: MFA for AWS account {account_id}"), "Body": "\n".join(lines)}


def enforced_message(
    user: UserFacts, assessment: Assessment, account_id: str, group: str, now: datetime
) -> dict[str, str]:
    """SNS Subject and Message for a user just put into the ForceMfa group: who, why, when the grace ended."""
    lines = [
        f"MFA is now enforced for IAM user {user.user_name} ({user.user_id}) in account {account_id}.",
        f"When: {_when(now)}. Their grace period ended: {_when(assessment.grace_ended)}.",
        f"Why: {assessment.why}",
        f"The user is in the group {group}: until they sign in with MFA, everything is denied except setting up",
        "their own MFA device and changing their password, including their access keys. The daily run takes them",
        "out of the group once they have an allowed device. Send them docs/enforcement-user-guide.md.",
        f"Undo: aws iam remove-user-from-group --group-name {group} --user-name {user.user_name}",
        "(or mfa-audit enforcement undo; and add the user to ExemptUsers if they must never be enforced).",
    ]
    return {"Subject": _subject(f"MFA enforced: {user.user_name} in {account_id}"), "Message": "\n".join(lines)}


# The daily digest's sections, in order: what each list means to the operators.
DIGEST_SECTIONS = {
    "enforced": "Enforced today by the daily run",
    "released": "Taken out of the ForceMfa group (they have an allowed MFA device, are exempt or have no password)",
    Outcome.DAILY_LIMIT_REACHED.value: "Due, held back by MaxEnforcementsPerDay (enforced on a later day)",
    Outcome.ORGANIZATION_LIMIT_REACHED.value: "Due, held back by the organization's daily limit (enforced later)",
    Outcome.ACCESS_KEYS_IN_USE.value: "Due, held back: access keys used recently (told; decide, then enforce by hand)",
    Outcome.MFA_DEVICE_NOT_ALLOWED.value: "Due, not enforced: an MFA device of a kind not allowed (told)",
    "due": "Due and not enforced (Enforcement is manual, or enforcement is paused)",
    "no_address": "In grace, told nothing: no e-mail address in their tag (tell them yourselves)",
    "noticed": "Told by e-mail today (notice or reminder)",
    "not_reached": "Member accounts the daily run had no time for (first in line tomorrow)",
}


def digest_messages(sections: dict[str, list[str]], scope: str, paused_why: str | None) -> list[dict[str, str]]:
    """The operators' one daily message (in parts past ``USERS_PER_MESSAGE`` lines); empty when nothing happened.

    ``sections`` maps a key of ``DIGEST_SECTIONS`` to its entries (one user each); ``scope`` names where
    (``"account 123456789012"``, ``"organization o-..."``).
    """
    entries: list[str] = []
    for key, title in DIGEST_SECTIONS.items():
        listed = sections.get(key, [])
        if listed:
            entries += [f"{title}: {len(listed)}", *(f"  {entry}" for entry in listed)]
    if not entries and paused_why is None:
        return []
    header = f"MFA enforcement, daily digest for {scope}."
    if paused_why is not None:
        header += f" Enforcement is PAUSED: {paused_why} Nobody is enforced until it is resumed."
    parts = [entries[i : i + USERS_PER_MESSAGE] for i in range(0, len(entries), USERS_PER_MESSAGE)] or [[]]
    return [
        {
            "Subject": _subject(
                f"MFA enforcement digest for {scope}" + (f" ({number}/{len(parts)})" if len(parts) > 1 else "")
            ),
            "Message": "\n".join([header, "", *part]),
        }
        for number, part in enumerate(parts, start=1)
    ]


def described(user: UserFacts, why: str) -> str:
    """One digest entry."""
    return f"{user.user_name} ({user.user_id}): {why}"
