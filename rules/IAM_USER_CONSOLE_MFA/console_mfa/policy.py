"""Rule parameters: validated once, before anything calls AWS.

Config hands the parameters over as a JSON object of strings. Every key is
checked; an unknown key or a bad value raises :class:`InvalidParameterError`
naming the key and what it accepts, so nothing is reported on a misconfigured rule.

Example::

    policy = parse_rule_parameters({"GracePeriodDays": "14", "AllowedMfaTypes": "fido"})
    policy.grace_period_days   # 14
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .exceptions import InvalidParameterError
from .facts import SELECTABLE_MFA_TYPES, MfaType, UserFacts
from .identifiers import ACCOUNT_ID

MAX_GRACE_PERIOD_DAYS = 365
# A result Config holds is sent again at least this often, even unchanged. Security Hub deletes
# findings not updated for 90 days, so the bound stays well below that.
DEFAULT_RECONFIRM_DAYS = 30
MAX_RECONFIRM_DAYS = 60
# Longer than any value a numeric parameter can take; refused before int() sees it.
MAX_NUMBER_DIGITS = 6

# rdklib reads these itself to choose the role and Region it works with.
RDKLIB_PARAMETERS = ("ExecutionRoleName", "ExecutionRoleRegion", "AssumeRoleMode")
RULE_PARAMETERS = (
    "ExemptUsers",
    "GracePeriodDays",
    "AllowedMfaTypes",
    "ReconfirmDays",
    "Enforcement",
    "ExemptionTag",
    "MaxExemptionDays",
)
DEFAULT_EXEMPTION_TAG = "mfa-exempt-until"
DEFAULT_MAX_EXEMPTION_DAYS = 90
MAX_EXEMPTION_DAYS = 365

# Matched in full (re.fullmatch): "$" would also accept a trailing newline.
_USER_NAME = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
_USER_ID = re.compile(r"AIDA[A-Z0-9]{12,124}")
_USER_ARN = re.compile(
    rf"arn:aws(-cn|-us-gov)?:iam::{ACCOUNT_ID.pattern}:user/([\w+=,.@/-]+/)?[\w+=,.@-]{{1,64}}", re.ASCII
)
# ExemptUsers' path entry: every user under the path, in one account or (``*``) in any.
_USER_PATH_ARN = re.compile(
    r"arn:(?P<partition>aws(-cn|-us-gov)?):iam::(?P<account>\d{12}|\*):user(?P<path>/([\w+=,.@-]+/)+)\*", re.ASCII
)
# IAM's tag keys: letters, digits, spaces and _.:/=+-@, up to 128; "aws:" is reserved for AWS.
_TAG_KEY = re.compile(r"[\w .:/=+@-]{1,128}")
_ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
_WHOLE_NUMBER = re.compile(r"[0-9]+")


class Enforcement(str, enum.Enum):
    """What happens to a NON_COMPLIANT user: nothing, the ForceMfa group on request, or by itself.

    The rule itself never acts; it names the day enforcement starts in a user's grace-period
    annotation. The remediation (``enforcement_handler``) reads it live and acts only when it is not off.
    """

    OFF = "off"
    MANUAL = "manual"
    AUTOMATIC = "automatic"


@dataclass(frozen=True)
class Policy:
    """The validated rule parameters. The defaults are the rule's defaults.

    Exemptions match by the form of each ``ExemptUsers`` item: a UserId only that UserId, a user
    ARN only that ARN, a path ARN (``arn:aws:iam::123456789012:user/breakglass/*``, the account may be
    ``*``) every user whose path begins with that path, anything else a user name. So a user *named*
    ``AIDA...`` is never exempted by an item meant as a UserId, and ``/breakglass/*`` never exempts
    ``/breakglass-old/``.

    ``exemption_tag`` names the user tag whose value is the last day of an exemption (see
    :mod:`console_mfa.exemptions`); ``max_exemption_days`` how far ahead that day may be.
    """

    exempt_user_ids: frozenset[str] = frozenset()
    # Case-folded: IAM user names (and so user ARNs) are unique regardless of case.
    exempt_arns: frozenset[str] = frozenset()
    exempt_names: frozenset[str] = frozenset()
    exempt_paths: frozenset[UserPath] = frozenset()
    grace_period_days: int = 0
    allowed_mfa_types: frozenset[MfaType] = field(default=SELECTABLE_MFA_TYPES)
    reconfirm_days: int = DEFAULT_RECONFIRM_DAYS
    enforcement: Enforcement = Enforcement.OFF
    exemption_tag: str = DEFAULT_EXEMPTION_TAG
    max_exemption_days: int = DEFAULT_MAX_EXEMPTION_DAYS
    # rdklib's own parameters (role, Region, mode) as validated: trimmed, blanks dropped, mode lower-case.
    role_parameters: tuple[tuple[str, str], ...] = ()

    @property
    def allows_every_mfa_type(self) -> bool:
        return self.allowed_mfa_types >= SELECTABLE_MFA_TYPES

    @property
    def exempt_users(self) -> frozenset[str]:
        return self.exempt_user_ids | self.exempt_arns | self.exempt_names | {str(path) for path in self.exempt_paths}

    @property
    def exemption_owner_tag(self) -> str:
        return exemption_companion_tag(self.exemption_tag, "owner")

    @property
    def exemption_reason_tag(self) -> str:
        return exemption_companion_tag(self.exemption_tag, "reason")

    def is_exempt(self, user: UserFacts) -> bool:
        return bool(
            (user.user_id is not None and user.user_id in self.exempt_user_ids)
            or user.arn.casefold() in self.exempt_arns
            or user.user_name.casefold() in self.exempt_names
            or any(path.holds(user.arn) for path in self.exempt_paths)
        )

    def as_rule_parameters(self) -> dict[str, str]:
        """The parameters that shape verdicts, in the form Config passes them (for display and re-use)."""
        return {
            "ExemptUsers": ",".join(sorted(self.exempt_users)),
            "GracePeriodDays": str(self.grace_period_days),
            "AllowedMfaTypes": ",".join(sorted(t.value for t in self.allowed_mfa_types)),
            "ExemptionTag": self.exemption_tag,
            "MaxExemptionDays": str(self.max_exemption_days),
        }


@dataclass(frozen=True)
class UserPath:
    """An ExemptUsers path entry: the users under ``path`` (e.g. ``/breakglass/``), nested paths included.

    Paths are compared as IAM spells them (case-sensitively), so an entry never exempts more than it names.

    >>> UserPath("aws", "*", "/breakglass/").holds("arn:aws:iam::123456789012:user/breakglass/eu/alice")
    True
    >>> UserPath("aws", "*", "/breakglass/").holds("arn:aws:iam::123456789012:user/breakglass-old/bob")
    False
    """

    partition: str
    account: str
    path: str

    def holds(self, user_arn: str) -> bool:
        parts = user_arn.split(":", 5)
        if len(parts) != 6 or parts[1] != self.partition or not parts[5].startswith("user/"):
            return False
        if self.account != "*" and parts[4] != self.account:
            return False
        user_path = parts[5][len("user") : parts[5].rindex("/") + 1]
        return user_path.startswith(self.path)

    def __str__(self) -> str:
        return f"arn:{self.partition}:iam::{self.account}:user{self.path}*"


def exemption_companion_tag(exemption_tag: str, role: str) -> str:
    """The owner's or reason's tag beside the exemption tag: its ``-until`` suffix replaced, else ``-{role}`` added.

    >>> exemption_companion_tag("mfa-exempt-until", "owner")
    'mfa-exempt-owner'
    >>> exemption_companion_tag("BreakGlassEnd", "reason")
    'BreakGlassEnd-reason'
    """
    stem = exemption_tag.removesuffix("-until")
    return f"{stem}-{role}"[:128]


def _list_items(parameter: str, value: str) -> list[str]:
    items = [item.strip() for item in value.split(",")]
    if any(not item for item in items):
        raise InvalidParameterError(parameter, f"empty item in the comma-separated list {value!r}")
    return items


def _exempt_users(value: str) -> tuple[frozenset[str], frozenset[str], frozenset[str], frozenset[UserPath]]:
    """(UserIds, ARNs, names, paths) named in ExemptUsers, each item by its form."""
    user_ids: set[str] = set()
    arns: set[str] = set()
    names: set[str] = set()
    paths: set[UserPath] = set()
    for item in _list_items("ExemptUsers", value):
        path = _USER_PATH_ARN.fullmatch(item)
        if path:
            paths.add(UserPath(path.group("partition"), path.group("account"), path.group("path")))
        elif _USER_ID.fullmatch(item):
            user_ids.add(item)
        elif _USER_ARN.fullmatch(item):
            arns.add(item.casefold())
        elif _USER_NAME.fullmatch(item):
            names.add(item.casefold())
        else:
            raise InvalidParameterError(
                "ExemptUsers",
                f"{item[:80]!r} is not an IAM user name, UserId (AIDA...), user ARN or path ARN ending in /*",
            )
    return frozenset(user_ids), frozenset(arns), frozenset(names), frozenset(paths)


def _tag_key(parameter: str, value: str) -> str:
    if not _TAG_KEY.fullmatch(value) or value.lower().startswith("aws:"):
        raise InvalidParameterError(
            parameter, f"{value[:80]!r} is not an IAM tag key (up to 128 letters, digits, spaces, _.:/=+-@; not aws:)"
        )
    return value


def _whole_number(parameter: str, value: str, lowest: int, highest: int) -> int:
    if len(value) > MAX_NUMBER_DIGITS or not _WHOLE_NUMBER.fullmatch(value) or not lowest <= int(value) <= highest:
        raise InvalidParameterError(
            parameter,
            f"{value[:20]!r}{'...' if len(value) > 20 else ''} is not a whole number from {lowest} to {highest}",
        )
    return int(value)


def _allowed_mfa_types(value: str) -> frozenset[MfaType]:
    choices = {t.value: t for t in SELECTABLE_MFA_TYPES}
    allowed: set[MfaType] = set()
    for item in _list_items("AllowedMfaTypes", value):
        if item.lower() not in choices:
            raise InvalidParameterError(
                "AllowedMfaTypes",
                f"{item[:80]!r} is not one of {', '.join(sorted(choices))}",
            )
        allowed.add(choices[item.lower()])
    return frozenset(allowed)


def _enforcement(value: str) -> Enforcement:
    choices = {e.value: e for e in Enforcement}
    if value.lower() not in choices:
        raise InvalidParameterError("Enforcement", f"{value[:80]!r} is not one of {', '.join(choices)}")
    return choices[value.lower()]


def _rdklib_parameter(key: str, value: str) -> str:
    """The value rdklib will be handed: validated, and AssumeRoleMode spelled as rdklib compares it."""
    if key == "ExecutionRoleName" and not _ROLE_NAME.fullmatch(value):
        raise InvalidParameterError(key, f"{value[:80]!r} is not an IAM role name")
    if key == "ExecutionRoleRegion" and not _REGION.fullmatch(value):
        raise InvalidParameterError(key, f"{value[:80]!r} is not an AWS Region code such as us-east-1")
    if key == "AssumeRoleMode":
        if value.lower() not in ("true", "false"):
            raise InvalidParameterError(key, f"{value[:80]!r} is not true or false")
        return value.lower()
    return value


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

    role_parameters = tuple((key, _rdklib_parameter(key, values[key])) for key in RDKLIB_PARAMETERS if key in values)
    exempt_user_ids, exempt_arns, exempt_names, exempt_paths = (
        _exempt_users(values["ExemptUsers"])
        if "ExemptUsers" in values
        else (frozenset(), frozenset(), frozenset(), frozenset())
    )
    policy = Policy()
    return Policy(
        exempt_user_ids=exempt_user_ids,
        exempt_arns=exempt_arns,
        exempt_names=exempt_names,
        exempt_paths=exempt_paths,
        exemption_tag=_tag_key("ExemptionTag", values["ExemptionTag"])
        if "ExemptionTag" in values
        else policy.exemption_tag,
        max_exemption_days=(
            _whole_number("MaxExemptionDays", values["MaxExemptionDays"], 1, MAX_EXEMPTION_DAYS)
            if "MaxExemptionDays" in values
            else policy.max_exemption_days
        ),
        role_parameters=role_parameters,
        grace_period_days=(
            _whole_number("GracePeriodDays", values["GracePeriodDays"], 0, MAX_GRACE_PERIOD_DAYS)
            if "GracePeriodDays" in values
            else policy.grace_period_days
        ),
        reconfirm_days=(
            _whole_number("ReconfirmDays", values["ReconfirmDays"], 1, MAX_RECONFIRM_DAYS)
            if "ReconfirmDays" in values
            else policy.reconfirm_days
        ),
        allowed_mfa_types=(
            _allowed_mfa_types(values["AllowedMfaTypes"]) if "AllowedMfaTypes" in values else policy.allowed_mfa_types
        ),
        enforcement=_enforcement(values["Enforcement"]) if "Enforcement" in values else policy.enforcement,
    )
