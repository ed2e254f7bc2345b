"""IAM changes in the shapes the re-evaluation function receives them: an EventBridge event inside an SQS record.

Example::

    record = sqs_record("m-1", "123456789012", "CreateLoginProfile")
    handler({"Records": [record]}, context)      # reevaluation_handler
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any


def iam_event(
    account_id: str,
    event_name: str,
    time_text: str = "2024-01-01T00:00:00Z",
    event_id: str | None = None,
    user_name: str = "bob",
) -> dict[str, Any]:
    """An IAM API call as EventBridge delivers it from CloudTrail (on the us-east-1 default bus).

    ``event_id`` is CloudTrail's eventID, the EventId LookupEvents shows for the same call.
    """
    return {
        "version": "0",
        "id": f"event-{event_name}-{time_text}",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.iam",
        "account": account_id,
        "time": time_text,
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "eventVersion": "1.09",
            "eventSource": "iam.amazonaws.com",
            "eventName": event_name,
            "eventTime": time_text,
            "eventID": event_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"{account_id}/{event_name}/{time_text}")),
            "awsRegion": "us-east-1",
            "requestParameters": {"userName": user_name},
        },
    }


def sqs_record(
    message_id: str,
    account_id: str,
    event_name: str,
    time_text: str = "2024-01-01T00:00:00Z",
    event_id: str | None = None,
    first_received: datetime | None = None,
) -> dict:
    """The SQS record Lambda's event source mapping hands the function for one queued IAM event."""
    return _queued(message_id, iam_event(account_id, event_name, time_text, event_id), first_received)


def sqs_record_for(
    message_id: str, account_id: str, recorded: dict[str, Any], first_received: datetime | None = None
) -> dict:
    """The SQS record for an event the emulated CloudTrail recorded (``EmulatedCloudTrail.events``): same eventID.

    ``first_received``: when SQS first handed the message to a reader (its ApproximateFirstReceiveTimestamp).
    """
    time_text = recorded["eventTime"].strftime("%Y-%m-%dT%H:%M:%SZ")
    user_name = recorded["requestParameters"].get("userName", "bob")
    event = iam_event(account_id, recorded["eventName"], time_text, recorded["eventID"], user_name)
    return _queued(message_id, event, first_received)


def _queued(message_id: str, event: dict[str, Any], first_received: datetime | None = None) -> dict:
    attributes = {"ApproximateReceiveCount": "1"}
    if first_received is not None:
        attributes["ApproximateFirstReceiveTimestamp"] = str(int(first_received.timestamp() * 1000))
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": json.dumps(event),
        "attributes": attributes,
        "eventSource": "aws:sqs",
    }
