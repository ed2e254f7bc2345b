"""`mfa-audit report --demo`: an emulated organization of 14 accounts, reported on without AWS.

Each account's users are decided by the rule's own ``decide()``; an emulated Config aggregator
serves the results exactly as the real aggregator APIs would (COMPLIANT and NON_COMPLIANT only),
moto's Organizations serves the account names, and the real ``gather_report`` reads them.
Among the accounts: clean ones, ones with failures, one where Config is off (the aggregator
could not collect it), one where the rule has not been deployed, and one with a local rule of the
same name that reports every user COMPLIANT (counted once per user, the worst result, and flagged).
A few users without MFA carry an exemption tag (owner, reason, a last day weeks or days ahead), so the
report's list of active exemptions has something to show.

    report = demo_report()
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

from console_mfa import RULE_NAME
from console_mfa.facts import MfaDevice, UserFacts
from console_mfa.policy import parse_rule_parameters
from console_mfa.verdict import decide

from mfa_audit.emulation.account import device_serial, emulated_credentials
from mfa_audit.org_report import OrgReport

DEMO_AGGREGATOR = "organization (emulated)"
DEMO_PARAMETERS = {"GracePeriodDays": "14", "ExemptUsers": "break-glass"}
# (account name, users, share without MFA, collected by the aggregator, rule deployed)
DEMO_ACCOUNTS = (
    ("prod-payments", 40, 0.10, True, True),
    ("prod-web", 55, 0.04, True, True),
    ("prod-data-lake", 25, 0.0, True, True),
    ("staging", 30, 0.20, True, True),
    ("dev-sandbox", 60, 0.35, True, True),
    ("security-tooling", 8, 0.0, True, True),
    ("log-archive", 4, 0.0, True, True),
    ("shared-services", 18, 0.06, True, True),
    ("ml-research", 22, 0.18, True, True),
    ("marketing-site", 12, 0.25, True, True),
    ("network-hub", 6, 0.0, True, True),
    ("audit", 5, 0.0, True, True),
    ("legacy-erp", 30, 0.0, False, True),  # Config is off there: the aggregator cannot collect it
    ("new-acquisition", 20, 0.0, True, False),  # joined last week; the rule is not deployed yet
)
# The kinds of user every account mixes: devices (or none), password age in days (None: no password).
KINDS = (
    ("virtual", ("virtual",), 400),
    ("fido", ("fido",), 400),
    ("hardware", ("hardware",), 400),
    ("two-devices", ("fido", "virtual"), 400),
    ("no-password", (), None),
    ("new-hire", (), 3),
)
FAILING_KINDS = (("no-mfa", (), 400), ("sms-only", ("sms",), 400))
# Exemption tags: (account, days until the last day, owner, reason). Each goes on the account's first user without MFA.
EXEMPTIONS = (
    ("prod-payments", 9, "payments-lead@example.com", "card vendor's console user, migration ends this month"),
    ("staging", 40, "qa-lead@example.com", "shared test user, replaced by SSO in Q1"),
    ("dev-sandbox", 4, "platform@example.com", "break-glass user kept in the safe"),
    ("dev-sandbox", 75, "", "service account being retired"),
)
# An account where someone also created a local rule of the same name that says COMPLIANT for everyone.
LOCAL_COPY_ACCOUNT = "marketing-site"
LOCAL_COPY_RULE = RULE_NAME


def _everyone_compliant(users: list[tuple]) -> list[tuple]:
    return [
        (user_id, name, "COMPLIANT", "Console password with MFA.", recorded) for user_id, name, *_, recorded in users
    ]


def _exemption_tags(account: str, number: int, now: datetime) -> tuple[tuple[str, str], ...]:
    """The tags of the account's ``number``-th user without MFA: an exemption from EXEMPTIONS, or none."""
    granted = [entry for entry in EXEMPTIONS if entry[0] == account]
    if number >= len(granted):
        return ()
    _, days, owner, reason = granted[number]
    tags = [("mfa-exempt-until", f"{now + timedelta(days=days):%Y-%m-%d}"), ("mfa-exempt-reason", reason)]
    return tuple(tags + ([("mfa-exempt-owner", owner)] if owner else []))


def _users(
    account: str, account_id: str, count: int, failing_share: float, rng: random.Random, now: datetime
) -> tuple[list[tuple], list[tuple]]:
    """The account's users as the aggregator holds their results, and those carrying tags (Config's inventory)."""
    policy = parse_rule_parameters(DEMO_PARAMETERS)
    users, tagged = [], []
    failing = round(count * failing_share)
    for number in range(count):
        label, devices, age = FAILING_KINDS[number % 2] if number < failing else KINDS[rng.randrange(len(KINDS))]
        name = "break-glass" if number == count - 1 and count > 10 else f"{label}-{number:03d}"
        user_id = f"AIDA{rng.randrange(16**16):016X}"
        facts = UserFacts(
            name,
            user_id,
            f"arn:aws:iam::{account_id}:user/{name}",
            None if age is None else now - timedelta(days=age),
            tuple(MfaDevice(device_serial(kind, name, account_id, index)) for index, kind in enumerate(devices)),
            tags=_exemption_tags(account, number, now) if number < failing else (),
        )
        if facts.tags:
            tagged.append((user_id, name, dict(facts.tags)))
        verdict = decide(facts, policy, now)
        recorded = now - timedelta(minutes=rng.randrange(5, 55))
        users.append((user_id, name, verdict.compliance_type.value, verdict.annotation, recorded))
    return users, tagged


def demo_report(seed: int = 7) -> OrgReport:
    """Build the emulated organization and report on it through the real report code."""
    import boto3
    from moto import mock_aws

    from mfa_audit.emulation.services import EmulatedAggregator
    from mfa_audit.org_report import gather_report

    rng = random.Random(seed)  # noqa: S311 - repeatable demo data, nothing secret
    now = datetime.now(timezone.utc)
    with emulated_credentials(), mock_aws():
        organizations = boto3.client("organizations", region_name="us-east-1")
        organizations.create_organization(FeatureSet="ALL")
        accounts: list[dict[str, Any]] = []
        for name, count, failing_share, collected, deployed in DEMO_ACCOUNTS:
            created = organizations.create_account(AccountName=name, Email=f"{name}@example.com")
            account_id = created["CreateAccountStatus"]["AccountId"]
            users, tagged = _users(name, account_id, count, failing_share, rng, now)
            accounts.append(
                {
                    "account_id": account_id,
                    "region": "us-east-1",
                    "collected": collected,
                    "error": "AWS Config is not enabled in this account and Region",
                    "rule_deployed": deployed,
                    "users": users,
                    "tagged": tagged,
                    "other_rules": {LOCAL_COPY_RULE: _everyone_compliant(users)} if name == LOCAL_COPY_ACCOUNT else {},
                }
            )
        with EmulatedAggregator(accounts):
            # A new session: it picks up the emulator registered after the default session was made.
            config = boto3.Session(region_name="us-east-1").client("config")
            return gather_report(config, DEMO_AGGREGATOR, RULE_NAME, organizations)
