"""The organization-wide report: the rule's results across accounts, read from a Config aggregator.

Gathering is the only part that calls AWS (read-only aggregator APIs); rendering is the formats'
(:mod:`mfa_audit.formats`). Each user (account, Region, UserId) is counted once, however many
rules in its account match the rule name (:func:`worst_result`), and such accounts are flagged.

Example::

    report = gather_report(config_client, aggregator="organization", rule=RULE_NAME)
    print(render("markdown", report))
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from botocore.client import BaseClient
from console_mfa import RESOURCE_TYPE
from console_mfa.aws import collect
from console_mfa.exceptions import AwsCallError, MissingPermissionError
from console_mfa.policy import Policy
from console_mfa.verdict import exemption_granted

from mfa_audit.results import ExemptionRow, in_exemption_order

# The aggregator's GetAggregateComplianceDetailsByConfigRule supports only these two (API reference):
# NOT_APPLICABLE results are not aggregator data, so the report never shows counts for them.
COMPLIANCE_TYPES = ("COMPLIANT", "NON_COMPLIANT")
# Where one user has results under several copies of the rule, the worst one is counted.
_SEVERITY = {"NON_COMPLIANT": 0, "COMPLIANT": 1}


@dataclass
class AccountSummary:
    account_id: str
    region: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COMPLIANCE_TYPES, 0))
    # "collected", or why there is nothing to show for this account
    status: str = "collected"
    # The account's rules matching the rule name, the organization rule first. More than one means a
    # copy (a conformance pack, or a local rule of the same name) that could otherwise skew the counts.
    rules: list[str] = field(default_factory=list)

    @property
    def has_data(self) -> bool:
        return self.status == "collected"

    @property
    def more_than_one_rule(self) -> bool:
        return len(self.rules) > 1


@dataclass(frozen=True)
class UserResult:
    """One user's result as the aggregator holds it."""

    account_id: str
    region: str
    user_name: str
    user_id: str
    result: str
    annotation: str
    # The rule whose result this is (the worst among the account's copies).
    rule: str = ""


