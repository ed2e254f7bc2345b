"""AWS access for one invocation: clients built once, retries tuned, errors made precise.

Every AWS call the rule makes goes through :func:`call` or :func:`collect`, so a
denied or failed call always becomes a :mod:`console_mfa.exceptions` error that
names the IAM action, and every call is counted for the invocation's log line.

Example::

    clients = AwsClients.from_session(boto3.Session(), region="us-east-1")
    users = collect(clients.iam, "ListUsers", "Users")
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from typing import Any, NoReturn

import boto3
from botocore import xform_name
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from rdklib.clientfactory import get_assume_role_credentials

from .exceptions import AwsCallError, MissingPermissionError

# Adaptive mode adds client-side rate limiting on top of exponential backoff, which
# is what a sweep needs when many threads share one throttled IAM quota. The
# standard AWS_RETRY_MODE / AWS_MAX_ATTEMPTS variables override these defaults.
DEFAULT_RETRY_MODE = "adaptive"
DEFAULT_MAX_ATTEMPTS = 10
ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
NOT_FOUND_CODE = "NoSuchEntity"
# Enough to hide IAM's per-call latency; IAM's own rate limit is the real ceiling,
# and adaptive retries slow every thread down together when it is reached.
DEFAULT_MAX_WORKERS = 8
# IAM is global; CloudTrail's event history holds its events in one Region per partition.
IAM_EVENT_REGIONS = {"aws": "us-east-1", "aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}


class AwsClients:
    """The clients one invocation uses, sharing one session and one call counter."""

    def __init__(
        self,
        session: boto3.Session,
        region: str | None,
        max_workers: int = DEFAULT_MAX_WORKERS,
        assumed_role_arn: str | None = None,
    ) -> None:
        self._session = session
        self._region = region
        # The role these credentials belong to, when they come from AssumeRole (its ARN names the account).
        self.assumed_role_arn = assumed_role_arn
        # How many per-user IAM checks run at once; each needs its own connection.
        self.max_workers = max_workers
        retries = {
            "mode": os.environ.get("AWS_RETRY_MODE", DEFAULT_RETRY_MODE),
            # AWS_MAX_ATTEMPTS counts the first call too, as total_max_attempts does.
            "total_max_attempts": int(os.environ.get("AWS_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS)),
        }
        self._config = Config(retries=retries, max_pool_connections=max(10, max_workers))
        self._clients: dict[tuple[str, str | None], BaseClient] = {}
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()

    @classmethod
    def from_session(
        cls, session: boto3.Session, region: str | None = None, max_workers: int = DEFAULT_MAX_WORKERS
    ) -> AwsClients:
        return cls(session, region or session.region_name, max_workers)

    @classmethod
    def assuming_role(cls, role_arn: str, region: str | None) -> AwsClients:
        """Clients with the credentials of ``role_arn``, obtained the way rdklib does it."""
        credentials = _assume(role_arn, region)
        session = boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
        return cls(session, region, assumed_role_arn=role_arn)

    @property
    def region(self) -> str | None:
        return self._region

    def client(self, service: str, region: str | None = None) -> BaseClient:
        key = (service, region or self._region)
        with self._lock:
            if key not in self._clients:
                client = self._session.client(service, region_name=key[1], config=self._config)
                client.meta.events.register_first("before-call", self._count)
                self._clients[key] = client
            return self._clients[key]

    @property
    def iam(self) -> BaseClient:
        return self.client("iam")

    @property
    def config(self) -> BaseClient:
        return self.client("config")

    def cloudtrail_for_iam(self, partition: str) -> BaseClient:
        """CloudTrail in the Region where the partition's IAM events are recorded."""
        return self.client("cloudtrail", IAM_EVENT_REGIONS.get(partition, "us-east-1"))

    def _count(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.calls[f"{model.service_model.signing_name}:{model.name}"] += 1


def _assume(role_arn: str, region: str | None) -> dict[str, str]:
    try:
        # rdklib's helper tries the regional STS endpoint first, then the global one.
        return get_assume_role_credentials(role_arn, region or "us-east-1")
    except ClientError as error:
        raise translate_error(error, "sts:AssumeRole") from error
    except BotoCoreError as error:
        raise AwsCallError("sts:AssumeRole", str(error)) from error


def action_name(client: BaseClient, operation: str) -> str:
    return f"{client.meta.service_model.signing_name}:{operation}"


def translate_error(error: ClientError, action: str) -> AwsCallError | MissingPermissionError:
    code = error.response.get("Error", {}).get("Code", "Unknown")
    message = error.response.get("Error", {}).get("Message", str(error))
    if code in ACCESS_DENIED_CODES:
        return MissingPermissionError(action, f"{code}: {message}")
    return AwsCallError(action, f"{code}: {message}", code)


def _raise(error: Exception, client: BaseClient, operation: str) -> NoReturn:
    if isinstance(error, ClientError):
        raise translate_error(error, action_name(client, operation)) from error
    raise AwsCallError(action_name(client, operation), str(error)) from error


def _is_missing(error: Exception) -> bool:
    return isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") == NOT_FOUND_CODE


def call(client: BaseClient, operation: str, **params: Any) -> dict[str, Any]:
    """Call ``operation`` (API name, e.g. ``GetLoginProfile``) and return its response; any failure raises."""
    try:
        return getattr(client, xform_name(operation))(**params)
    except (ClientError, BotoCoreError) as error:
        _raise(error, client, operation)


def call_if_exists(client: BaseClient, operation: str, **params: Any) -> dict[str, Any] | None:
    """As :func:`call`, but IAM's NoSuchEntity (the entity is not there) returns ``None``."""
    try:
        return getattr(client, xform_name(operation))(**params)
    except (ClientError, BotoCoreError) as error:
        if _is_missing(error):
            return None
        _raise(error, client, operation)


def _pages(
    client: BaseClient, operation: str, result_key: str, page_size: int | None, params: dict[str, Any]
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if page_size:
        params["PaginationConfig"] = {"PageSize": page_size}
    for page in client.get_paginator(xform_name(operation)).paginate(**params):
        items.extend(page.get(result_key, []))
    return items


def collect(
    client: BaseClient, operation: str, result_key: str, *, page_size: int | None = None, **params: Any
) -> list[dict[str, Any]]:
    """Every item of ``result_key`` across all pages of ``operation``; any failure raises.

    ``page_size`` asks for larger pages than the API's default (IAM lists 100 unless asked for up to 1,000).
    """
    try:
        return _pages(client, operation, result_key, page_size, params)
    except (ClientError, BotoCoreError) as error:
        _raise(error, client, operation)


def collect_if_exists(
    client: BaseClient, operation: str, result_key: str, *, page_size: int | None = None, **params: Any
) -> list[dict[str, Any]] | None:
    """As :func:`collect`, but IAM's NoSuchEntity returns ``None``: the entity is gone, which is not an empty list."""
    try:
        return _pages(client, operation, result_key, page_size, params)
    except (ClientError, BotoCoreError) as error:
        if _is_missing(error):
            return None
        _raise(error, client, operation)
