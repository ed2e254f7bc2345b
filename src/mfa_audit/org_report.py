"""The organization-wide report: the rule's results across accounts, read from a Config aggregator.

Gathering is the only part that calls AWS (read-only aggregator APIs); rendering lives in
:mod:`mfa_audit.org_report_render`.

Example::

    report = gather_report(config_client, aggregator="organization", rule="IAM_USER_CONSOLE_MFA")
    print(render_report(report, "markdown"))
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from botocore.client import BaseClient
from console_mfa.aws import collect

COMPLIANCE_TYPES = ("COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE")


@dataclass
class AccountSummary:
    account_id: str
    region: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COMPLIANCE_TYPES, 0))
    # "collected", or why there is nothing to show for this account
    status: str = "collected"

    @property
    def has_data(self) -> bool:
        return self.status == "collected"


@dataclass(frozen=True)
class NonCompliantUser:
    account_id: str
    region: str
    user_name: str
    user_id: str
    annotation: str


@dataclass
class OrgReport:
    aggregator: str
    rule: str
    generated: datetime
    accounts: list[AccountSummary]
    non_compliant: list[NonCompliantUser]

    @property
    def totals(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for account in self.accounts:
            total.update(account.counts)
        return {kind: total.get(kind, 0) for kind in COMPLIANCE_TYPES}


def rule_matches(name: str, rule: str) -> bool:
    """The rule as named in each account: itself, an organization rule, or a conformance-pack copy."""
    return name == rule or name.startswith((f"OrgConfigRule-{rule}-", f"{rule}-conformance-pack-"))


def gather_report(config: BaseClient, aggregator: str, rule: str) -> OrgReport:
    """Read every account's results for ``rule`` through ``aggregator`` (paginated, retried by botocore)."""
    sources = (
        collect(
            config,
            "DescribeConfigurationAggregatorSourcesStatus",
            "AggregatedSourceStatusList",
            ConfigurationAggregatorName=aggregator,
        )
        or []
    )
    rules = (
        collect(
            config,
            "DescribeAggregateComplianceByConfigRules",
            "AggregateComplianceByConfigRules",
            ConfigurationAggregatorName=aggregator,
        )
        or []
    )
    names = {
        (item["SourceAccountId"], item["ResourceId"]): item.get("ResourceName", "")
        for item in collect(
            config,
            "ListAggregateDiscoveredResources",
            "ResourceIdentifiers",
            ConfigurationAggregatorName=aggregator,
            ResourceType="AWS::IAM::User",
        )
        or []
    }
    accounts: dict[tuple[str, str], AccountSummary] = {}
    for source in sources:
        if source.get("SourceType") == "ORGANIZATION" or not str(source.get("SourceId", "")).isdigit():
            continue
        key = (source["SourceId"], source.get("AwsRegion", "-"))
        status = source.get("LastUpdateStatus", "UNKNOWN")
        accounts[key] = AccountSummary(
            *key,
            status="no results for this rule (not deployed, excluded or not yet run)"
            if status == "SUCCEEDED"
            else f"not collected by the aggregator: {status} {source.get('LastErrorMessage', '')}".strip(),
        )
    non_compliant = []
    for entry in sorted(rules, key=lambda item: (item["AccountId"], item["AwsRegion"], item["ConfigRuleName"])):
        if not rule_matches(entry["ConfigRuleName"], rule):
            continue
        key = (entry["AccountId"], entry["AwsRegion"])
        summary = accounts.setdefault(key, AccountSummary(*key))
        summary.status = "collected"
        results = (
            collect(
                config,
                "GetAggregateComplianceDetailsByConfigRule",
                "AggregateEvaluationResults",
                ConfigurationAggregatorName=aggregator,
                ConfigRuleName=entry["ConfigRuleName"],
                AccountId=key[0],
                AwsRegion=key[1],
            )
            or []
        )
        for result in results:
            kind = result.get("ComplianceType", "")
            if kind in summary.counts:
                summary.counts[kind] += 1
            if kind == "NON_COMPLIANT":
                user_id = result["EvaluationResultIdentifier"]["EvaluationResultQualifier"]["ResourceId"]
                non_compliant.append(
                    NonCompliantUser(
                        key[0],
                        key[1],
                        names.get((key[0], user_id), "") or "(unknown)",
                        user_id,
                        result.get("Annotation", ""),
                    )
                )
    return OrgReport(
        aggregator,
        rule,
        datetime.now(timezone.utc),
        sorted(accounts.values(), key=lambda a: (a.account_id, a.region)),
        sorted(non_compliant, key=lambda u: (u.account_id, u.user_name.casefold())),
    )


def as_document(report: OrgReport) -> dict[str, Any]:
    """The JSON form (schema ``mfa-audit-report/v1``)."""
    return {
        "schema": "mfa-audit-report/v1",
        "aggregator": report.aggregator,
        "rule": report.rule,
        "generated": report.generated.isoformat(),
        "totals": report.totals,
        "accounts": [
            {"account_id": a.account_id, "region": a.region, "status": a.status, "counts": a.counts}
            for a in report.accounts
        ],
        "non_compliant": [
            {
                "account_id": u.account_id,
                "region": u.region,
                "user_name": u.user_name,
                "user_id": u.user_id,
                "annotation": u.annotation,
            }
            for u in report.non_compliant
        ],
    }