@dataclass
class OrgReport:
    aggregator: str
    rule: str
    generated: datetime
    accounts: list[AccountSummary]
    users: list[UserResult]
    # Account names from AWS Organizations, where the caller may list them.
    account_names: dict[str, str] = field(default_factory=dict)
    # When the newest result was recorded: how current the data is.
    newest_result: datetime | None = None
    tool_version: str = ""
    # Every exemption tag honoured today, from the aggregator's inventory (soonest end first).
    exemptions: list[ExemptionRow] = field(default_factory=list)
    # Why the exemptions could not be read ("" when they were).
    exemptions_unavailable: str = ""

    @property
    def non_compliant(self) -> list[UserResult]:
        return [user for user in self.users if user.result == "NON_COMPLIANT"]

    def account_label(self, account_id: str) -> str:
        name = self.account_names.get(account_id)
        return f"{name} ({account_id})" if name else account_id

    @property
    def share_compliant(self) -> float | None:
        """COMPLIANT among the console-password users evaluated (the only ones the aggregator counts)."""
        totals = self.totals
        evaluated = totals["COMPLIANT"] + totals["NON_COMPLIANT"]
        return totals["COMPLIANT"] / evaluated if evaluated else None

    # Accounts, not rows: an aggregator over several Regions has a row per account and Region.
    @property
    def account_count(self) -> int:
        return len({a.account_id for a in self.accounts})

    @property
    def accounts_failing(self) -> int:
        return len({a.account_id for a in self.accounts if a.counts["NON_COMPLIANT"]})

    @property
    def accounts_not_reporting(self) -> int:
        return self.account_count - len({a.account_id for a in self.accounts if a.has_data})

    @property
    def accounts_with_more_than_one_rule(self) -> list[AccountSummary]:
        return [a for a in self.accounts if a.more_than_one_rule]

    @property
    def totals(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for account in self.accounts:
            total.update(account.counts)
        return {kind: total.get(kind, 0) for kind in COMPLIANCE_TYPES}


def rule_matches(name: str, rule: str) -> bool:
    """The rule as named in each account: itself, an organization rule, or a conformance-pack copy."""
    return name == rule or name.startswith((f"OrgConfigRule-{rule}-", f"{rule}-conformance-pack-"))


def is_organization_rule(name: str, rule: str) -> bool:
    return name.startswith(f"OrgConfigRule-{rule}-")


def worst_result(candidates: list[UserResult], rule: str) -> UserResult:
    """One user's result from every copy of the rule in its account: the worst wins, so a copy that
    reports COMPLIANT cannot hide a NON_COMPLIANT one; between equals, the organization rule's."""
    return min(
        candidates,
        key=lambda u: (_SEVERITY[u.result], not is_organization_rule(u.rule, rule), u.rule),
    )


def _one_per_user(candidates: dict[str, list[UserResult]], rule: str) -> list[UserResult]:
    """Each user of one account once. Where the organization rule has results there, a user it has no
    result for is NOT_APPLICABLE to it (no console password) or not yet evaluated, so another copy's
    COMPLIANT for that user is not counted (it would raise the share); its NON_COMPLIANT is."""
    organization_reports = any(is_organization_rule(u.rule, rule) for found in candidates.values() for u in found)
    chosen = []
    for found in candidates.values():
        result = worst_result(found, rule)
        if organization_reports and result.result == "COMPLIANT" and not is_organization_rule(result.rule, rule):
            continue
        chosen.append(result)
    return chosen


def account_names(organizations: BaseClient | None) -> dict[str, str]:
    """Account names from AWS Organizations, or none where the caller may not list accounts."""
    if organizations is None:
        return {}
    try:
        accounts = collect(organizations, "ListAccounts", "Accounts")
    except AwsCallError:
        # Not the management account or a delegated administrator, or denied: ids will do.
        return {}
    return {a["Id"]: a.get("Name", "") for a in accounts}


def worst_first(accounts: list[AccountSummary], names: dict[str, str] | None = None) -> list[AccountSummary]:
    """Most NON_COMPLIANT users first, then accounts without data, then the rest; ties by account name as
    people read them (an account without a name after those with one), then by id and Region.

    Example::

        worst_first(accounts, {"111111111111": "prod"})
    """
    names = names or {}

    def rank(account: AccountSummary) -> tuple:
        name = names.get(account.account_id, "")
        tie = (not name, name.casefold(), name, account.account_id, account.region)
        return (-account.counts["NON_COMPLIANT"], account.has_data, *tie)

    return sorted(accounts, key=rank)


def users_worst_account_first(users: list[UserResult], accounts: list[AccountSummary]) -> list[UserResult]:
    """Users in the accounts' order (worst first), NON_COMPLIANT before COMPLIANT, then by name."""
    rank = {(a.account_id, a.region): index for index, a in enumerate(accounts)}
    return sorted(
        users,
        key=lambda u: (rank.get((u.account_id, u.region), len(rank)), _SEVERITY[u.result], u.user_name.casefold()),
    )


def gather_report(
    config: BaseClient,
    aggregator: str,
    rule: str,
    organizations: BaseClient | None = None,
    policy: Policy | None = None,
) -> OrgReport:
    """Read every account's results for ``rule`` through ``aggregator`` (paginated, retried by botocore).

    ``policy`` names the exemption tag and its limit (the rule's defaults unless given) for the exemptions listed.
    """
    # In this order: the sources, the rules, then the names (the Stubber tests expect the calls so).
    accounts = _accounts_by_source(config, aggregator)
    matching = _matching_rules(config, aggregator, rule)
    names = _user_names(config, aggregator)
    users: list[UserResult] = []
    newest: datetime | None = None
    for key, rule_names in sorted(matching.items()):
        summary = accounts.setdefault(key, AccountSummary(*key))
        summary.status = "collected"
        summary.rules = sorted(set(rule_names), key=lambda name: (not is_organization_rule(name, rule), name))
        candidates, recorded = _candidates(config, aggregator, summary, names)
        newest = max((t for t in (newest, recorded) if t is not None), default=None)
        for chosen in _one_per_user(candidates, rule):
            summary.counts[chosen.result] += 1
            users.append(chosen)
    names_of_accounts = account_names(organizations)
    ordered = worst_first(_one_row_per_account_without_results(list(accounts.values())), names_of_accounts)
    generated = datetime.now(timezone.utc)
    exemptions, unavailable = [], ""
    try:
        exemptions = gather_exemptions(config, aggregator, policy or Policy(), generated.date())
    except (AwsCallError, MissingPermissionError) as error:
        unavailable = str(error)
    return OrgReport(
        aggregator,
        rule,
        generated,
        ordered,
        users_worst_account_first(users, ordered),
        names_of_accounts,
        newest,
        exemptions=exemptions,
        exemptions_unavailable=unavailable,
    )


def exemption_query(tag_key: str) -> str:
    """The advanced query for users carrying the exemption tag (the key is a validated tag key: no quote in it)."""
    return (
        "SELECT accountId, resourceId, resourceName, tags "
        f"WHERE resourceType = '{RESOURCE_TYPE}' AND tags.key = '{tag_key}'"
    )


def gather_exemptions(config: BaseClient, aggregator: str, policy: Policy, today: date) -> list[ExemptionRow]:
    """Every user across the aggregator whose exemption tag is honoured ``today``, with owner and reason.

    One advanced query (SelectAggregateResourceConfig) over Config's inventory: the aggregator has no
    NOT_APPLICABLE results, so exempt users are found by their tags. Who set a tag is not known here.
    """
    found = collect(
        config,
        "SelectAggregateResourceConfig",
        "Results",
        ConfigurationAggregatorName=aggregator,
        Expression=exemption_query(policy.exemption_tag),
    )
    rows = []
    for text in found:
        item = json.loads(text)
        exemption = exemption_granted(_tag_pairs(item.get("tags")), policy, today)
        if exemption is not None:
            name = item.get("resourceName") or item.get("resourceId") or "(unknown)"
            rows.append(ExemptionRow(str(name), str(item.get("accountId", "")), exemption))
    return in_exemption_order(rows)


def _tag_pairs(tags: object) -> tuple[tuple[str, str], ...]:
    """An advanced query's ``tags``: a list of {key, value} (or a key-to-value object) as (key, value) pairs."""
    if isinstance(tags, dict):
        return tuple((str(k), str(v)) for k, v in tags.items())
    if isinstance(tags, list):
        return tuple((str(t.get("key", "")), str(t.get("value", ""))) for t in tags if isinstance(t, dict))
    return ()


def _accounts_by_source(config: BaseClient, aggregator: str) -> dict[tuple[str, str], AccountSummary]:
    """An (account, Region) row for each account source of the aggregator, saying why it has no results yet."""
    sources = collect(
        config,
        "DescribeConfigurationAggregatorSourcesStatus",
        "AggregatedSourceStatusList",
        ConfigurationAggregatorName=aggregator,
    )
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
            else f"not collected by the aggregator ({status})"
            + (f": {source['LastErrorMessage']}" if source.get("LastErrorMessage") else ""),
        )
    return accounts


