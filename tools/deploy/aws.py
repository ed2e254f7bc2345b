"""What every room of the deploy tool shares about AWS: its two errors, one line for any error, every page."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import NoCredentialsError
from botocore.parsers import ResponseParserError


class DeployError(Exception):
    """The deployment cannot go ahead; the message says why and what to do."""


class StillRunning(DeployError):
    """CloudFormation is still working when the tool stops following it."""


def all_pages(client: Any, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
    return [item for page in client.get_paginator(operation).paginate(**params) for item in page[key]]


def error_line(error: BaseException) -> str:
    """One line for an error from AWS or the endpoint, never a traceback or a pasted HTML page."""
    if isinstance(error, NoCredentialsError):
        return (
            "no AWS credentials found (set AWS_PROFILE, run aws sso login, or set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY)"
        )
    if isinstance(error, ResponseParserError):
        return "the AWS endpoint answered with something that is not an AWS response (a server error?); try again"
    return " ".join(str(error).split())[:500]
