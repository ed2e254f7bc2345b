"""The CSV format: one row per user (user results), or per account and NON_COMPLIANT user (the organization
report); a cell a spreadsheet would run as a formula is neutralised.

Example::

    Path("users.csv").write_text(render("csv", results))
"""

from __future__ import annotations

from mfa_audit.formats import Format, register
from mfa_audit.formats._organization import ACCOUNT_HEADER, account_rows
from mfa_audit.formats._tabular import csv_text
from mfa_audit.org_report import OrgReport
from mfa_audit.results import UserResults

COLUMNS = ("user_name", "user_id", "arn", "result", "reason", "annotation")


def user_csv(results: UserResults, region: str) -> str:
    return csv_text(COLUMNS, [[row.as_dict()[column] for column in COLUMNS] for row in results.listed])


def organization_csv(report: OrgReport, region: str) -> str:
    """Every column on every row (for machines); ``rules`` holds an account's matching rules, or the rule
    a user's result is from."""
    rows = [
        ["account", *row, "", "", "", " ".join(a.rules)]
        for row, a in zip(account_rows(report), report.accounts, strict=True)
    ]
    rows += [
        ["non_compliant_user", u.account_id, report.account_names.get(u.account_id, ""), u.region, "", "", ""]
        + [u.user_name, u.user_id, u.annotation, u.rule]
        for u in report.non_compliant
    ]
    return csv_text(["record", *ACCOUNT_HEADER, "user_name", "user_id", "annotation", "rules"], rows)


register(Format("csv", users=user_csv, organization=organization_csv))
