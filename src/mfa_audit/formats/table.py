"""The table format: aligned columns for a terminal, control characters stripped.

Example::

    print(render("table", results))
"""

from __future__ import annotations

from mfa_audit.formats import Format, register
from mfa_audit.formats._organization import (
    ACCOUNT_COLUMNS_SAID_ONCE,
    ACCOUNT_HEADER,
    FIXING_URL,
    USER_COLUMNS_SAID_ONCE,
    USER_HEADER,
    account_rows,
    exemption_cells,
    exemptions_phrase,
    headline,
    said_once,
    user_cells,
)
from mfa_audit.formats._tabular import printable, table
from mfa_audit.org_report import OrgReport
from mfa_audit.results import EXEMPTION_HEADER, UserResults, summary_line

EXEMPTION_COLUMNS = tuple(column.upper() for column in EXEMPTION_HEADER)


def user_table(results: UserResults, region: str) -> str:
    cells = [(row.user_name, row.user_id or "-", row.result.value, row.text) for row in results.listed]
    lines = [table(("USER", "USER ID", "RESULT", "ANNOTATION"), cells), "", summary_line(results.rows)]
    if results.exemptions:
        lines += ["", f"Active exemptions ({len(results.exemptions)}), soonest end first:"]
        lines.append(table(EXEMPTION_COLUMNS, exemption_cells(results.exemptions)))
    return "\n".join(lines)


def organization_table(report: OrgReport, region: str) -> str:
    def block(header: list[str], rows: list[list[str]], columns: tuple[str, ...]) -> list[str]:
        header, rows, constants = said_once(header, rows, columns)
        return [f"All rows: {constant}" for constant in constants] + table(header, rows).splitlines()

    totals = ", ".join(f"{count} {kind}" for kind, count in report.totals.items())
    lines = [f"Rule {report.rule} through aggregator {report.aggregator}, {report.generated:%Y-%m-%d %H:%M} UTC", ""]
    lines += [printable(line) for line in headline(report)] + [""]
    lines += block(ACCOUNT_HEADER, account_rows(report), ACCOUNT_COLUMNS_SAID_ONCE)
    lines += ["", f"All accounts: {totals}", "", "NON_COMPLIANT users, worst account first:"]
    lines += block(USER_HEADER, user_cells(report), USER_COLUMNS_SAID_ONCE) if report.non_compliant else ["(none)"]
    lines += ["", printable(exemptions_phrase(report.exemptions, report.generated, report.exemptions_unavailable))]
    if report.exemptions:
        lines += [
            "Active exemptions, soonest end first:",
            table(EXEMPTION_COLUMNS, exemption_cells(report.exemptions, label=report)),
        ]
    lines += ["", f"How to fix a NON_COMPLIANT user: {FIXING_URL}"]
    return "\n".join(lines)


register(Format("table", users=user_table, organization=organization_table))
