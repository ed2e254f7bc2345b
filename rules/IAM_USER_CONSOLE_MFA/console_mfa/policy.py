"""Rule parameters: validated once, before anything calls AWS.

Config hands the parameters over as a JSON object of strings. Every key is
checked; an unknown key or a bad value raises :class:`InvalidParameterError`
naming the key and what it accepts, so nothing is reported on a misconfigured rule.

Example::

    policy = parse_rule_parameters({"GracePeriodDays": "14", "AllowedMfaTypes": "fido"})
    policy.grace_period_days   # 14
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .exceptions import InvalidParameterError
from .facts import SELECTABLE_MFA_TYPES, MfaType, UserFacts

MAX_GRACE_PERIOD_DAYS = 365

# rdklib reads these itself to choose the role and Region it works with.
RDKLIB_PARAMETERS = ("ExecutionRoleName", "ExecutionRoleRegion", "AssumeRoleMode")
RULE_PARAMETERS = ("ExemptUsers", "GracePeriodDays", "AllowedMfaTypes")

_USER_NAME = re.compile(r"^[\w+=,.@-]{1,64}$", re.ASCII)
_USER_ID = re.compile(r"^AIDA[A-Z0-9]{12,124}$")
_USER_ARN = re.compile(r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:user/([\w+=,.@/-]+/)?[\w+=,.@-]{1,64}$", re.ASCII)
_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$", re.ASCII)
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_WHOLE_NUMBER = re.compile(r"^[0-9]+$")


@dataclass(frozen=True)
class Policy:
    """The validated rule parameters. The defaults are the rule's defaults."""

    exempt_users: frozenset[str] = frozenset()
    grace_period_days: int = 0
    allowed_mfa_types: frozenset[MfaType] = field(default=SELECTABLE_MFA_TYPES)

    @property
    def allows_every_mfa_type(self) -> bool:
        return self.allowed_mfa_types >= SELECTABLE_MFA_TYPES

    def is_exempt(self, user: UserFacts) -> bool:
        # IAM user names and ARNs are unique regardless of case; UserIds are exact.
        return bool(
            user.user_id in self.exempt_users
            or user.user_name.casefold() in self.exempt_users
            or user.arn.casefold() in self.exempt_users
        )

    def as_rule_parameters(self) -> dict[str, str]:
        """The parameters in the form Config passes them (for display and re-use)."""
        return {
            "ExemptUsers": ",".join(sorted(self.exempt_users)),
            "GracePeriodDays": str(self.grace_period_days),
            "AllowedMfaTypes": ",".join(sorted(t.value for t in self.allowed_mfa_types)),
        }


def _list_items(parameter: str, value: str) -> list[str]:
    items = [item.strip() for item in value.split(",")]
    if any(not item for item in items):
        raise InvalidParameterError(parameter, f"empty item in the comma-separated list {value!r}")
    return items


def _exempt_users(value: str) -> frozenset[str]:
    exempt: set[str] = set()
    for item in _list_items("ExemptUsers", value):
        if _USER_ID.match(item):
            exempt.add(item)
        if _USER_NAME.match(item) or _USER_ARN.match(item):
            exempt.add(item.casefold())
        elif not _USER_ID.match(item):
            raise InvalidParameterError(
                "ExemptUsers",
                f"{item!r} is not an IAM user name, UserId (AIDA...) or user ARN",
            )
    return frozenset(exempt)


def _grace_period_days(value: str) -> int:
    if not _WHOLE_NUMBER.match(value) or int(value) > MAX_GRACE_PERIOD_DAYS:
        raise InvalidParameterError(
            "GracePeriodDays",
            f"{value!r} is not a whole number from 0 to {MAX_GRACE_PERIOD_DAYS}",
        )
    return int(value)


def _allowed_mfa_types(value: str) -> frozenset[MfaType]:
    choices = {t.value: t for t in SELECTABLE_MFA_TYPES}
    allowed: set[MfaType] = set()
    for item in _list_items("AllowedMfaTypes", value):
        if item.lower() not in choices:
            raise InvalidParameterError(
                "AllowedMfaTypes",
                f"{item!r} is not one of {', '.join(sorted(choices))}",
            )
        allowed.add(choices[item.lower()])
    return frozenset(allowed)


def _check_rdklib_parameter(key: str, value: str) -> None:
    if key == "ExecutionRoleName" and not _ROLE_NAME.match(value):
        raise InvalidParameterError(key, f"{value!r} is not an IAM role name")
    if key == "ExecutionRoleRegion" and not _REGION.match(value):
        raise InvalidParameterError(key, f"{value!r} is not an AWS Region code such as us-east-1")
    if key == "AssumeRoleMode" and value.lower() not in ("true", "false"):
        raise InvalidParameterError(key, f"{value!r} is not true or false")


def parse_rule_parameters(raw: Mapping[str, object]) -> Policy:
    """Validate Config's rule parameters and return the policy they describe.

    A value that is empty or only blanks counts as not set, because CloudFormation
    and conformance packs pass an empty string for an optional parameter left blank.
    """
    known = RULE_PARAMETERS + RDKLIB_PARAMETERS
    values: dict[str, str] = {}
    for key, value in raw.items():
        if key not in known:
            raise InvalidParameterError(str(key), f"unknown parameter; allowed: {', '.join(known)}")
        if not isinstance(value, str):
            raise InvalidParameterError(key, f"must be a string, got {type(value).__name__}")
        if value.strip():
            values[key] = value.strip()

    for key in RDKLIB_PARAMETERS:
        if key in values:
            _check_rdklib_parameter(key, values[key])

    policy = Policy()
    return Policy(
        exempt_users=_exempt_users(values["ExemptUsers"]) if "ExemptUsers" in values else policy.exempt_users,
        grace_period_days=(
            _grace_period_days(values["GracePeriodDays"]) if "GracePeriodDays" in values else policy.grace_period_days
        ),
        allowed_mfa_types=(
            _allowed_mfa_types(values["AllowedMfaTypes"]) if "AllowedMfaTypes" in values else policy.allowed_mfa_types
        ),
    )
