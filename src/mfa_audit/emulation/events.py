"""AWS Config rule events, in the shapes Config sends them to a custom rule's Lambda.

Example::

    event = scheduled_event({"GracePeriodDays": "14"})
    lambda_handler(event, None)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from console_mfa import RULE_NAME

CONFIG_ROLE = "aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"


def _base(invoking_event: dict[str, Any], parameters: dict[str, str] | None, account_id: str) -> dict[str, Any]:
    return {
        "version": "1.0",
        "invokingEvent": json.dumps(invoking_event),
        "ruleParameters": json.dumps(parameters or {}),
        "resultToken": "emulated-result-token",
        "eventLeftScope": False,
        "executionRoleArn": f"arn:aws:iam::{account_id}:role/{CONFIG_ROLE}",
        "configRuleArn": f"arn:aws:config:us-east-1:{account_id}:config-rule/config-rule-emulated",
        "configRuleName": RULE_NAME,
        "configRuleId": "config-rule-emulated",
        "accountId": account_id,
    }


@dataclass(frozen=True)
class LambdaContext:
    """The parts of Lambda's context object the handler reads, as Lambda fills them in."""

    account_id: str = "123456789012"
    remaining_ms: int = 900_000

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:{self.account_id}:function:iam-user-console-mfa"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def scheduled_event(parameters: dict[str, str] | None = None, account_id: str = "123456789012") -> dict[str, Any]:
    invoking_event = {
        "awsAccountId": account_id,
        "notificationCreationTime": _now(),
        "messageType": "ScheduledNotification",
        "recordVersion": "1.0",
    }
    return _base(invoking_event, parameters, account_id)


def configuration_item(user: dict[str, Any], status: str = "OK", account_id: str = "123456789012") -> dict[str, Any]:
    """The AWS::IAM::User configuration item for a user as GetUser/CreateUser returns it (its tags included)."""
    tags = user.get("Tags", [])
    return {
        "configurationItemCaptureTime": _now(),
        "configurationItemVersion": "1.3",
        "configurationItemStatus": status,
        "configurationStateId": 1700000000000,
        "configurationStateMd5Hash": "",
        "awsAccountId": account_id,
        "resourceType": "AWS::IAM::User",
        "resourceId": user["UserId"],
        "resourceName": user["UserName"],
        "ARN": user["Arn"],
        "awsRegion": "global",
        "availabilityZone": "Not Applicable",
        "resourceCreationTime": _now(),
        "tags": {tag["Key"]: tag["Value"] for tag in tags},
        "relatedEvents": [],
        "relationships": [],
        # The item holds the user's policies and groups, never its password or MFA devices.
        "configuration": {
            "path": "/",
            "userName": user["UserName"],
            "userId": user["UserId"],
            "arn": user["Arn"],
            "groupList": [],
            "attachedManagedPolicies": [],
            "userPolicyList": [],
            "permissionsBoundary": None,
            "tags": [{"key": tag["Key"], "value": tag["Value"]} for tag in tags],
        },
        "supplementaryConfiguration": {},
    }


def change_event(
    user: dict[str, Any],
    parameters: dict[str, str] | None = None,
    status: str = "OK",
    left_scope: bool = False,
    oversized: bool = False,
    account_id: str = "123456789012",
) -> dict[str, Any]:
    item = configuration_item(user, status, account_id)
    if oversized:
        summary = {
            key: value
            for key, value in item.items()
            if key not in ("configuration", "supplementaryConfiguration", "relationships", "tags", "relatedEvents")
        }
        summary["changeType"] = "UPDATE"
        invoking_event = {
            "configurationItemSummary": summary,
            "messageType": "OversizedConfigurationItemChangeNotification",
            "notificationCreationTime": _now(),
            "recordVersion": "1.0",
        }
    else:
        invoking_event = {
            "configurationItemDiff": None,
            "configurationItem": item,
            "notificationCreationTime": _now(),
            "messageType": "ConfigurationItemChangeNotification",
            "recordVersion": "1.3",
        }
    event = _base(invoking_event, parameters, account_id)
    event["eventLeftScope"] = left_scope
    return event
