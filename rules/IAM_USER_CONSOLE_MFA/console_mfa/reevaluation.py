"""Re-evaluation on IAM change: a batch of IAM events in, one StartConfigRulesEvaluation per account out.

IAM's CloudTrail events reach EventBridge on the us-east-1 default bus only. An EventBridge rule
there (forwarded to the rule's Region when that is another) puts the password and MFA changes on an
SQS queue; Lambda reads the queue with a batching window and hands this function up to a batch of
them. The function groups the batch by account and asks AWS Config once per account to evaluate the
rule again, so a burst of 100 changes costs one call, not 100.

``StartConfigRulesEvaluation`` refuses (``LimitExceededException``) while an evaluation of the rule
is running or when called again within a minute. Those accounts' messages are returned as batch item
failures: SQS delivers them again after the queue's visibility timeout, grouped with whatever arrived
meanwhile, until a call succeeds or the queue's redrive policy moves them to the dead-letter queue
(which alarms). An evaluation that is started twice is harmless: the rule sends Config only what changed.

The run it starts sees the change. That run is usually a steady-state sweep, which checks live only the users
CloudTrail's event history (LookupEvents) shows changed; EventBridge and the event history are separate
deliveries with no promised order, so the event may reach this function before LookupEvents shows it. So a
message is let go only once LookupEvents, in the changed account, shows its event (``detail.eventID``):
until then it is returned as a batch item failure and SQS delivers it again after the visibility timeout.
One lookup per event name and account per batch, over the batch's event times (LookupEvents allows 2
requests a second per account and Region). Past ``VISIBILITY_BOUND`` after SQS first handed the message
over (so any lag of the event history behind EventBridge up to 15 minutes fits, whatever EventBridge's own
delay; without that attribute, after the event's time) the evaluation is started anyway, and the log line
says so (``startedUnseen``): the next periodic sweep still finds the change once CloudTrail delivers it
(see :mod:`console_mfa.carry_forward`). Waiting was chosen over handing the changed user names to the run
through a channel the sweep reads: it needs no new resource or permission to write, and the event history
stays the one record of what changed. A change's message is deleted only once an evaluation was started
after its event was visible (or past the bound): the last change of a burst is never dropped.

Settings (environment):

* ``CONFIG_RULE_NAME`` - the rule's name (the account stack's ``IAM_USER_CONSOLE_MFA``), or for an
  organization rule the name it was given, whose copy in each account is ``OrgConfigRule-<name>-<suffix>``;
* ``MEMBER_ROLE_NAME`` - set for an organization: the role to assume in the changed account, which may
  find the rule's copy there (``DescribeConfigRules``) and start it. Empty: the function's own account only.

The Lambda entry point is ``reevaluation_handler.handler`` (the rule folder's top, beside the rule's).

Example::

    accounts = AccountClients(Settings.from_environment(), context)
    result = coalesce(sqs_records, account_starter(accounts), account_visibility(accounts))
    result.response()["batchItemFailures"]   # [{"itemIdentifier": "<messageId>"}, ...] delivered again later
"""

from __future__ import annotations

import enum
import json
import os
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
from botocore.config import Config

from . import RULE_NAME
from .aws import AwsClients, call, collect
from .exceptions import AccountMismatchError, AwsCallError, InvalidEventError, InvalidParameterError, RuleError
from .identifiers import ACCOUNT_ID, account_of, function_arn, partition_of

# The IAM calls that can change a verdict, or the set of users: what the EventBridge rule matches.
REEVALUATING_EVENTS = (
    "CreateLoginProfile",
    "DeleteLoginProfile",
    "EnableMFADevice",
    "DeactivateMFADevice",
    "DeleteVirtualMFADevice",
    "CreateUser",
    "DeleteUser",
    "UpdateUser",
    "TagUser",
    "UntagUser",
)
EVENT_SOURCE = "aws.iam"
DETAIL_TYPE = "AWS API Call via CloudTrail"
ORGANIZATION_RULE_PREFIX = "OrgConfigRule-"
LIMIT_EXCEEDED = "LimitExceededException"
NO_SUCH_RULE = "NoSuchConfigRuleException"
RULE_NAME_VARIABLE = "CONFIG_RULE_NAME"
MEMBER_ROLE_VARIABLE = "MEMBER_ROLE_NAME"
_NAME = re.compile(r"[A-Za-z0-9+=,.@_-]{1,64}")
# How long after SQS first handed a message over it waits for LookupEvents to show its event: a lag of the
# event history behind EventBridge up to 15 minutes, and one visibility timeout (2 minutes) between tries.
# iam-events.yaml's maxReceiveCount leaves room for it and for Config's refusals after it.
VISIBILITY_BOUND = timedelta(minutes=17)
# The event times LookupEvents is searched over are widened by this, for the clocks of EventBridge and CloudTrail.
LOOKUP_SLACK = timedelta(minutes=1)
# Kept across invocations of a warm function: a member account's rule copy keeps its name.
_organization_rule_names: dict[str, str] = {}


