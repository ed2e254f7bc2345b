"""What the finding formats (asff, ocsf, junit) share: the rule's finding metadata, an ARN's parts, and the
organization report as result rows, with the accounts where more than one copy of the rule matches.

Example::

    rows = report_rows(report)
"""

from __future__ import annotations

from console_mfa import SEVERITY as RULE_SEVERITY
from console_mfa.exemptions import Exemption
from console_mfa.identifiers import account_of, partition_of
from console_mfa.verdict import ComplianceType

from mfa_audit.org_report import OrgReport
from mfa_audit.results import ResultRow

SEVERITY = {
    ComplianceType.COMPLIANT: "INFORMATIONAL",
    ComplianceType.NON_COMPLIANT: RULE_SEVERITY,
    ComplianceType.NOT_APPLICABLE: "INFORMATIONAL",
}


def exemption_fields(exemption: Exemption) -> dict[str, str]:
    """An exempt user's exemption as the finding formats carry it: until, owner, reason, set by."""
    return {
        "until": f"{exemption.last_day:%Y-%m-%d}",
        "owner": exemption.owner,
        "reason": exemption.reason,
        "set_by": exemption.set_by,
    }


def arn_parts(arn: str) -> tuple[str, str]:
    """(partition, account) of an IAM user ARN; ("aws", "") for what is not one."""
    return partition_of(arn), account_of(arn) or ""


def report_rows(report: OrgReport) -> list[ResultRow]:
    """Every user's result as the single-account formats take it. The aggregator has no user path, so the
    ARN is built from the account and the name (or the UserId where the name is not known)."""
    return [
        ResultRow(
            u.user_name,
            u.user_id,
            f"arn:aws:iam::{u.account_id}:user/{u.user_id if u.user_name == '(unknown)' else u.user_name}",
            ComplianceType(u.result),
            u.annotation,
        )
        for u in report.users
    ]


def rule_copies(report: OrgReport) -> dict[str, list[str]]:
    """Accounts with more than one matching rule and their rules, for the finding formats."""
    return {a.account_id: a.rules for a in report.accounts_with_more_than_one_rule}


def flagged_users(report: OrgReport) -> dict[tuple[str, str], tuple[list[str], str]]:
    """(account, UserId) of each user in such an account: the account's rules, and the rule of the result.
    Findings are matched by these, not by position, so a change in their order cannot mislabel one."""
    flags = rule_copies(report)
    return {(u.account_id, u.user_id): (flags[u.account_id], u.rule) for u in report.users if u.account_id in flags}
