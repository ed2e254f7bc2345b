"""Build IAM users in an emulated (moto) account, in every state the rule tells apart.

Users are created through the real IAM API calls; only the login profile's age
is set behind moto's back, because IAM itself offers no way to backdate it.

Example::

    with mock_aws():
        iam = boto3.client("iam")
        user = create_user(iam, SeedUser("bob", console_password=True, devices=("fido",)))
"""

from __future__ import annotations

import os
import secrets
import string
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from botocore.client import BaseClient

DEFAULT_ACCOUNT_ID = "123456789012"
# Kinds of device a seeded user can hold; the serial formats are IAM's own.
DEVICE_KINDS = ("virtual", "hardware", "fido", "sms")


@dataclass(frozen=True)
class SeedUser:
    """One user to create. ``password_age_days`` backdates the login profile; ``tags`` are set by TagUser."""

    name: str
    console_password: bool = False
    devices: tuple[str, ...] = ()
    password_age_days: int = 400
    tags: tuple[tuple[str, str], ...] = ()
    path: str = "/"


def device_serial(kind: str, user_name: str, account_id: str, index: int = 0, partition: str = "aws") -> str:
    if kind == "virtual":
        return f"arn:{partition}:iam::{account_id}:mfa/{user_name}" + (f"-{index}" if index else "")
    if kind == "fido":
        return f"arn:{partition}:iam::{account_id}:u2f/user/{user_name}/fidosecuritykey{index + 1}-KEYID{index}"
    if kind == "sms":
        return f"arn:{partition}:iam::{account_id}:sms-mfa/{user_name}"
    if kind == "hardware":
        return f"GAKT{zlib.crc32(f'{user_name}/{index}'.encode()) % 10**8:08d}"
    raise ValueError(f"unknown device kind {kind!r}; expected one of {DEVICE_KINDS}")


_FAKE_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "AKIAEMULATEDDEMO0001",
    "AWS_SECRET_ACCESS_KEY": "emulated-demo-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@contextmanager
def environment(values: Mapping[str, str], unset: Sequence[str] = ()) -> Iterator[None]:
    """Environment variables set (and ``unset`` removed) for the block, as they were afterwards.

    Example::

        with environment({"SWEEP_STRATEGY": "live"}):
            lambda_handler(event, context)
    """
    saved = {name: os.environ.get(name) for name in (*values, *unset)}
    os.environ.update(values)
    for name in unset:
        os.environ.pop(name, None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def emulated_credentials() -> AbstractContextManager[None]:
    """Fake credentials for an emulated account, and no AWS_PROFILE: a demo never touches a real account."""
    return environment(_FAKE_ENVIRONMENT, unset=("AWS_PROFILE",))


def create_user(iam: BaseClient, seed: SeedUser) -> dict[str, Any]:
    """Create the user with its console password and MFA devices; return IAM's User."""
    user = iam.create_user(UserName=seed.name, Path=seed.path)["User"]
    account_id = user["Arn"].split(":")[4]
    user["UserId"] = _give_realistic_user_id(account_id, seed.name)
    if seed.tags:
        # Tagged after creation, as an exemption is granted: CloudTrail records a TagUser naming its keys.
        iam.tag_user(UserName=seed.name, Tags=[{"Key": key, "Value": value} for key, value in seed.tags])
        user["Tags"] = [{"Key": key, "Value": value} for key, value in seed.tags]
    if seed.console_password:
        iam.create_login_profile(UserName=seed.name, Password="Emulated-Passw0rd!")  # noqa: S106 - emulated account
    for index, kind in enumerate(seed.devices):
        if kind == "virtual":
            serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=f"{seed.name}-{index}")["VirtualMFADevice"][
                "SerialNumber"
            ]
        else:
            serial = device_serial(kind, seed.name, account_id, index)
        iam.enable_mfa_device(
            UserName=seed.name, SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
        )
    if seed.console_password:
        set_password_age(account_id, seed.name, timedelta(days=seed.password_age_days))
    return user


def _give_realistic_user_id(account_id: str, user_name: str, partition: str = "aws") -> str:
    """moto's UserIds are random lower-case strings; IAM's are AIDA plus upper-case letters and digits."""
    from moto.iam.models import iam_backends

    user = iam_backends[account_id][partition].users[user_name]
    user.id = "AIDA" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(17))
    return user.id


def set_password_age(account_id: str, user_name: str, age: timedelta, partition: str = "aws") -> None:
    """Backdate the login profile; moto reports the user's creation time as its CreateDate."""
    from moto.iam.models import iam_backends

    user = iam_backends[account_id][partition].users[user_name]
    user.create_date = (datetime.now(timezone.utc) - age).replace(tzinfo=None)


def mark_access_key_used(account_id: str, access_key_id: str, when: datetime, partition: str = "aws") -> None:
    """Record a use of the access key at ``when``, as IAM's GetAccessKeyLastUsed then reports it."""
    from moto.iam.models import AccessKeyLastUsed, iam_backends

    key = iam_backends[account_id][partition].access_keys[access_key_id]
    key.last_used = AccessKeyLastUsed(timestamp=when.replace(tzinfo=None), service="s3", region="us-east-1")
