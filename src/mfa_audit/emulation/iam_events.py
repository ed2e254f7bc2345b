"""IAM changes in the shapes the re-evaluation function receives them: an EventBridge event inside an SQS record.

Example::

    record = sqs_record("m-1", "123456789012", "CreateLoginProfile")
    handler({"Records": [record]}, context)      # reevaluation_handler
"""

from __future__ import annotations

import json
from typing import Any


def iam_event(account_id: str, event_name: str, time_text: str = "2024-01-01T00:00:00Z") -> dict[str, Any]:
    """An IAM API call as EventBridge delivers it from CloudTrail (on the us-east-1 default bus)."""
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
            "awsRegion": "us-east-1",
            "requestParameters": {"userName": "bob"},
        },
    }


def sqs_record(message_id: str, account_id: str, event_name: str, time_text: str = "2024-01-01T00:00:00Z") -> dict:
    """The SQS record Lambda's event source mapping hands the function for one queued IAM event."""
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": json.dumps(iam_event(account_id, event_name, time_text)),
        "attributes": {"ApproximateReceiveCount": "1"},
        "eventSource": "aws:sqs",
    }
