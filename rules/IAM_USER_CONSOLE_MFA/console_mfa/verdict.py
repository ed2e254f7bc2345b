"""The decision: one pure function from a user's facts and the policy to a verdict.

The Lambda, the CLI, the benchmark and the tests all call :func:`decide`; no other
code decides compliance.

Example::

    verdict = decide(user, Policy(), now=datetime.now(timezone.utc))
    verdict.compliance_type   # ComplianceType.NON_COMPLIANT
    verdict.annotation        # "Console password but no MFA device. ..."
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from .facts import MfaType, UserFacts
from .policy import Enforcement, Policy

# AWS Config rejects longer annotations.
ANNOTATION_LIMIT = 256


class ComplianceType(str, enum.Enum):
    COMPLIANT = "COMPLIANT"
    NON_COMPLIANT = "NON_COMPLIANT"
    NOT_APPLICABLE = "NOT_APPLICABLE"


class Reason(str, enum.Enum):
    """Why a verdict was reached; stable codes for machine-readable output."""

    EXEMPT = "exempt"
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
    """Decide one user's compliance. ``now`` must be timezone-aware."""
    if policy.is_exempt(user):
        return _verdict(
            ComplianceType.NOT_APPLICABLE,
            Reason.EXEMPT,
            "Exempt from MFA by the rule parameter ExemptUsers.",
        )
    if user.login_profile_created is None:
        return _verdict(
            ComplianceType.NOT_APPLICABLE,
            Reason.NO_CONSOLE_PASSWORD,
            "No console password (no login profile), so console MFA does not apply.",
        )
    allowed_found = _allowed_types(user, policy)
    if allowed_found:
        return _verdict(
            ComplianceType.COMPLIANT,
            Reason.MFA_PRESENT,
            f"Console password with MFA: {_type_list(allowed_found)}.",
        )

    found_types = {device.mfa_type for device in user.mfa_devices}
    found = f"found: {_type_list(found_types)}" if found_types else "found: none"
    required = f"allowed: {_type_list(policy.allowed_mfa_types)}"

    grace_ends = grace_period_end(user, policy)
    assert grace_ends is not None  # the user has a login profile (checked above)
    if now < grace_ends:
        return _verdict(
            ComplianceType.COMPLIANT,
            Reason.GRACE_PERIOD,
            f"Console password without an allowed MFA device ({found}); inside the "
            f"GracePeriodDays grace period, which ends {grace_ends:%Y-%m-%d %H:%M} UTC."
            f"{_ENFORCEMENT_FROM_GRACE_END[policy.enforcement]} Enable MFA ({required}) before then.",
        )
    return _verdict(
        ComplianceType.NON_COMPLIANT,
        Reason.NO_ALLOWED_MFA,
        f"Console password but no allowed MFA device ({found}; {required}). "
        "Enable an allowed MFA device for this user or delete its console password.",
    )


def verdict_for_missing_user(why: str) -> Verdict:
    """The verdict for a user Config knows but IAM no longer has (deleted, out of scope)."""
    return _verdict(ComplianceType.NOT_APPLICABLE, Reason.USER_GONE, why)


def _verdict(compliance_type: ComplianceType, reason: Reason, annotation: str) -> Verdict:
    if len(annotation) > ANNOTATION_LIMIT:
        annotation = annotation[: ANNOTATION_LIMIT - 3] + "..."
    return Verdict(compliance_type, reason, annotation)
