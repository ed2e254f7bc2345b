"""The decision: one pure function from a user's facts and the policy to a verdict.

The Lambda, the CLI, the benchmark and the tests all call :func:`decide`; no other
code decides compliance.

Every annotation is the text for people first, then a short record of the facts it was
decided from, e.g. ``" [v1 pw=1767225600 mfa=fv]"`` (login profile created at that Unix
second, a FIDO and a virtual device) or ``" [v1 pw>=1767225600 mfa>=v]"`` (facts settled
from the credential report: the profile was created at that second or later, and the user
has these devices or more). The human text is cut to leave room, so the record always
survives Config's 256-character limit. The format and its reader, :func:`parse_annotation`,
live here side by side; the sweep rebuilds a user's facts from a held result's record, and
the organization report reads the found/allowed columns with the same reader. Outputs for
people show :func:`human_text` (the annotation without its record).

Example::

    verdict = decide(user, Policy(), now=datetime.now(timezone.utc))
    verdict.compliance_type   # ComplianceType.NON_COMPLIANT
    verdict.annotation        # "Console password but no allowed MFA device (found: none; ...) ... [v1 pw=... mfa=-]"
    parse_annotation(verdict.annotation).facts.mfa_types   # frozenset()
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from .exemptions import RECORD_TOKEN_PATTERN, Exemption, ExemptionTag
from .facts import MfaDevice, MfaType, UserFacts
from .policy import DEFAULT_EXEMPTION_TAG, Enforcement, Policy

# AWS Config rejects longer annotations.
ANNOTATION_LIMIT = 256


class ComplianceType(str, enum.Enum):
    COMPLIANT = "COMPLIANT"
    NON_COMPLIANT = "NON_COMPLIANT"
    NOT_APPLICABLE = "NOT_APPLICABLE"


class Reason(str, enum.Enum):
    """Why a verdict was reached; stable codes for machine-readable output."""

    EXEMPT = "exempt"
    EXEMPTION_TAG = "exemption_tag"
    NO_CONSOLE_PASSWORD = "no_console_password"  # noqa: S105 - a reason code, not a secret
    MFA_PRESENT = "mfa_present"
    GRACE_PERIOD = "grace_period"
    NO_ALLOWED_MFA = "no_allowed_mfa"
    USER_GONE = "user_gone"


@dataclass(frozen=True)
class Verdict:
    compliance_type: ComplianceType
    reason: Reason
    annotation: str


def _type_list(types: set[MfaType] | frozenset[MfaType]) -> str:
    return ", ".join(sorted(t.value for t in types))


def _allowed_types(user: UserFacts, policy: Policy) -> set[MfaType]:
    found = {device.mfa_type for device in user.mfa_devices}
    allowed = found & policy.allowed_mfa_types
    # The credential report hides the device kind; it can only count when every
    # selectable kind is allowed anyway.
    if MfaType.UNVERIFIED in found and policy.allows_every_mfa_type:
        allowed.add(MfaType.UNVERIFIED)
    return allowed


def grace_period_end(user: UserFacts, policy: Policy) -> datetime | None:
    """When the user's grace period ends (in UTC), or ``None`` without a console password."""
    if user.login_profile_created is None:
        return None
    return (user.login_profile_created + timedelta(days=policy.grace_period_days)).astimezone(timezone.utc)


# Said in a grace-period annotation, right after the day the grace ends, so it survives truncation.
_ENFORCEMENT_FROM_GRACE_END = {
    Enforcement.OFF: "",
    Enforcement.MANUAL: " From then an operator may enforce MFA (ForceMfa group).",
    Enforcement.AUTOMATIC: " MFA is enforced from then (ForceMfa group).",
}