class Outcome(str, enum.Enum):
    """What asking Config to re-evaluate one account's rule came to."""

    STARTED = "started"
    # An evaluation is running, or one was started less than a minute ago: ask again later.
    BUSY = "busy"
    # The account has no copy of the rule (excluded from the organization rule): nothing to re-evaluate.
    NO_RULE = "no_rule"


class QueueRetriedClients(AwsClients):
    """Clients that make each call once: the queue retries a refused or failed start after its visibility timeout.

    botocore counts ``LimitExceededException`` as throttling and would retry it for many seconds inside the
    function; Config's once-a-minute limit makes that wait wasted, and the queue already redelivers.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._config = self._config.merge(Config(retries={"mode": "standard", "total_max_attempts": 1}))


@dataclass(frozen=True)
class IamChange:
    """One IAM change as the queue delivered it."""

    message_id: str
    account_id: str
    event_name: str
    event_time: str
    # CloudTrail's eventID: LookupEvents' EventId for the same call.
    event_id: str = ""
    # When SQS first handed the message to a reader (ApproximateFirstReceiveTimestamp), if it says.
    first_received: datetime | None = None

    @property
    def occurred(self) -> datetime | None:
        try:
            at = datetime.fromisoformat(self.event_time.replace("Z", "+00:00"))
        except ValueError:
            return None
        return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def parse_record(record: Mapping[str, Any]) -> IamChange:
    """The IAM change an SQS record carries; raises :class:`InvalidEventError` naming what is wrong."""
    message_id = record.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        raise InvalidEventError("the SQS record has no messageId")
    try:
        event = json.loads(record.get("body") or "")
    except json.JSONDecodeError as error:
        raise InvalidEventError(f"message {message_id}: the body is not JSON ({error})") from error
    if not isinstance(event, dict):
        raise InvalidEventError(f"message {message_id}: the body is not an EventBridge event")
    if event.get("source") != EVENT_SOURCE or event.get("detail-type") != DETAIL_TYPE:
        raise InvalidEventError(
            f"message {message_id}: source {event.get('source')!r} / detail-type {event.get('detail-type')!r} "
            f"is not {EVENT_SOURCE} / {DETAIL_TYPE}"
        )
    detail = event.get("detail")
    event_name = detail.get("eventName") if isinstance(detail, dict) else None
    if event_name not in REEVALUATING_EVENTS:
        raise InvalidEventError(f"message {message_id}: detail.eventName {event_name!r} is not an IAM change we watch")
    account_id = event.get("account")
    if not isinstance(account_id, str) or not ACCOUNT_ID.fullmatch(account_id):
        raise InvalidEventError(f"message {message_id}: account {str(account_id)[:40]!r} is not a 12-digit account id")
    event_id = detail.get("eventID") if isinstance(detail, dict) else None
    event_time = (detail.get("eventTime") if isinstance(detail, dict) else None) or event.get("time", "")
    return IamChange(message_id, account_id, event_name, str(event_time), str(event_id or ""), _first_received(record))


def _first_received(record: Mapping[str, Any]) -> datetime | None:
    attributes = record.get("attributes")
    milliseconds = attributes.get("ApproximateFirstReceiveTimestamp") if isinstance(attributes, dict) else None
    try:
        return datetime.fromtimestamp(int(milliseconds) / 1000, tz=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


@dataclass
class BatchResult:
    """Which messages SQS must deliver again, and what happened per account (for the log line)."""

    failed_message_ids: list[str]
    outcomes: dict[str, str]
    errors: dict[str, str]
    # Messages kept waiting for LookupEvents to show their event, and events started past VISIBILITY_BOUND unseen.
    waiting: int = 0
    started_unseen: int = 0

    def response(self) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in self.failed_message_ids]}


# visible(account_id, changes) -> the eventIDs of ``changes`` LookupEvents shows in that account.
Visible = Callable[[str, Sequence[IamChange]], set[str]]


def ready_to_start(
    changes: Sequence[IamChange], visible_ids: set[str], now: datetime
) -> tuple[list[IamChange], list[IamChange], list[IamChange]]:
    """Split one account's changes: (visible in LookupEvents, past VISIBILITY_BOUND unseen, still to wait for).

    Example: a change first received at 12:05 not yet shown is waited for at 12:15 and started unseen at 12:23.
    """
    seen, unseen, waiting = [], [], []
    for change in changes:
        waited_from = change.first_received or change.occurred
        if change.event_id in visible_ids:
            seen.append(change)
        elif not change.event_id or waited_from is None or now - waited_from > VISIBILITY_BOUND:
            unseen.append(change)
        else:
            waiting.append(change)
    return seen, unseen, waiting


def coalesce(
    records: Sequence[Mapping[str, Any]],
    start: Callable[[str], Outcome],
    visible: Visible | None = None,
    now: datetime | None = None,
) -> BatchResult:
    """Ask ``start`` once per account in the batch; the messages of accounts not started are failed.

    ``start(account_id)`` asks Config to re-evaluate that account's rule. A message that cannot be
    read is failed too, so it ends in the dead-letter queue, never silently deleted. With ``visible``,
    a message whose event LookupEvents does not show yet is failed (delivered again) until it does or
    until :data:`VISIBILITY_BOUND` has passed (:func:`ready_to_start`); an account none of whose
    messages is ready is not started.
    """
    now = now or datetime.now(timezone.utc)
    by_account: dict[str, list[IamChange]] = defaultdict(list)
    failed: list[str] = []
    errors: dict[str, str] = {}
    for record in records:
        try:
            change = parse_record(record)
        except InvalidEventError as error:
            message_id = record.get("messageId")
            if not isinstance(message_id, str) or not message_id:
                # SQS cannot redeliver a message it cannot name: the whole batch must be retried.
                raise
            failed.append(message_id)
            errors[message_id] = str(error)
            continue
        by_account[change.account_id].append(change)
    outcomes: dict[str, str] = {}
    waiting = started_unseen = 0
    for account_id, changes in sorted(by_account.items()):
        try:
            if visible is not None:
                seen, unseen, wait = ready_to_start(changes, visible(account_id, changes), now)
                failed.extend(change.message_id for change in wait)
                waiting += len(wait)
                changes = seen + unseen
                if not changes:
                    outcomes[account_id] = "waiting"
                    continue
                started_unseen += len(unseen)
            message_ids = [change.message_id for change in changes]
            outcome = start(account_id)
        except RuleError as error:
            outcomes[account_id] = "error"
            errors[account_id] = f"{type(error).__name__}: {error}"
            failed.extend(change.message_id for change in changes)
            continue
        outcomes[account_id] = outcome.value
        if outcome is Outcome.BUSY:
            failed.extend(message_ids)
    return BatchResult(failed, outcomes, errors, waiting, started_unseen)


def visible_event_ids(cloudtrail: Any, changes: Sequence[IamChange]) -> set[str]:
    """The eventIDs of ``changes`` that LookupEvents shows: one search per event name, over their event times."""
    visible: set[str] = set()
    by_name: dict[str, list[datetime]] = defaultdict(list)
    for change in changes:
        if change.event_id and change.occurred is not None:
            by_name[change.event_name].append(change.occurred)
    for event_name, times in sorted(by_name.items()):
        events = collect(
            cloudtrail,
            "LookupEvents",
            "Events",
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": event_name}],
            StartTime=min(times) - LOOKUP_SLACK,
            EndTime=max(times) + LOOKUP_SLACK,
        )
        visible.update(str(event.get("EventId")) for event in events)
    return visible


def start_evaluation(config: Any, rule_name: str) -> Outcome:
    """Ask Config to evaluate ``rule_name`` again; BUSY when it refuses for now, NO_RULE when it has no such rule."""
    try:
        call(config, "StartConfigRulesEvaluation", ConfigRuleNames=[rule_name])
    except AwsCallError as error:
        if error.code == LIMIT_EXCEEDED:
            return Outcome.BUSY
        if error.code == NO_SUCH_RULE:
            return Outcome.NO_RULE
        raise
    return Outcome.STARTED


def organization_rule_name(config: Any, rule_name: str) -> str | None:
    """The name of the organization rule's copy in the account these credentials read, if it has one."""
    prefix = f"{ORGANIZATION_RULE_PREFIX}{rule_name}-"
    names = [rule["ConfigRuleName"] for rule in collect(config, "DescribeConfigRules", "ConfigRules")]
    matching = sorted(name for name in names if name.startswith(prefix))
    return matching[0] if matching else None


