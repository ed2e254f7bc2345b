"""The demo: an emulated AWS account, evaluated by the real Lambda handler.

Example::

    rows, parameters = run_demo()
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

from console_mfa.exemptions import Exemption
from console_mfa.policy import parse_rule_parameters
from console_mfa.verdict import exemption_granted

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


def _exempt_users(today: datetime) -> tuple[SeedUser, ...]:
    """Users carrying the exemption tag: one honoured (with owner and reason), one whose last day has passed."""
    return (
        SeedUser(
            "case-exempt-by-tag",
            console_password=True,
            tags=(
                ("mfa-exempt-until", f"{today + timedelta(days=10):%Y-%m-%d}"),
                ("mfa-exempt-owner", "secops@example.com"),
                ("mfa-exempt-reason", "vendor migration, ticket SEC-1042"),
            ),
        ),
        SeedUser(
            "case-exemption-ended",
            console_password=True,
            tags=(("mfa-exempt-until", f"{today - timedelta(days=3):%Y-%m-%d}"),),
        ),
    )


def run_demo() -> tuple[list[ResultRow], dict[str, str]]:
    """Seed an emulated account, run lambda_handler on a ScheduledNotification, return what Config got."""
    import boto3
    from console_mfa.verdict import ComplianceType
    from IAM_USER_CONSOLE_MFA import lambda_handler
    from moto import mock_aws

    with emulated_credentials(), mock_aws(), EmulatedCloudTrail(), EmulatedConfig(RULE_NAME) as config:
        iam = boto3.client("iam")
        now = datetime.now(timezone.utc)
        seeds = DEMO_USERS + _exempt_users(now)
        users: dict[str, dict[str, Any]] = {seed.name: create_user(iam, seed) for seed in seeds}
        lambda_handler(scheduled_event(DEMO_PARAMETERS), None)
        exemptions = _exemptions(iam, config, users, now)

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
                exemption=exemptions.get(user["UserId"]),
            )
        )
    return rows, DEMO_PARAMETERS


def _exemptions(iam: Any, config: Any, users: dict[str, dict[str, Any]], now: datetime) -> dict[str, Exemption]:
    """The exemptions the rule honoured, with owner, reason and who set them (the emulated CloudTrail's TagUser)."""
    from boto3 import client

    from mfa_audit.live import who_set_tag

    policy = parse_rule_parameters(DEMO_PARAMETERS)
    set_by = who_set_tag(client("cloudtrail"), policy.exemption_tag, now)
    exempt = {e["ComplianceResourceId"] for e in config.sent if e["ComplianceType"] == "NOT_APPLICABLE"}
    found = {}
    for user in users.values():
        tags = tuple((t["Key"], t["Value"]) for t in iam.list_user_tags(UserName=user["UserName"])["Tags"])
        exemption = exemption_granted(tags, policy, now.date())
        if user["UserId"] in exempt and exemption is not None:
            found[user["UserId"]] = replace(exemption, set_by=set_by.get(user["UserName"].casefold(), ""))
    return found