def decide(user: UserFacts, policy: Policy, now: datetime) -> Verdict:
    """Decide one user's compliance. ``now`` must be timezone-aware.

    The exemption tag is weighed last, for a user who would otherwise be NON_COMPLIANT: only there can it
    change the verdict, so only there are a user's tags read (:func:`needs_tags`). Tags not read
    (``user.tags`` None) exempt nobody.
    """
    if policy.is_exempt(user):
        return _verdict(
            user,
            ComplianceType.NOT_APPLICABLE,
            Reason.EXEMPT,
            "Exempt from MFA by the rule parameter ExemptUsers.",
            policy,
        )
    if user.login_profile_created is None:
        return _verdict(
            user,
            ComplianceType.NOT_APPLICABLE,
            Reason.NO_CONSOLE_PASSWORD,
            "No console password (no login profile), so console MFA does not apply.",
            policy,
        )
    allowed_found = _allowed_types(user, policy)
    if allowed_found:
        return _verdict(
            user,
            ComplianceType.COMPLIANT,
            Reason.MFA_PRESENT,
            f"Console password with MFA: {_type_list(allowed_found)}.",
            policy,
        )

    found_types = {device.mfa_type for device in user.mfa_devices}
    found = _FOUND.format(_type_list(found_types) if found_types else "none")
    required = _ALLOWED.format(_type_list(policy.allowed_mfa_types))

    grace_ends = grace_period_end(user, policy)
    assert grace_ends is not None  # the user has a login profile (checked above)
    tag = ExemptionTag.of(user.tags, policy.exemption_tag)
    today = now.astimezone(timezone.utc).date()
    if now >= grace_ends and tag is not None and tag.honoured(today, policy.max_exemption_days):
        return _verdict(
            user,
            ComplianceType.NOT_APPLICABLE,
            Reason.EXEMPTION_TAG,
            f"Exempt from MFA through {tag.last_day:%Y-%m-%d} (UTC) by the user's tag {policy.exemption_tag}; "
            f"MFA is required from the next day ({found}).",
            policy,
        )
    refusal = None if tag is None else tag.refusal(today, policy.max_exemption_days)
    not_honoured = f" The tag {policy.exemption_tag} exempts nobody: {refusal}." if refusal else ""
    if now < grace_ends:
        return _verdict(
            user,
            ComplianceType.COMPLIANT,
            Reason.GRACE_PERIOD,
            # Short enough that the usual case (no device found, every kind allowed) fits beside the record.
            f"Console password, no allowed MFA ({found}); in the GracePeriodDays grace period, which ends "
            f"{grace_ends:%Y-%m-%d %H:%M} UTC.{_ENFORCEMENT_FROM_GRACE_END[policy.enforcement]} "
            f"Enable MFA ({required}) by then.",
            policy,
        )
    return _verdict(
        user,
        ComplianceType.NON_COMPLIANT,
        Reason.NO_ALLOWED_MFA,
        f"Console password but no allowed MFA device ({found}{_FOUND_ALLOWED_SEPARATOR}{required}).{not_honoured} "
        "Enable an allowed MFA device for this user or delete its console password.",
        policy,
    )


def needs_tags(user: UserFacts, policy: Policy, now: datetime) -> bool:
    """Whether the user's tags must be read: they are not, and the verdict would be NON_COMPLIANT without them.

    Facts gatherers ask this before ListUserTags, so the tags cost one IAM call per user who is not otherwise
    compliant, and none for anyone else.
    """
    return user.tags is None and decide(user, policy, now).reason is Reason.NO_ALLOWED_MFA


def active_exemption(user: UserFacts, policy: Policy, now: datetime) -> Exemption | None:
    """The exemption the user's tags grant today, with its owner and reason, or None (for the reports)."""
    if user.tags is None or decide(user, policy, now).reason is not Reason.EXEMPTION_TAG:
        return None
    return exemption_granted(user.tags, policy, now.astimezone(timezone.utc).date())