@dataclass(frozen=True)
class Settings:
    rule_name: str
    member_role_name: str | None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        rule_name = environ.get(RULE_NAME_VARIABLE, RULE_NAME).strip() or RULE_NAME
        role = environ.get(MEMBER_ROLE_VARIABLE, "").strip() or None
        for variable, value in ((RULE_NAME_VARIABLE, rule_name), (MEMBER_ROLE_VARIABLE, role)):
            if value is not None and not _NAME.fullmatch(value):
                raise InvalidParameterError(f"{variable} (environment)", f"{value[:80]!r} is not a valid name")
        return cls(rule_name, role)


class AccountClients:
    """Clients for each changed account, made once per batch: the function's own, or the member role's.

    Example: ``clients = AccountClients(settings, context)(account_id)``.
    """

    def __init__(
        self,
        settings: Settings,
        context: Any,
        clients_for_role: Callable[[str, str | None], AwsClients] = QueueRetriedClients.assuming_role,
        own_clients: Callable[[], AwsClients] | None = None,
        count: Callable[[AwsClients], AwsClients] = lambda clients: clients,
    ) -> None:
        """``count`` is handed every client made (``Run.count``, so the log line counts its calls)."""
        self.settings = settings
        self.region = os.environ.get("AWS_REGION")
        self.own_account, self.partition = account_of(function_arn(context)), partition_of(function_arn(context))
        self._count = count
        self._clients_for_role = clients_for_role
        self._own_clients = own_clients or (lambda: QueueRetriedClients.from_session(boto3.Session(), self.region))
        self._made: dict[str, AwsClients] = {}

    def __call__(self, account_id: str) -> AwsClients:
        if account_id not in self._made:
            if self.settings.member_role_name:
                role_arn = f"arn:{self.partition}:iam::{account_id}:role/{self.settings.member_role_name}"
                self._made[account_id] = self._count(self._clients_for_role(role_arn, self.region))
            else:
                if self.own_account is not None and account_id != self.own_account:
                    raise AccountMismatchError(
                        f"an IAM change in account {account_id} reached the re-evaluation queue of account "
                        f"{self.own_account}; without MEMBER_ROLE_NAME only the function's own account is re-evaluated"
                    )
                self._made[account_id] = self._count(self._own_clients())
        return self._made[account_id]


