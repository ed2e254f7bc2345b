"""AWS access for one invocation: clients built once, retries tuned, errors made precise.

Every AWS call the rule makes goes through :func:`call` or :func:`collect`, so a
denied or failed call always becomes a :mod:`console_mfa.exceptions` error that
names the IAM action, and every call is counted for the invocation's log line.

Example::

    clients = AwsClients.from_session(boto3.Session(), region="us-east-1")
    users = collect(clients.iam, "ListUsers", "Users")
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import boto3
from botocore import xform_name
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from rdklib.clientfactory import get_assume_role_credentials

from .exceptions import AwsCallError, MissingPermissionError

# Adaptive mode adds client-side rate limiting on top of exponential backoff, which
# is what a sweep needs when many threads share one throttled IAM quota.
RETRY_CONFIG = {"mode": "adaptive", "max_attempts": 10}
ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
NOT_FOUND_CODE = "NoSuchEntity"


class AwsClients:
    """The clients one invocation uses, sharing one session and one call counter."""

    def __init__(self, session: boto3.Session, region: str | None, max_pool_connections: int = 16) -> None:
        self._session = session
        self._region = region
        self._config = Config(retries=dict(RETRY_CONFIG), max_pool_connections=max_pool_connections)
        self._clients: dict[str, BaseClient] = {}
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()

    @classmethod
    def from_session(cls, session: boto3.Session, region: str | None = None) -> AwsClients:
        return cls(session, region or session.region_name)

    @classmethod
    def assuming_role(cls, role_arn: str, region: str | None) -> AwsClients:
        """Clients with the credentials of ``role_arn``, obtained the way rdklib does it."""
        credentials = _assume(role_arn, region)
        session = boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
        return cls(session, region)

    def client(self, service: str) -> BaseClient:
        with self._lock:
            if service not in self._clients:
                client = self._session.client(service, region_name=self._region, config=self._config)
                client.meta.events.register("before-call", self._count)
                self._clients[service] = client
            return self._clients[service]

    @property
    def iam(self) -> BaseClient:
        return self.client("iam")

    @property
    def config(self) -> BaseClient:
        return self.client("config")

    @property
    def cloudtrail(self) -> BaseClient:
        return self.client("cloudtrail")

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
    return AwsCallError(action, f"{code}: {message}")


def call(client: BaseClient, operation: str, *, missing_ok: bool = False, **params: Any) -> dict[str, Any] | None:
    """Call ``operation`` (API name, e.g. ``GetLoginProfile``) and return its response.

    With ``missing_ok``, IAM's NoSuchEntity returns ``None`` instead of raising.
    """
    method = getattr(client, xform_name(operation))
    try:
        return method(**params)
    except ClientError as error:
        if missing_ok and error.response.get("Error", {}).get("Code") == NOT_FOUND_CODE:
            return None
        raise translate_error(error, action_name(client, operation)) from error
    except BotoCoreError as error:
        raise AwsCallError(action_name(client, operation), str(error)) from error


def collect(
    client: BaseClient, operation: str, result_key: str, *, missing_ok: bool = False, **params: Any
) -> list[dict[str, Any]] | None:
    """Every item of ``result_key`` across all pages of ``operation``.

    With ``missing_ok``, IAM's NoSuchEntity returns ``None`` (the entity is gone),
    which callers must tell apart from an empty list.
    """
    items: list[dict[str, Any]] = []
    try:
        for page in client.get_paginator(xform_name(operation)).paginate(**params):
            items.extend(page.get(result_key, []))
    except ClientError as error:
        if missing_ok and error.response.get("Error", {}).get("Code") == NOT_FOUND_CODE:
            return None
        raise translate_error(error, action_name(client, operation)) from error
    except BotoCoreError as error:
        raise AwsCallError(action_name(client, operation), str(error)) from error
    return items