def exemption_granted(tags: Sequence[tuple[str, str]], policy: Policy, today: date) -> Exemption | None:
    """What ``tags`` grant on ``today``: the honoured exemption tag's day with its owner and reason, or None.

    Whether the user needs it (has no allowed MFA) is :func:`decide`'s; the organization report, which sees
    only Config's inventory of tags, lists every exemption granted.
    """
    tag = ExemptionTag.of(tags, policy.exemption_tag)
    if tag is None or tag.last_day is None or not tag.honoured(today, policy.max_exemption_days):
        return None
    values = dict(tags)
    return Exemption(
        tag.last_day, values.get(policy.exemption_owner_tag, ""), values.get(policy.exemption_reason_tag, "")
    )


def verdict_for_missing_user(why: str) -> Verdict:
    """The verdict for a user Config knows but IAM no longer has (deleted, out of scope).

    Its annotation carries no facts record: there are no facts to carry forward.
    """
    return Verdict(ComplianceType.NOT_APPLICABLE, Reason.USER_GONE, _cut(why, ANNOTATION_LIMIT))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _verdict(user: UserFacts, compliance_type: ComplianceType, reason: Reason, text: str, policy: Policy) -> Verdict:
    record = FactsRecord.of(user, policy.exemption_tag).as_text()
    return Verdict(compliance_type, reason, _cut(text, ANNOTATION_LIMIT - len(record)) + record)


# --- The annotation's format and its reader, side by side. ---

_FOUND = "found: {}"
_ALLOWED = "allowed: {}"
_FOUND_ALLOWED_SEPARATOR = "; "


def _reading(text_format: str) -> str:
    """A pattern that reads back the one ``{}`` of ``text_format``."""
    before, after = text_format.split("{}")
    return re.escape(before) + "(.*?)" + re.escape(after)


# What a NON_COMPLIANT annotation says between its parentheses, read back (the organization report's columns).
_FOUND_AND_ALLOWED = re.compile(_reading(_FOUND) + re.escape(_FOUND_ALLOWED_SEPARATOR) + _reading(_ALLOWED) + r"\)")

RECORD_VERSION = "v1"
# One letter per device kind in the record, so it stays short however many kinds a user has.
_KIND_LETTER = {
    MfaType.VIRTUAL: "v",
    MfaType.HARDWARE: "h",
    MfaType.FIDO: "f",
    MfaType.SMS: "s",
    MfaType.UNVERIFIED: "u",
    MfaType.UNRECOGNISED: "x",
}
_KIND_BY_LETTER = {letter: kind for kind, letter in _KIND_LETTER.items()}
_RECORD = re.compile(
    r" \[" + RECORD_VERSION + r" pw(?P<pw_bound>>?=)(?P<pw>\d{1,12}|-) mfa(?P<mfa_bound>>?=)(?P<mfa>[a-z]+|-)"
    r"(?: ex=(?P<ex>" + RECORD_TOKEN_PATTERN + r"))?\]$"
)
# The longest record, with every kind, a 12-digit time and an exemption day; decide() keeps this much room.
RECORD_MAX_LENGTH = len(f" [{RECORD_VERSION} pw>={10**11} mfa>={''.join(_KIND_LETTER.values())} ex=20261231]")


