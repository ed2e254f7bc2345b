"""The Markdown format of the organization report: headline, accounts and NON_COMPLIANT users as tables.

Example::

    Path("report.md").write_text(render("markdown", report))
"""

from __future__ import annotations

from console_mfa import CIS_REFERENCE

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
from mfa_audit.formats._tabular import markdown_cell
from mfa_audit.org_report import OrgReport
from mfa_audit.results import EXEMPTION_HEADER


def organization_markdown(report: OrgReport, region: str) -> str:
    def table(header: list[str], rows: list[list[str]], columns: tuple[str, ...]) -> list[str]:
        header, rows, constants = said_once(header, rows, columns)
        said = [f"All rows: {markdown_cell('; '.join(constants))}.", ""] if constants else []
        return (
            said
            + ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(markdown_cell(c) for c in row) + " |" for row in rows]
        )

    lines = [
        f"# Console MFA ({CIS_REFERENCE}) across the organization",
        "",
        f"Rule `{report.rule}`, aggregator `{report.aggregator}`, {report.generated:%Y-%m-%d %H:%M} UTC.",
        "",
    ]
    for number, line in enumerate(headline(report)):
        lines += [f"**{markdown_cell(line)}**" if number else markdown_cell(line), ""]
    lines += ["## Accounts, worst first", ""] + table(ACCOUNT_HEADER, account_rows(report), ACCOUNT_COLUMNS_SAID_ONCE)
    lines += ["", "## NON_COMPLIANT users, worst account first", ""]
    lines += table(USER_HEADER, user_cells(report), USER_COLUMNS_SAID_ONCE) if report.non_compliant else ["None."]
    lines += ["", "## Active exemptions, soonest end first", ""]
    lines += [markdown_cell(exemptions_phrase(report.exemptions, report.generated, report.exemptions_unavailable))]
    if report.exemptions:
        lines += [""] + table(list(EXEMPTION_HEADER), exemption_cells(report.exemptions, label=report), ())
    lines += ["", f"How to fix a NON_COMPLIANT user: [Fixing a NON_COMPLIANT user]({FIXING_URL})."]
    return "\n".join(lines)


register(Format("markdown", organization=organization_markdown))
