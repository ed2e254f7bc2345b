"""What the rule knows about one IAM user: plain, immutable data with no AWS in it.

Example::

    user = UserFacts(
        user_name="bob", user_id="AIDAEXAMPLE0000000001",
        arn="arn:aws:iam::123456789012:user/bob",
        login_profile_created=datetime(2026, 1, 1, tzinfo=timezone.utc),
        mfa_devices=(MfaDevice("arn:aws:iam::123456789012:mfa/bob"),),
    )
    user.mfa_devices[0].mfa_type  # MfaType.VIRTUAL
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime

from .identifiers import ACCOUNT_ID


class MfaType(str, enum.Enum):
    """Kinds of MFA device, as told by the device's serial number."""

    VIRTUAL = "virtual"
    HARDWARE = "hardware"
    FIDO = "fido"
    SMS = "sms"
    # The credential report says only "mfa_active"; the kind cannot be seen there.
    UNVERIFIED = "unverified"
    # An IAM ARN of a resource kind we do not know: never trusted as MFA.
    UNRECOGNISED = "unrecognised"


# Kinds a user may choose in the AllowedMfaTypes parameter. SMS is not among them:
# AWS ended SMS MFA, so it never satisfies the rule.
SELECTABLE_MFA_TYPES: frozenset[MfaType] = frozenset({MfaType.VIRTUAL, MfaType.HARDWARE, MfaType.FIDO})

_IAM_ARN = re.compile(rf"^arn:[a-z0-9-]+:iam::{ACCOUNT_ID.pattern}:(?P<kind>[a-z0-9-]+)/")
_KIND_BY_ARN_RESOURCE = {"mfa": MfaType.VIRTUAL, "u2f": MfaType.FIDO, "sms-mfa": MfaType.SMS}


def classify_serial(serial_number: str) -> MfaType:
    """Tell the device kind from ListMFADevices' SerialNumber, in any partition.

    >>> classify_serial("arn:aws-cn:iam::123456789012:u2f/user/bob/fidosecuritykey1-ABC")
    <MfaType.FIDO: 'fido'>
    >>> classify_serial("GAKT12345678")
    <MfaType.HARDWARE: 'hardware'>
    """
    match = _IAM_ARN.match(serial_number)
    if match:
        return _KIND_BY_ARN_RESOURCE.get(match.group("kind"), MfaType.UNRECOGNISED)
    if serial_number.startswith("arn:"):
        return MfaType.UNRECOGNISED
    return MfaType.HARDWARE


@dataclass(frozen=True)
class MfaDevice:
    """One MFA device assigned to a user; its kind is told from the serial unless given."""

    serial_number: str
    mfa_type: MfaType = None  # type: ignore[assignment]  # set in __post_init__

    def __post_init__(self) -> None:
        if self.mfa_type is None:
            object.__setattr__(self, "mfa_type", classify_serial(self.serial_number))


@dataclass(frozen=True)
class UserFacts:
    """Everything the verdict needs about one IAM user.

    ``login_profile_created`` is the login profile's CreateDate, or ``None`` when
    the user has no console password. ``from_credential_report`` marks facts the bulk
    sweep settled from the credential report: then the time is only the earliest the
    profile can have been created, and the devices are only some of the user's (one of
    kind UNVERIFIED may be any kind, SMS included). Such facts settled one verdict at one
    moment; anything reusing them later must allow for every truth they leave open.

    ``tags`` are the user's IAM tags (key, value), or ``None`` when they were not read: they are read only
    for a user whose verdict an exemption tag could change (:func:`console_mfa.verdict.needs_tags`).
    """

    user_name: str
    user_id: str
    arn: str
    login_profile_created: datetime | None
    mfa_devices: tuple[MfaDevice, ...] = ()
    from_credential_report: bool = False
    tags: tuple[tuple[str, str], ...] | None = None

    @property
    def has_console_password(self) -> bool:
        return self.login_profile_created is not None