@dataclass(frozen=True)
class FactsRecord:
    """The facts a verdict was decided from, as the annotation records them.

    ``login_profile_created`` is whole seconds (rounded down: a grace period read back never ends
    later than the real one). ``from_credential_report`` as in :class:`~console_mfa.facts.UserFacts`.
    ``exemption`` is the state of the exemption tag (``ex=``: a day as eight digits, ``-`` absent,
    ``_`` empty, ``?`` not a date), or None when the tags were not read (no ``ex=``). Owner and reason
    are not recorded: they change no verdict.
    """

    login_profile_created: datetime | None
    mfa_types: frozenset[MfaType]
    from_credential_report: bool = False
    exemption: ExemptionTag | None = None

    @classmethod
    def of(cls, user: UserFacts, exemption_tag: str = DEFAULT_EXEMPTION_TAG) -> FactsRecord:
        created = user.login_profile_created
        if created is not None:
            created = datetime.fromtimestamp(int(created.timestamp() // 1), tz=timezone.utc)
        return cls(
            created,
            frozenset(d.mfa_type for d in user.mfa_devices),
            user.from_credential_report,
            ExemptionTag.of(user.tags, exemption_tag),
        )

    def as_text(self) -> str:
        bound = ">=" if self.from_credential_report else "="
        pw = "-" if self.login_profile_created is None else str(int(self.login_profile_created.timestamp()))
        mfa = "".join(sorted(_KIND_LETTER[kind] for kind in self.mfa_types)) or "-"
        exemption = "" if self.exemption is None else f" ex={self.exemption.record_token}"
        return f" [{RECORD_VERSION} pw{bound}{pw} mfa{bound}{mfa}{exemption}]"

    def user_facts(
        self, user_name: str, user_id: str, arn: str, exemption_tag: str = DEFAULT_EXEMPTION_TAG
    ) -> UserFacts:
        """The facts again, for the user as ListUsers names it today (one device per kind).

        The exemption tag is rebuilt under today's ``exemption_tag``; a result whose annotation names another
        tag then reads back differently, and its user is checked live.
        """
        devices = tuple(MfaDevice(f"recorded-{kind.value}", kind) for kind in sorted(self.mfa_types))
        tags = None if self.exemption is None else self.exemption.as_tags(exemption_tag)
        return UserFacts(
            user_name, user_id, arn, self.login_profile_created, devices, self.from_credential_report, tags
        )


@dataclass(frozen=True)
class ParsedAnnotation:
    """What :func:`parse_annotation` reads from an annotation.

    ``facts`` is None for an annotation without a record (written before records existed, by another
    rule, or for a user that is gone). ``found`` and ``allowed`` are "-" where the text names none.
    """

    text: str
    facts: FactsRecord | None
    found: str
    allowed: str


def parse_annotation(annotation: str) -> ParsedAnnotation:
    """Read an annotation :func:`decide` wrote: the human text, the facts record, found and allowed."""
    text, facts = annotation, None
    match = _RECORD.search(annotation)
    if match:
        facts = _facts_from(match)
        if facts is not None:
            text = annotation[: match.start()]
    found_allowed = _FOUND_AND_ALLOWED.search(text)
    found, allowed = (found_allowed.group(1).strip(), found_allowed.group(2).strip()) if found_allowed else ("-", "-")
    return ParsedAnnotation(text, facts, found, allowed)


def human_text(annotation: str) -> str:
    """The annotation as people should read it: its text without the facts record at the end.

    For every output a person reads (tables, markdown, CSV, HTML, findings, the organization report);
    Config keeps the whole annotation, since the sweep carries results forward from the record. An
    annotation without a record (older, another rule's, a gone user's) is returned as it is.

    Example::

        human_text("Console password with MFA: virtual. [v1 pw=1767225600 mfa=v]")
        # "Console password with MFA: virtual."
    """
    return parse_annotation(annotation).text


def _facts_from(match: re.Match[str]) -> FactsRecord | None:
    bounded = match.group("pw_bound") == ">="
    if bounded != (match.group("mfa_bound") == ">="):
        return None  # not a record decide() writes
    pw, mfa = match.group("pw"), match.group("mfa")
    letters = "" if mfa == "-" else mfa
    if any(letter not in _KIND_BY_LETTER for letter in letters):
        return None
    created = None if pw == "-" else datetime.fromtimestamp(int(pw), tz=timezone.utc)
    exemption = None
    if match.group("ex") is not None:
        exemption = ExemptionTag.from_record_token(match.group("ex"))
        if exemption is None:
            return None
    return FactsRecord(created, frozenset(_KIND_BY_LETTER[letter] for letter in letters), bounded, exemption)
