"""One shape for every Lambda entry point: the ``@lambda_entry`` decorator.

Each function the templates name in a ``Handler`` line is written as a body and wrapped in
:func:`lambda_entry`, which gives it, the same way every time:

* the log guard: botocore, boto3 and urllib3 never log below WARNING, whatever the root logger or
  the function's log level (``AWS_LAMBDA_LOG_LEVEL``) says, because botocore's DEBUG output carries
  request headers, the session token of an assumed role among them. Set when the module is imported
  and again at the start of every invocation;
* one JSON log line per invocation: ``rule``, ``function``, ``version``, the fields the body kept
  (:meth:`Run.keep`), ``outcome``, the fields of what the body returned (:class:`Result`), the AWS
  calls of every client the body counted (:meth:`Run.count`) and ``durationMs``;
* its error handling: an exception is logged (``outcome`` ``error``, ``errorType``, ``error``) and
  raised again, so Lambda counts an error and retries or dead-letters the event; a body that did part
  of its work and must still fail returns a :class:`Result` with ``error``, which is logged with what
  was done, then raised.

The body returns what it did; nothing passes a log down. A test imports every ``Handler`` of the
templates and fails for one that is not wrapped (:func:`is_lambda_entry`).

Example::

    logger = logging.getLogger("console_mfa.example")

    @lambda_entry("example", logger)
    def handler(event, context, run):
        clients = run.count(AwsClients.from_session(boto3.Session()))
        run.keep(account=account_read_by(clients, context))
        return Result("done", {"ok": True}, {"users": 3})

    handler({}, context)   # {"ok": True}, and one line: {"rule": ..., "outcome": "done", "users": 3, ...}
"""

from __future__ import annotations

import enum
import functools
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from . import RULE_NAME
from .version import rule_version

# The SDK's loggers: botocore's DEBUG output has request headers (X-Amz-Security-Token) and bodies.
SDK_LOGGERS = ("botocore", "boto3", "urllib3")
SDK_LEVEL = logging.WARNING
# The attribute that marks a wrapped entry point (its value: the function's name in the log line).
MARK = "lambda_entry"
# Read once per container: the zip's VERSION file (see console_mfa.version).
VERSION = rule_version()


def guard_sdk_logs() -> None:
    """Keep the SDK's loggers, and any of their children given a level of their own, at WARNING or above."""
    for name in SDK_LOGGERS:
        logging.getLogger(name).setLevel(SDK_LEVEL)
    for name, child in list(logging.Logger.manager.loggerDict.items()):
        if (
            isinstance(child, logging.Logger)
            and name.startswith(tuple(f"{sdk}." for sdk in SDK_LOGGERS))
            and child.level != logging.NOTSET
            and child.level < SDK_LEVEL
        ):
            child.setLevel(SDK_LEVEL)


def log_line(fields: Mapping[str, Any]) -> str:
    """One JSON log line, with datetimes as ISO 8601 and enums as their values."""

    def plain(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, enum.Enum):
            return value.value
        raise TypeError(f"cannot log {type(value).__name__}")

    return json.dumps(dict(fields), default=plain)


class _CountsCalls(Protocol):
    calls: Counter[str]


_Clients = TypeVar("_Clients", bound=_CountsCalls)


@dataclass
class _Tally:
    calls: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class Result:
    """What one invocation did: its ``outcome``, what Lambda gets back, the fields of its log line.

    ``level`` is the log line's; ``error``, when set, is raised after the line is written (a run that did
    part of its work, said in ``fields``, and must still fail).
    """

    outcome: str
    response: Any
    fields: Mapping[str, Any] = field(default_factory=dict)
    level: int = logging.INFO
    error: Exception | None = None


class Run:
    """One invocation as its body sees it: the clients whose calls it counts, the fields it keeps."""

    def __init__(self) -> None:
        self._counted: dict[str, list[Counter[str]]] = {}
        self._kept: dict[str, Any] = {}

    def count(self, clients: _Clients, field_name: str = "apiCalls") -> _Clients:
        """Count ``clients``' AWS calls (an ``AwsClients``) under ``field_name`` in the log line; returns them."""
        self._counted.setdefault(field_name, []).append(clients.calls)
        return clients

    def tally(self, field_name: str = "apiCalls") -> Counter[str]:
        """A Counter logged under ``field_name``, for code that makes and drops clients and adds their calls."""
        return self.count(_Tally(), field_name).calls

    def keep(self, **fields: Any) -> None:
        """Fields the log line carries whatever the invocation comes to: what it is about (account,
        message, user), known before it can fail."""
        self._kept.update(fields)

    def log_fields(self, outcome: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        line = {**self._kept, "outcome": outcome, **fields}
        for name, counted in self._counted.items():
            line[name] = dict(sorted(sum(counted, Counter()).items()))
        line.setdefault("apiCalls", {})
        return line


Body = Callable[..., Result]


def lambda_entry(function: str, logger: logging.Logger) -> Callable[[Body], Callable[..., Any]]:
    """Wrap ``body(event, context, run, **hooks) -> Result`` as a Lambda handler ``(event, context, **hooks)``.

    ``function`` names the function in the log line (``rule``, ``enforcement``, ``reevaluation``);
    ``logger`` writes it, at INFO whatever the root logger's level. ``hooks`` are the body's keyword
    arguments for tests (a clock, client factories); Lambda passes none.
    """
    logger.setLevel(logging.INFO)
    guard_sdk_logs()
    header = {"rule": RULE_NAME, "function": function, "version": VERSION}

    def wrap(body: Body) -> Callable[..., Any]:
        @functools.wraps(body)
        def handler(event: Any, context: Any = None, **hooks: Any) -> Any:
            guard_sdk_logs()
            started = time.monotonic()
            run = Run()

            def write(level: int, outcome: str, fields: Mapping[str, Any]) -> None:
                line = {**header, **run.log_fields(outcome, fields)}
                line["durationMs"] = round((time.monotonic() - started) * 1000)
                logger.log(level, log_line(line))

            try:
                result = body(event, context, run, **hooks)
            except Exception as error:
                write(logging.ERROR, "error", {"errorType": type(error).__name__, "error": str(error)})
                raise
            if result.error is not None:
                error_fields = {"errorType": type(result.error).__name__, "error": str(result.error)}
                write(logging.ERROR, "error", {**result.fields, **error_fields})
                raise result.error
            write(result.level, result.outcome, result.fields)
            return result.response

        setattr(handler, MARK, function)
        return handler

    return wrap


def is_lambda_entry(handler: Any) -> bool:
    """Whether ``handler`` went through :func:`lambda_entry` (what the templates' Handler lines must name)."""
    return isinstance(getattr(handler, MARK, None), str)
