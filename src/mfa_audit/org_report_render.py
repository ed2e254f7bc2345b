"""The organization report as table, CSV, JSON, Markdown, or one self-contained HTML page.

The HTML page has no script and loads nothing: styles and the per-account chart (SVG) are inline,
so an auditor can open it offline.

Example::

    Path("report.html").write_text(render_report(report, "html"))
"""

from __future__ import annotations

import html
import json
import re

from console_mfa.verdict import ComplianceType

from mfa_audit.findings import render_asff, render_junit, render_ocsf
from mfa_audit.org_report import COMPLIANCE_TYPES, OrgReport, as_document
from mfa_audit.output import ResultRow
from mfa_audit.tabular import csv_text, markdown_cell, table

REPORT_FORMATS = ("table", "csv", "json", "markdown", "html", "asff", "ocsf", "junit")
# Okabe-Ito blue and vermilion: told apart with every common colour-vision deficiency.
COLOURS = {"COMPLIANT": "#0072B2", "NON_COMPLIANT": "#D55E00"}


def result_rows(report: OrgReport) -> list[ResultRow]:
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


def render_report(report: OrgReport, output_format: str, region: str = "us-east-1") -> str:
    if output_format == "asff":
        return render_asff(result_rows(report), generated=report.generated, region=region)
    if output_format == "ocsf":
        return render_ocsf(result_rows(report), generated=report.generated, region=region, version=report.tool_version)
    if output_format == "junit":
        return render_junit(result_rows(report), generated=report.generated)
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
        [
            a.account_id,
            report.account_names.get(a.account_id, ""),
            a.region,
            *(str(a.counts[k]) if a.has_data else "-" for k in COMPLIANCE_TYPES),
            a.status,
        ]
        for a in report.accounts
    ]


ACCOUNT_HEADER = ["account", "account_name", "region", *COMPLIANCE_TYPES, "status"]
# For people (table, Markdown): what was found and what is allowed, instead of the whole annotation.
USER_HEADER = ["account", "user_name", "user_id", "found", "allowed"]


def _user_rows(report: OrgReport) -> list[list[str]]:
    return [[u.account_id, u.user_name, u.user_id, *found_and_allowed(u.annotation)] for u in report.non_compliant]


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
        ["non_compliant_user", u.account_id, report.account_names.get(u.account_id, ""), u.region, "", "", ""]
        + [u.user_name, u.user_id, u.annotation]
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


_FOUND_ALLOWED = re.compile(r"found: (.*?); allowed: (.*?)\)")


def found_and_allowed(annotation: str) -> tuple[str, str]:
    """The devices found and the kinds allowed, from the rule's annotation ("-" where it names none)."""
    match = _FOUND_ALLOWED.search(annotation)
    return (match.group(1).strip(), match.group(2).strip()) if match else ("-", "-")