def _user_names(config: BaseClient, aggregator: str) -> dict[tuple[str, str], str]:
    """(account, UserId) -> user name, from the aggregator's resource inventory."""
    return {
        (item["SourceAccountId"], item["ResourceId"]): item.get("ResourceName", "")
        for item in collect(
            config,
            "ListAggregateDiscoveredResources",
            "ResourceIdentifiers",
            ConfigurationAggregatorName=aggregator,
            ResourceType=RESOURCE_TYPE,
        )
    }


def _matching_rules(config: BaseClient, aggregator: str, rule: str) -> dict[tuple[str, str], list[str]]:
    """Every copy of the rule per account and Region."""
    matching: dict[tuple[str, str], list[str]] = {}
    for entry in collect(
        config,
        "DescribeAggregateComplianceByConfigRules",
        "AggregateComplianceByConfigRules",
        ConfigurationAggregatorName=aggregator,
    ):
        if rule_matches(entry["ConfigRuleName"], rule):
            matching.setdefault((entry["AccountId"], entry["AwsRegion"]), []).append(entry["ConfigRuleName"])
    return matching


def _candidates(
    config: BaseClient, aggregator: str, summary: AccountSummary, names: dict[tuple[str, str], str]
) -> tuple[dict[str, list[UserResult]], datetime | None]:
    """Each user's results in one account, one per copy of the rule, and when the newest was recorded."""
    candidates: dict[str, list[UserResult]] = {}
    newest: datetime | None = None
    for rule_name in summary.rules:
        for result in _results(config, aggregator, rule_name, summary.account_id, summary.region):
            kind = result.get("ComplianceType", "")
            if kind not in summary.counts:
                continue
            recorded = result.get("ResultRecordedTime")
            if isinstance(recorded, datetime) and (newest is None or recorded > newest):
                newest = recorded
            user_id = result["EvaluationResultIdentifier"]["EvaluationResultQualifier"]["ResourceId"]
            candidates.setdefault(user_id, []).append(
                UserResult(
                    summary.account_id,
                    summary.region,
                    names.get((summary.account_id, user_id), "") or "(unknown)",
                    user_id,
                    kind,
                    result.get("Annotation", ""),
                    rule_name,
                )
            )
    return candidates, newest


def _one_row_per_account_without_results(accounts: list[AccountSummary]) -> list[AccountSummary]:
    """An aggregator over every Region has a row per account and Region, and the rule (on a global
    resource type) runs in one: the Regions without results of an account that reports in another are
    left out, and an account without results anywhere gets one row per reason, naming its Regions."""
    reporting = {a.account_id for a in accounts if a.has_data}
    kept = [a for a in accounts if a.has_data]
    silent: dict[tuple[str, str], list[str]] = {}
    for account in accounts:
        if account.account_id not in reporting:
            silent.setdefault((account.account_id, account.status), []).append(account.region)
    kept += [
        AccountSummary(account_id, ", ".join(sorted(regions)), status=status)
        for (account_id, status), regions in silent.items()
    ]
    return kept


def _results(config: BaseClient, aggregator: str, rule_name: str, account_id: str, region: str) -> list[dict]:
    return collect(
        config,
        "GetAggregateComplianceDetailsByConfigRule",
        "AggregateEvaluationResults",
        ConfigurationAggregatorName=aggregator,
        ConfigRuleName=rule_name,
        AccountId=account_id,
        AwsRegion=region,
    )
