"""The re-evaluation function's entry point: a batch of IAM changes from the SQS queue in, one
StartConfigRulesEvaluation per account out (:mod:`console_mfa.reevaluation` says how and why).

Example::

    response = handler({"Records": sqs_records}, context)
    response["batchItemFailures"]   # [{"itemIdentifier": "<messageId>"}, ...] delivered again later
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from console_mfa.exceptions import InvalidEventError
from console_mfa.lambda_entry import Result, Run, lambda_entry
from console_mfa.reevaluation import (
    AccountClients,
    Outcome,
    Settings,
    account_starter,
    account_visibility,
    coalesce,
)

logger = logging.getLogger("console_mfa.reevaluation")


@lambda_entry("reevaluation", logger)
def handler(
    event: Mapping[str, Any],
    context: Any,
    run: Run,
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> Result:
    """Handle one batch from the SQS event source mapping (with ``ReportBatchItemFailures``).

    One JSON log line per batch (console_mfa.lambda_entry): messages, accounts and what each came to,
    how many messages go back to the queue and why (``waitingForCloudTrail``: their change not yet in the
    event history), how many were started unseen past the bound (``startedUnseen``, a warning), AWS calls,
    duration. A batch that cannot be handled at all (no Records, a bad setting, a message SQS could not
    name) raises: SQS delivers it again.
    """
    records = event.get("Records")
    if not isinstance(records, list):
        raise InvalidEventError("the event has no Records list; this function reads an SQS queue")
    run.keep(messages=len(records))
    accounts = AccountClients(Settings.from_environment(), context, count=run.count)
    result = coalesce(records, account_starter(accounts), account_visibility(accounts), clock())
    if result.errors:
        level = logging.ERROR
    elif Outcome.NO_RULE.value in result.outcomes.values() or result.started_unseen:
        level = logging.WARNING
    else:
        level = logging.INFO
    fields = {
        "accounts": result.outcomes,
        "redeliver": len(result.failed_message_ids),
        "waitingForCloudTrail": result.waiting,
        "startedUnseen": result.started_unseen,
        "errors": result.errors,
    }
    return Result("redelivering" if result.failed_message_ids else "handled", result.response(), fields, level)
