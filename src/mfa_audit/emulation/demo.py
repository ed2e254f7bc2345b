"""The demo: an emulated AWS account, evaluated by the real Lambda handler.

Example::

    rows, parameters = run_demo()
"""

from __future__ import annotations

from typing import Any

from mfa_audit.emulation.account import SeedUser, create_user, emulated_credentials
from mfa_audit.emulation.events import RULE_NAME, scheduled_event
from mfa_audit.emulation.services import EmulatedCloudTrail, EmulatedConfig
from mfa_audit.results import ResultRow

DEMO_PARAMETERS = {"GracePeriodDays": "14", "ExemptUsers": "break-glass-admin"}

# The six users of the CIS audit example, then one user for every case the rule tells apart.
DEMO_USERS = (
    SeedUser("elise", console_password=True, devices=("virtual",)),
    SeedUser("brandon", console_password=True),
    SeedUser("rakesh"),
    SeedUser("helene", devices=("virtual",)),
    SeedUser("paras", console_password=True, devices=("virtual",)),
    SeedUser("anitha", console_password=True),
    SeedUser("case-no-mfa", console_password=True),
    SeedUser("case-virtual-mfa", console_password=True, devices=("virtual",)),
    SeedUser("case-hardware-token", console_password=True, devices=("hardware",)),
    SeedUser("case-fido-key", console_password=True, devices=("fido",)),
    SeedUser("case-sms-only", console_password=True, devices=("sms",)),
    SeedUser("case-new-in-grace", console_password=True, password_age_days=3),
    SeedUser("break-glass-admin", console_password=True),
    SeedUser("case-no-console-password", devices=()),
)


def run_demo() -> tuple[list[ResultRow], dict[str, str]]:
    """Seed an emulated account, run lambda_handler on a ScheduledNotification, return what Config got."""
    import boto3
    from console_mfa.verdict import ComplianceType
    from IAM_USER_CONSOLE_MFA import lambda_handler
    from moto import mock_aws

    with emulated_credentials(), mock_aws(), EmulatedCloudTrail(), EmulatedConfig(RULE_NAME) as config:
        iam = boto3.client("iam")
        users: dict[str, dict[str, Any]] = {seed.name: create_user(iam, seed) for seed in DEMO_USERS}
        lambda_handler(scheduled_event(DEMO_PARAMETERS), None)

    by_id = {user["UserId"]: user for user in users.values()}
    rows = []
    for evaluation in config.sent:
        user = by_id[evaluation["ComplianceResourceId"]]
        rows.append(
            ResultRow(
                user["UserName"],
                user["UserId"],
                user["Arn"],
                ComplianceType(evaluation["ComplianceType"]),
                evaluation.get("Annotation", ""),
            )
        )
    return rows, DEMO_PARAMETERS
