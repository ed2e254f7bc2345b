"""The CSV format: one row per user (user results), or per account and NON_COMPLIANT user (the organization
report); a cell a spreadsheet would run as a formula is neutralised.

Example::

    Path("users.csv").write_text(render("csv", results))
"""

from __future__ import annotations

from console_mfa.verdict import human_text

from mfa_audit.formats import Format, register
from mfa_audit.formats._organization import ACCOUNT_HEADER, account_rows
from mfa_audit.formats._tabular import csv_text
from mfa_audit.org_report import OrgReport
from mfa_audit.results import UserResults, facts_record

COLUMNS = ("user_name", "user_id", "arn", "result", "reason", "annotation", "facts_record")


def user_csv(results: UserResults, region: str) -> str:
    return csv_text(COLUMNS, [[row.as_dict()[column] for column in COLUMNS] for row in results.listed])


def organization_csv(report: OrgReport, region: str) -> str:
    """Every column on every row (for machines); ``rules`` holds an account's matching rules, or the rule
    a user's result is from."""
    rows = [
        ["account", *row, "", "", "", "", " ".join(a.rules)]
        for row, a in zip(account_rows(report), report.accounts, strict=True)
    ]
    rows += [
        ["non_compliant_user", u.account_id, report.account_names.get(u.account_id, ""), u.region, "", "", ""]
        + [u.user_name, u.user_id, human_text(u.annotation), facts_record(u.annotation) or "", u.rule]
        for u in report.non_compliant
    ]
    header = ["record", *ACCOUNT_HEADER, "user_name", "user_id", "annotation", "facts_record", "rules"]
    return csv_text(header, rows)


register(Format("csv", users=user_csv, organization=organization_csv))
