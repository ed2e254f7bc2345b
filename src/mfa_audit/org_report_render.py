"""The organization report as table, CSV, JSON, Markdown, or one self-contained HTML page.

The HTML page has no script and loads nothing: styles and the per-account chart (SVG) are inline,
so an auditor can open it offline.

Example::

    Path("report.html").write_text(render_report(report, "html"))
"""

from __future__ import annotations

import html
import json

from mfa_audit.org_report import COMPLIANCE_TYPES, OrgReport, as_document
from mfa_audit.tabular import csv_text, markdown_cell, table

REPORT_FORMATS = ("table", "csv", "json", "markdown", "html")
COLOURS = {"COMPLIANT": "#2e7d32", "NON_COMPLIANT": "#c62828", "NOT_APPLICABLE": "#9e9e9e"}


def render_report(report: OrgReport, output_format: str) -> str:
    if output_format == "json":
        return json.dumps(as_document(report), indent=2)
    if output_format == "csv":
        return _csv(report)
    if output_format == "markdown":
        return _markdown(report)
    if output_format == "html":
        return _html(report)
    return _table(report)


def _account_rows(report: OrgReport) -> list[list[str]]:
    return [
        [a.account_id, a.region, *(str(a.counts[k]) if a.has_data else "-" for k in COMPLIANCE_TYPES), a.status]
        for a in report.accounts
    ]


ACCOUNT_HEADER = ["account", "region", *COMPLIANCE_TYPES, "status"]
USER_HEADER = ["account", "user_name", "user_id", "annotation"]


def _user_rows(report: OrgReport) -> list[list[str]]:
    return [[u.account_id, u.user_name, u.user_id, u.annotation] for u in report.non_compliant]


def _table(report: OrgReport) -> str:
    def block(header: list[str], rows: list[list[str]]) -> list[str]:
        return table(header, rows).splitlines()

    totals = ", ".join(f"{count} {kind}" for kind, count in report.totals.items())
    lines = [f"Rule {report.rule} through aggregator {report.aggregator}, {report.generated:%Y-%m-%d %H:%M} UTC", ""]
    lines += block(ACCOUNT_HEADER, _account_rows(report)) + ["", f"All accounts: {totals}", ""]
    lines += ["NON_COMPLIANT users:"] + (block(USER_HEADER, _user_rows(report)) if report.non_compliant else ["(none)"])
    return "\n".join(lines)


def _csv(report: OrgReport) -> str:
    rows = [["account", *row, "", "", ""] for row in _account_rows(report)]
    rows += [
        ["non_compliant_user", u.account_id, u.region, "", "", "", "", u.user_name, u.user_id, u.annotation]
        for u in report.non_compliant
    ]
    return csv_text(["record", *ACCOUNT_HEADER, "user_name", "user_id", "annotation"], rows)


def _markdown(report: OrgReport) -> str:
    def table(header: list[str], rows: list[list[str]]) -> list[str]:
        return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
            "| " + " | ".join(markdown_cell(c) for c in row) + " |" for row in rows
        ]

    lines = [
        "# Console MFA (CIS 1.10) across the organization",
        "",
        f"Rule `{report.rule}`, aggregator `{report.aggregator}`, {report.generated:%Y-%m-%d %H:%M} UTC.",
        "",
        "## Accounts",
        "",
    ] + table(ACCOUNT_HEADER, _account_rows(report))
    lines += ["", "## NON_COMPLIANT users", ""]
    lines += table(USER_HEADER, _user_rows(report)) if report.non_compliant else ["None."]
    return "\n".join(lines)


def _chart(report: OrgReport) -> str:
    bar_width, row_height, label_width = 480, 26, 190
    largest = max([sum(a.counts.values()) for a in report.accounts] + [1])
    height = row_height * len(report.accounts) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="chart" role="img" width="{label_width + bar_width + 60}" '
        f'height="{height}" aria-label="Users per account by result">'
    ]
    for row, account in enumerate(report.accounts):
        y = row * row_height
        label = html.escape(f"{account.account_id} {account.region}")
        parts.append(f'<text x="0" y="{y + 17}" font-size="13">{label}</text>')
        x = label_width
        if not account.has_data:
            parts.append(f'<text x="{x}" y="{y + 17}" font-size="12" fill="#555" class="no-data">no data</text>')
            continue
        for kind in COMPLIANCE_TYPES:
            width = round(bar_width * account.counts[kind] / largest)
            if width:
                parts.append(
                    f'<rect x="{x}" y="{y + 4}" width="{width}" height="18" fill="{COLOURS[kind]}" '
                    f'data-account="{account.account_id}" data-kind="{kind}" data-count="{account.counts[kind]}">'
                    f"<title>{kind}: {account.counts[kind]}</title></rect>"
                )
                x += width
    legend_y = height - 8
    for index, kind in enumerate(COMPLIANCE_TYPES):
        parts.append(
            f'<rect x="{label_width + index * 160}" y="{legend_y - 11}" width="12" height="12" fill="{COLOURS[kind]}"/>'
            f'<text x="{label_width + index * 160 + 18}" y="{legend_y}" font-size="12">{kind}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _html_table(header: list[str], rows: list[list[str]], table_id: str) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _html(report: OrgReport) -> str:
    totals = ", ".join(f"{count} {kind}" for kind, count in report.totals.items())
    users = (
        _html_table(USER_HEADER, _user_rows(report), "non-compliant")
        if report.non_compliant
        else '<p id="non-compliant">None.</p>'
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>Console MFA (CIS 1.10) - {html.escape(report.aggregator)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; font-size: 14px; }}
th {{ background: #f3f3f3; }}
</style></head><body>
<h1>Console MFA (CIS 1.10) across the organization</h1>
<p>Rule <code>{html.escape(report.rule)}</code> through aggregator <code>{html.escape(report.aggregator)}</code>,
generated {report.generated:%Y-%m-%d %H:%M} UTC. All accounts: {html.escape(totals)}.</p>
<h2>Users per account</h2>
{_chart(report)}
<h2>Accounts</h2>
{_html_table(ACCOUNT_HEADER, _account_rows(report), "accounts")}
<h2>NON_COMPLIANT users</h2>
{users}
</body></html>
"""
