"""AWS identifiers, defined once: account and organization ids, and the parts of an ARN.

Pure: no AWS here. Every entry point and reader that checks an account id, an organization id or takes
the partition or account out of an ARN uses these, so the three functions cannot disagree on what an
account id is.

Example::

    ACCOUNT_ID.fullmatch("123456789012")                                       # a match
    partition_of("arn:aws-us-gov:iam::123456789012:user/bob")                  # "aws-us-gov"
    account_of("arn:aws:lambda:us-east-1:123456789012:function:rule")          # "123456789012"
"""

from __future__ import annotations

import re
from typing import Any

ACCOUNT_ID = re.compile(r"[0-9]{12}")
# The organization id's documented shape: "o-" and 10 to 32 lower-case letters or digits.
ORGANIZATION_ID = re.compile(r"o-[a-z0-9]{10,32}")
DEFAULT_PARTITION = "aws"


def _arn_parts(arn: object) -> list[str] | None:
    """arn:partition:service:region:account:resource, or ``None`` for anything that is not an ARN."""
    if not isinstance(arn, str):
        return None
    parts = arn.split(":", 5)
    return parts if len(parts) == 6 and parts[0] == "arn" and parts[1] else None


def partition_of(arn: object, default: str = DEFAULT_PARTITION) -> str:
    """The ARN's partition (``aws``, ``aws-cn``, ``aws-us-gov``); ``default`` for what is not an ARN.

    >>> partition_of("arn:aws-cn:iam::123456789012:user/bob")
    'aws-cn'
    """
    parts = _arn_parts(arn)
    return parts[1] if parts else default


def account_of(arn: object) -> str | None:
    """The ARN's account id; ``None`` for what is not an ARN or names no account.

    >>> account_of("arn:aws:iam::123456789012:role/reader")
    '123456789012'
    """
    parts = _arn_parts(arn)
    return parts[4] if parts and ACCOUNT_ID.fullmatch(parts[4]) else None


def function_arn(context: Any) -> object:
    """The Lambda context's function ARN, for :func:`partition_of` and :func:`account_of`; ``None`` without a
    context (a local run)."""
    return getattr(context, "invoked_function_arn", None)