def _chart(report: OrgReport) -> str:
    """One bar per account, worst first; every segment's count is written beside it, not left to colour."""
    bar_width, row_height, label_width = 420, 28, 280
    largest = max([sum(a.counts.values()) for a in report.accounts] + [1])
    height = row_height * len(report.accounts) + 34
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="chart" role="img" width="{label_width + bar_width + 240}" '
        f'height="{height}" aria-label="Console users per account: NON_COMPLIANT and COMPLIANT">'
    ]
    for row, account in enumerate(report.accounts):
        y = row * row_height
        label = html.escape(report.account_label(account.account_id)[:40])
        parts.append(f'<text x="0" y="{y + 18}" font-size="13">{label}</text>')
        x = label_width
        if not account.has_data:
            parts.append(f'<text x="{x}" y="{y + 18}" font-size="12" fill="#444" class="no-data">no data</text>')
            continue
        for kind in ("NON_COMPLIANT", "COMPLIANT"):
            count = account.counts[kind]
            width = max(round(bar_width * count / largest), 2 if count else 0)
            if width:
                parts.append(
                    f'<rect x="{x}" y="{y + 5}" width="{width}" height="18" fill="{COLOURS[kind]}" '
                    f'data-account="{account.account_id}" data-kind="{kind}" data-count="{count}">'
                    f"<title>{kind}: {count}</title></rect>"
                )
                x += width
        summary = f"{account.counts['NON_COMPLIANT']} without MFA / {account.counts['COMPLIANT']} compliant"
        parts.append(f'<text x="{x + 8}" y="{y + 18}" font-size="12" class="counts">{summary}</text>')
    legend_y = height - 8
    for index, (kind, words) in enumerate((("NON_COMPLIANT", "without MFA"), ("COMPLIANT", "compliant"))):
        parts.append(
            f'<rect x="{label_width + index * 260}" y="{legend_y - 11}" width="12" height="12" fill="{COLOURS[kind]}"/>'
            f'<text x="{label_width + index * 260 + 18}" y="{legend_y}" font-size="12">{kind} ({words})</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _html_table(header: list[str], rows: list[list[str]], table_id: str, row_classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    classes = row_classes or [""] * len(rows)
    body = "".join(
        (f'<tr class="{css}">' if css else "<tr>") + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
        for row, css in zip(rows, classes, strict=True)
    )
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _headline(report: OrgReport) -> str:
    share = report.share_compliant
    evaluated = report.totals["COMPLIANT"] + report.totals["NON_COMPLIANT"]
    share_text = "no console users evaluated" if share is None else f"{share:.0%} of console users comply"
    without_data = sum(1 for a in report.accounts if not a.has_data)
    return (
        f'<div id="headline"><p class="big">{share_text}</p>'
        f"<p>{report.totals['NON_COMPLIANT']} of {evaluated} users with a console password have no allowed MFA "
        f"device; <strong>{report.accounts_failing} of {len(report.accounts)} accounts</strong> have such users"
        + (f"; {without_data} account(s) without results" if without_data else "")
        + ".</p></div>"
    )


def _html(report: OrgReport) -> str:
    account_rows = [
        [
            report.account_label(a.account_id),
            a.region,
            str(a.counts["NON_COMPLIANT"]) if a.has_data else "-",
            str(a.counts["COMPLIANT"]) if a.has_data else "-",
            a.status,
        ]
        for a in report.accounts
    ]
    account_classes = [
        "no-data" if not a.has_data else "failing" if a.counts["NON_COMPLIANT"] else "" for a in report.accounts
    ]
    user_rows = [
        [report.account_label(u.account_id), u.user_name, u.user_id, *found_and_allowed(u.annotation)]
        for u in report.non_compliant
    ]
    users = (
        _html_table(["account", "user", "UserId", "found", "allowed"], user_rows, "non-compliant")
        if user_rows
        else '<p id="non-compliant">None.</p>'
    )
    data_time = f"{report.newest_result:%Y-%m-%d %H:%M} UTC" if report.newest_result else "no results"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>Console MFA (CIS 1.10) - {html.escape(report.aggregator)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #1a1a1a; max-width: 1100px; }}
#headline {{ border-left: 6px solid {COLOURS["NON_COMPLIANT"]}; padding: .4rem 1rem; background: #faf6f2; }}
#headline .big {{ font-size: 2rem; font-weight: 700; margin: .2rem 0; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ border: 1px solid #bbb; padding: .3rem .6rem; text-align: left; font-size: 14px; white-space: nowrap; }}
td:last-child {{ white-space: normal; }}
th {{ background: #eee; }}
tr.failing td {{ background: #fbe3d6; font-weight: 600; }}
tr.no-data td {{ background: #eee; font-style: italic; }}
.meta {{ color: #444; font-size: 13px; }}
</style></head><body>
<h1>Console MFA (CIS 1.10) across the organization</h1>
{_headline(report)}
<p class="meta">Rule <code>{html.escape(report.rule)}</code> through aggregator
<code>{html.escape(report.aggregator)}</code>. Newest result {data_time}; report made
{report.generated:%Y-%m-%d %H:%M} UTC by mfa-audit {html.escape(report.tool_version)}. The aggregator
returns COMPLIANT and NON_COMPLIANT results only, so users without a console password are not counted.</p>
<h2>Accounts, worst first</h2>
{_chart(report)}
{_html_table(["account", "region", "NON_COMPLIANT", "COMPLIANT", "status"], account_rows, "accounts", account_classes)}
<h2>Users with a console password and no allowed MFA device</h2>
{users}
<p class="meta">How to fix a NON_COMPLIANT user:
<a href="README.md#fixing-a-non_compliant-user">README, "Fixing a NON_COMPLIANT user"</a>.</p>
</body></html>
"""
