"""What a walk-through's steps act on and read back: one user's path through an emulated account, on an emulated
clock, with the project's handlers run in-process; and the shapes of a step and of its failure.

Example::

    path = WalkedPath(clock, config, create_stack_pieces(), "new-hire")
    held = path.sweep()          # what Config holds for the user after the rule's sweep at the clock's time
    path.expect_held("grace ends", held, "NON_COMPLIANT", "Console password but no allowed MFA device")
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from mfa_audit.emulation.account import DEFAULT_ACCOUNT_ID
from mfa_audit.emulation.automation import EmulatedAutomation, run_enforcement_document
from mfa_audit.emulation.clock import EmulatedClock, day_label
from mfa_audit.emulation.events import LambdaContext, scheduled_event
from mfa_audit.emulation.services import EmulatedConfig
from mfa_audit.emulation.stack_pieces import StackPieces

# The daily run's summary to the operators; the users' own notices go to them by e-mail (SES).
DIGEST_SUBJECT = "MFA enforcement digest"
ENFORCED_SUBJECT = "MFA enforced"


class StepFailed(Exception):
    """A step did not see what the path must produce; ``step`` names it."""

    def __init__(self, step: str, day: int, expected: str, saw: str) -> None:
        super().__init__(f"step '{step}' (day {day}): expected {expected}; saw {saw}")
        self.step, self.day, self.expected, self.saw = step, day, expected, saw


@dataclass(frozen=True)
class Step:
    """One step as it happened: the days it covers, its printed lines, and what it observed (``saw``)."""

    name: str
    first_day: int
    last_day: int
    lines: tuple[str, ...]
    saw: Mapping[str, Any]


def quoted(text: str, limit: int = 400) -> str:
    return '"' + (text if len(text) <= limit else text[: limit - 3] + "...") + '"'


class WalkedPath:
    """One user through the path: what the steps act on and read back, and the day they are at."""

    def __init__(
        self,
        clock: EmulatedClock,
        config: EmulatedConfig,
        stack: StackPieces,
        user_name: str,
        automation: EmulatedAutomation,
    ) -> None:
        import boto3

        self.clock, self.config, self.stack, self.user_name = clock, config, stack, user_name
        self.automation = automation
        self.iam, self.sqs = boto3.client("iam"), boto3.client("sqs")
        self.user: dict[str, Any] = {}
        self.grace_ends: datetime | None = None
        # The user's address (its ``email`` tag): where SES sends its notices.
        self.address = f"{user_name}@example.com"
        self.notices: list[dict[str, str]] = []
        self.emails_seen = 0
        self.digests: dict[int, str] = {}
        # Other users the steps follow (the rollout's), by name.
        self.others: dict[str, dict[str, Any]] = {}
        self.day = 0

    def sweep(self) -> dict[str, Any]:
        """The rule's handler on a ScheduledNotification at the clock's time; returns what Config holds for the user."""
        from IAM_USER_CONSOLE_MFA import lambda_handler

        event = scheduled_event(dict(self.config.rule_parameters))
        invoking = json.loads(event["invokingEvent"])
        invoking["notificationCreationTime"] = self.clock().strftime("%Y-%m-%dT%H:%M:%S.000Z")
        event["invokingEvent"] = json.dumps(invoking)
        lambda_handler(event, LambdaContext(), clock=self.clock)
        return self.config.results.get(self.user["UserId"], {})

    def function(self, event: dict[str, Any]) -> dict[str, Any]:
        from enforcement_handler import handler

        return handler(event, LambdaContext(), clock=self.clock)

    def remediation(self) -> dict[str, Any]:
        """Config's remediation for the user: the stack's document, run as SSM runs it; the function's result."""
        return run_enforcement_document(
            self.stack.document,
            self.stack.document_name,
            {"UserId": self.user["UserId"]},
            DEFAULT_ACCOUNT_ID,
            self.automation,
        )

    def operators_messages(self) -> list[dict[str, str]]:
        """What reached the operators' topic since the last look (SNS's envelope: Subject, Message)."""
        messages = []
        while True:
            received = self.sqs.receive_message(QueueUrl=self.stack.inbox_url, MaxNumberOfMessages=10)
            batch = received.get("Messages", [])
            if not batch:
                return messages
            for message in batch:
                envelope = json.loads(message["Body"])
                messages.append({"Subject": envelope.get("Subject", ""), "Message": envelope["Message"]})
                self.sqs.delete_message(QueueUrl=self.stack.inbox_url, ReceiptHandle=message["ReceiptHandle"])

    def emails_to(self, address: str, since: int = 0) -> list[dict[str, str]]:
        """What SES sent that address, from the ``since``-th message SES accepted (moto keeps every one)."""
        from moto.ses.models import ses_backends

        return [
            {"Subject": message.subject, "Body": message.body}
            for message in ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages[since:]
            if list(message.destinations["ToAddresses"]) == [address]
        ]

    def daily_notice(self, step: str) -> list[dict[str, str]]:
        """The daily run; returns the e-mails it sent the user. The operators get only its digest."""
        from moto.ses.models import ses_backends

        self.function({"action": "notify"})
        emails = self.emails_to(self.address, self.emails_seen)
        self.emails_seen = len(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)
        self.notices += emails
        messages = self.operators_messages()
        for message in messages:
            if message["Subject"].startswith(DIGEST_SUBJECT):
                self.digests[self.day] = message["Message"]
        unexpected = [m["Subject"] for m in messages if not m["Subject"].startswith(DIGEST_SUBJECT)]
        if unexpected:
            self.fail(step, "only the daily digest on the operators' topic", f"{unexpected}")
        return emails

    def in_force_mfa_group(self, user_name: str | None = None) -> bool:
        """Whether the user (the path's own, unless named) is in the stack's ForceMfa group."""
        groups = self.iam.list_groups_for_user(UserName=user_name or self.user_name)["Groups"]
        return any(group["GroupName"] == self.stack.group_name for group in groups)

    def group_statements(self) -> list[dict[str, Any]]:
        """Every statement of the managed policies on the user's groups, as IAM holds them."""
        statements: list[dict[str, Any]] = []
        for group in self.iam.list_groups_for_user(UserName=self.user_name)["Groups"]:
            attached = self.iam.list_attached_group_policies(GroupName=group["GroupName"])["AttachedPolicies"]
            for policy in attached:
                version_id = self.iam.get_policy(PolicyArn=policy["PolicyArn"])["Policy"]["DefaultVersionId"]
                document = self.iam.get_policy_version(PolicyArn=policy["PolicyArn"], VersionId=version_id)[
                    "PolicyVersion"
                ]["Document"]
                statements += (json.loads(document) if isinstance(document, str) else document)["Statement"]
        return statements

    def fail(self, step: str, expected: str, saw: str) -> NoReturn:
        raise StepFailed(step, self.day, expected, saw)

    def expect_held(self, step: str, held: Mapping[str, Any], compliance: str, wording: str) -> None:
        saw = f"{held.get('ComplianceType', 'no result')} {quoted(held.get('Annotation', ''))}"
        if held.get("ComplianceType") != compliance or wording not in held.get("Annotation", ""):
            self.fail(step, f"Config to hold {compliance} with an annotation saying {quoted(wording)}", saw)

    def in_grace_wording(self) -> str:
        # What every wording of the grace-period annotation says: the day the grace ends.
        return f"grace period, which ends {self.grace_ends:%Y-%m-%d %H:%M} UTC"

    def line(self, text: str, first: int | None = None, last: int | None = None) -> str:
        first = self.day if first is None else first
        return day_label(first, self.day if last is None else last, self.clock) + text


class _LogLines(logging.Handler):
    def __init__(self, into: list[dict[str, Any]]) -> None:
        super().__init__(logging.INFO)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.into.append(json.loads(record.getMessage()))
        except ValueError:
            self.into.append({"message": record.getMessage()})


@contextmanager
def kept_logs(into: list[dict[str, Any]]) -> Iterator[None]:
    """The handlers' JSON log lines, kept (for the tests) rather than written among the walk-through's lines."""
    logger = logging.getLogger("console_mfa")
    handler, propagate = _LogLines(into), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
