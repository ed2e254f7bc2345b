"""The CSV format: one row per user (user results), or per account, NON_COMPLIANT user and exemption (the
organization report); a cell a spreadsheet would run as a formula is neutralised.

Example::

    Path("users.csv").write_text(render("csv", results))
"""

from __future__ import annotations

from console_mfa.exemptions import Exemption
from console_mfa.verdict import human_text

from mfa_audit.formats import Format, register
from mfa_audit.formats._organization import ACCOUNT_HEADER, account_rows
from mfa_audit.formats._tabular import csv_text
from mfa_audit.org_report import OrgReport
from mfa_audit.results import UserResults, facts_record

COLUMNS = ("user_name", "user_id", "arn", "result", "reason", "annotation", "facts_record")
# An exempt user's exemption, on its row (empty for everyone else).
EXEMPTION_COLUMNS = ("exempt_until", "exempt_owner", "exempt_reason", "exempt_set_by")


def _exemption_values(exemption: Exemption | None) -> list[str]:
    if exemption is None:
        return [""] * len(EXEMPTION_COLUMNS)
    return [f"{exemption.last_day:%Y-%m-%d}", exemption.owner, exemption.reason, exemption.set_by]


def user_csv(results: UserResults, region: str) -> str:
    return csv_text(
        COLUMNS + EXEMPTION_COLUMNS,
        [[row.as_dict()[column] for column in COLUMNS] + _exemption_values(row.exemption) for row in results.listed],
    )


def organization_csv(report: OrgReport, region: str) -> str:
    """Every column on every row (for machines); ``rules`` holds an account's matching rules, or the rule
    a user's result is from."""
    rows = [
        ["account", *row, "", "", "", "", " ".join(a.rules)]
        for row, a in zip(account_rows(report), report.accounts, strict=True)
    ]
    rows = [row + [""] * len(EXEMPTION_COLUMNS) for row in rows]
    rows += [
        ["non_compliant_user", u.account_id, report.account_names.get(u.account_id, ""), u.region, "", "", ""]
        + [u.user_name, u.user_id, human_text(u.annotation), facts_record(u.annotation) or "", u.rule]
        + [""] * len(EXEMPTION_COLUMNS)
        for u in report.non_compliant
    ]
    rows += [
        ["exemption", e.account_id, report.account_names.get(e.account_id, ""), "", "", "", ""]
        + [e.user_name, "", "", "", ""]
        + _exemption_values(e.exemption)
        for e in report.exemptions
    ]
    header = [
        "record",
        *ACCOUNT_HEADER,
        "user_name",
        "user_id",
        "annotation",
        "facts_record",
        "rules",
        *EXEMPTION_COLUMNS,
    ]
    return csv_text(header, rows)


register(Format("csv", users=user_csv, organization=organization_csv))