def account_visibility(accounts: AccountClients) -> Visible:
    """``visible(account_id, changes)``: what LookupEvents shows of them in that account (:func:`visible_event_ids`)."""

    def visible(account_id: str, changes: Sequence[IamChange]) -> set[str]:
        return visible_event_ids(accounts(account_id).cloudtrail_for_iam(accounts.partition), changes)

    return visible


def account_starter(accounts: AccountClients) -> Callable[[str], Outcome]:
    """``start(account_id)`` for the account route (own account only) or the organization route (member role)."""

    def start_in_own_account(account_id: str) -> Outcome:
        return start_evaluation(accounts(account_id).config, accounts.settings.rule_name)

    def start_in_member_account(account_id: str) -> Outcome:
        clients = accounts(account_id)
        for attempt in (1, 2):
            name = _organization_rule_names.get(account_id)
            if name is None:
                name = organization_rule_name(clients.config, accounts.settings.rule_name)
                if name is None:
                    return Outcome.NO_RULE
                _organization_rule_names[account_id] = name
            outcome = start_evaluation(clients.config, name)
            if outcome is not Outcome.NO_RULE or attempt == 2:
                return outcome
            # The rule was re-created under a new suffix since it was cached: look it up again.
            _organization_rule_names.pop(account_id, None)
        return Outcome.NO_RULE  # pragma: no cover - the loop always returns

    return start_in_member_account if accounts.settings.member_role_name else start_in_own_account
