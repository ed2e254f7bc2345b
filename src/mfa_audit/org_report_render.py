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
import xml.etree.ElementTree as ElementTree

from console_mfa.verdict import ComplianceType

from mfa_audit.findings import render_asff, render_junit, render_ocsf
from mfa_audit.org_report import COMPLIANCE_TYPES, AccountSummary, OrgReport, as_document
from mfa_audit.output import ResultRow
from mfa_audit.tabular import csv_text, markdown_cell, printable, table

REPORT_FORMATS = ("table", "csv", "json", "markdown", "html", "asff", "ocsf", "junit")
# Okabe-Ito blue and vermilion: told apart with every common colour-vision deficiency.
COLOURS = {"COMPLIANT": "#0072B2", "NON_COMPLIANT": "#D55E00"}
# Where the documentation lives: the one place to change when it moves (a docs site is planned).
# The project has no public address yet; this is where its repository is to be published.
DOCS_URL = "https://github.com/iam-user-console-mfa/iam-user-console-mfa/blob/main/README.md"
FIXING_URL = f"{DOCS_URL}#fixing-a-non_compliant-user"
# The people's formats leave out these columns where they hold the same value on every row, and say it once.
_ACCOUNT_COLUMNS_SAID_ONCE = ("region",)
_USER_COLUMNS_SAID_ONCE = ("account", "found", "allowed")


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
        return _flag_asff(report, render_asff(result_rows(report), generated=report.generated, region=region))
    if output_format == "ocsf":
        findings = render_ocsf(
            result_rows(report), generated=report.generated, region=region, version=report.tool_version
        )
        return _flag_ocsf(report, findings)
    if output_format == "junit":
        return _flag_junit(report, render_junit(result_rows(report), generated=report.generated))
    if output_format == "json":
        return json.dumps(as_document(report), indent=2)
    if output_format == "csv":
        return _csv(report)
    if output_format == "markdown":
        return _markdown(report)
    if output_format == "html":
        return _html(report)
    return _table(report)


def account_status(account: AccountSummary) -> str:
    """What there is to know about an account in a few words; a second copy of the rule is always said."""
    if account.more_than_one_rule:
        return f"collected; {len(account.rules)} rules match, each user counted once (worst result)"
    return account.status


def _account_rows(report: OrgReport) -> list[list[str]]:
    return [
        [
            a.account_id,
            report.account_names.get(a.account_id, ""),
            a.region,
            *(str(a.counts[k]) if a.has_data else "-" for k in COMPLIANCE_TYPES),
            account_status(a),
        ]
        for a in report.accounts
    ]


ACCOUNT_HEADER = ["account", "account_name", "region", *COMPLIANCE_TYPES, "status"]
# For people (table, Markdown; the HTML page words them its own way): what was found and what is
# allowed, instead of the whole annotation.
USER_HEADER = ["account", "user_name", "user_id", "found", "allowed"]


def _user_rows(report: OrgReport, label: bool = False) -> list[list[str]]:
    return [
        [report.account_label(u.account_id) if label else u.account_id, u.user_name, u.user_id]
        + list(found_and_allowed(u.annotation))
        for u in report.non_compliant
    ]


def said_once(
    header: list[str], rows: list[list[str]], columns: tuple[str, ...]
) -> tuple[list[str], list[list[str]], list[str]]:
    """The header and rows without those of ``columns`` that hold one value on every row (of two or
    more), and those values as "column: value", to be said once above the table."""
    constant = [
        index
        for index, name in enumerate(header)
        if name in columns and len(rows) > 1 and len({row[index] for row in rows}) == 1
    ]
    kept = [index for index in range(len(header)) if index not in constant]
    return (
        [header[i] for i in kept],
        [[row[i] for i in kept] for row in rows],
        [f"{header[i]}: {rows[0][i]}" for i in constant],
    )


def _accounts(count: int) -> str:
    return f"{count} account" if count == 1 else f"{count} accounts"


def _share(report: OrgReport) -> tuple[str, str]:
    """The share that complies, and over which accounts where that is not all of them."""
    share = report.share_compliant
    total = report.account_count
    reporting = total - report.accounts_not_reporting
    return (
        "No console users evaluated" if share is None else f"{share:.0%} of console users comply",
        f"in the {reporting} of {total} accounts that report" if report.accounts_not_reporting else "",
    )


def headline(report: OrgReport) -> list[str]:
    """The share that complies, the users and accounts failing, then what is not known as it seems:
    accounts not reporting, and accounts where more than one rule matches the rule name."""
    total = report.account_count
    lines = [
        " ".join(part for part in _share(report) if part),
        f"{report.totals['NON_COMPLIANT']} of {sum(report.totals.values())} users with a console password have no"
        f" allowed MFA device; {report.accounts_failing} of {_accounts(total)} have such users.",
    ]
    if report.accounts_not_reporting:
        lines.append(
            f"{report.accounts_not_reporting} of {_accounts(total)} not reporting: their users are in no count"
            " above. See each one's status below."
        )
    flagged = report.accounts_with_more_than_one_rule
    if flagged:
        named = "; ".join(f"{report.account_label(a.account_id)}: {', '.join(a.rules)}" for a in flagged)
        lines.append(
            f"{_accounts(len(flagged))} with more than one rule matching {report.rule} ({named}). Each user is"
            " counted once, with the worst of its results; keep one copy of the rule per account."
        )
    return lines


def _table(report: OrgReport) -> str:
    def block(header: list[str], rows: list[list[str]], columns: tuple[str, ...]) -> list[str]:
        header, rows, constants = said_once(header, rows, columns)
        return [f"All rows: {constant}" for constant in constants] + table(header, rows).splitlines()

    totals = ", ".join(f"{count} {kind}" for kind, count in report.totals.items())
    lines = [f"Rule {report.rule} through aggregator {report.aggregator}, {report.generated:%Y-%m-%d %H:%M} UTC", ""]
    lines += [printable(line) for line in headline(report)] + [""]
    lines += block(ACCOUNT_HEADER, _account_rows(report), _ACCOUNT_COLUMNS_SAID_ONCE)
    lines += ["", f"All accounts: {totals}", "", "NON_COMPLIANT users, worst account first:"]
    lines += block(USER_HEADER, _user_rows(report), _USER_COLUMNS_SAID_ONCE) if report.non_compliant else ["(none)"]
    lines += ["", f"How to fix a NON_COMPLIANT user: {FIXING_URL}"]
    return "\n".join(lines)


def _csv(report: OrgReport) -> str:
    """Every column on every row (for machines); ``rules`` holds an account's matching rules, or the rule
    a user's result is from."""
    rows = [
        ["account", *row, "", "", "", " ".join(a.rules)]
        for row, a in zip(_account_rows(report), report.accounts, strict=True)
    ]
    rows += [
        ["non_compliant_user", u.account_id, report.account_names.get(u.account_id, ""), u.region, "", "", ""]
        + [u.user_name, u.user_id, u.annotation, u.rule]
        for u in report.non_compliant
    ]
    return csv_text(["record", *ACCOUNT_HEADER, "user_name", "user_id", "annotation", "rules"], rows)


def _markdown(report: OrgReport) -> str:
    def table(header: list[str], rows: list[list[str]], columns: tuple[str, ...]) -> list[str]:
        header, rows, constants = said_once(header, rows, columns)
        said = [f"All rows: {markdown_cell('; '.join(constants))}.", ""] if constants else []
        return (
            said
            + ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(markdown_cell(c) for c in row) + " |" for row in rows]
        )

    lines = [
        "# Console MFA (CIS 1.10) across the organization",
        "",
        f"Rule `{report.rule}`, aggregator `{report.aggregator}`, {report.generated:%Y-%m-%d %H:%M} UTC.",
        "",
    ]
    for number, line in enumerate(headline(report)):
        lines += [f"**{markdown_cell(line)}**" if number else markdown_cell(line), ""]
    lines += ["## Accounts, worst first", ""] + table(ACCOUNT_HEADER, _account_rows(report), _ACCOUNT_COLUMNS_SAID_ONCE)
    lines += ["", "## NON_COMPLIANT users, worst account first", ""]
    lines += table(USER_HEADER, _user_rows(report), _USER_COLUMNS_SAID_ONCE) if report.non_compliant else ["None."]
    lines += ["", f"How to fix a NON_COMPLIANT user: [Fixing a NON_COMPLIANT user]({FIXING_URL})."]
    return "\n".join(lines)


_FOUND_ALLOWED = re.compile(r"found: (.*?); allowed: (.*?)\)")


def found_and_allowed(annotation: str) -> tuple[str, str]:
    """The devices found and the kinds allowed, from the rule's annotation ("-" where it names none)."""
    match = _FOUND_ALLOWED.search(annotation)
    return (match.group(1).strip(), match.group(2).strip()) if match else ("-", "-")


NOT_REPORTING_COLOUR = "#F0E442"  # Okabe-Ito yellow, with black text: unknown, not fine


def _chart(report: OrgReport) -> str:
    """One bar per account, worst first; every segment's count is written beside it, not left to colour."""
    bar_width, row_height, label_width = 420, 28, 280
    largest = max([sum(a.counts.values()) for a in report.accounts] + [1])
    height = row_height * len(report.accounts) + 34
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="chart" role="img" width="{label_width + bar_width + 320}" '
        f'height="{height}" aria-label="Console users per account: NON_COMPLIANT and COMPLIANT">'
    ]
    for row, account in enumerate(report.accounts):
        y = row * row_height
        label = html.escape(report.account_label(account.account_id)[:40])
        parts.append(f'<text x="0" y="{y + 18}" font-size="13">{label}</text>')
        x = label_width
        if not account.has_data:
            parts.append(
                f'<rect x="{x}" y="{y + 5}" width="{bar_width}" height="18" fill="{NOT_REPORTING_COLOUR}" '
                f'stroke="#000" class="not-reporting" data-account="{account.account_id}"/>'
                f'<text x="{x + 8}" y="{y + 18}" font-size="12" font-weight="700">NOT REPORTING</text>'
            )
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
        summary = (
            f"{account.counts['NON_COMPLIANT']} with no allowed MFA device / {account.counts['COMPLIANT']} compliant"
        )
        if account.more_than_one_rule:
            summary += f" ({len(account.rules)} rules match)"
        parts.append(f'<text x="{x + 8}" y="{y + 18}" font-size="12" class="counts">{summary}</text>')
    legend_y = height - 8
    legend = (("NON_COMPLIANT", "no allowed MFA device"), ("COMPLIANT", "compliant"))
    for index, (kind, words) in enumerate(legend):
        parts.append(
            f'<rect x="{label_width + index * 300}" y="{legend_y - 11}" width="12" height="12" fill="{COLOURS[kind]}"/>'
            f'<text x="{label_width + index * 300 + 18}" y="{legend_y}" font-size="12">{kind} ({words})</text>'
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
    share, scope = _share(report)
    _, counts, *alerts = headline(report)
    return (
        f'<div id="headline"><p class="big">{html.escape(share)} <span class="scope">{html.escape(scope)}</span></p>'
        f"<p>{html.escape(counts)}</p>"
        + "".join(f'<p class="alert">{html.escape(alert)}</p>' for alert in alerts)
        + "</div>"
    )


def _row_class(account: AccountSummary) -> str:
    classes = []
    if not account.has_data:
        classes.append("not-reporting")
    elif account.counts["NON_COMPLIANT"]:
        classes.append("failing")
    if account.more_than_one_rule:
        classes.append("more-than-one-rule")
    return " ".join(classes)


def _html(report: OrgReport) -> str:
    account_header, account_rows, account_constants = said_once(
        ["account", "region", "NON_COMPLIANT", "COMPLIANT", "status"],
        [
            [
                report.account_label(a.account_id),
                a.region,
                str(a.counts["NON_COMPLIANT"]) if a.has_data else "-",
                str(a.counts["COMPLIANT"]) if a.has_data else "-",
                account_status(a),
            ]
            for a in report.accounts
        ],
        _ACCOUNT_COLUMNS_SAID_ONCE,
    )
    accounts = _html_table(account_header, account_rows, "accounts", [_row_class(a) for a in report.accounts])
    user_header, user_rows, user_constants = said_once(
        ["account", "user", "UserId", "found", "allowed"], _user_rows(report, label=True), _USER_COLUMNS_SAID_ONCE
    )
    users = _html_table(user_header, user_rows, "non-compliant") if user_rows else '<p id="non-compliant">None.</p>'
    data_time = f"{report.newest_result:%Y-%m-%d %H:%M} UTC" if report.newest_result else "no results"

    def said(constants: list[str], table_id: str) -> str:
        text = "; ".join(constants)
        return f'<p class="said-once" id="{table_id}-said-once">Every row: {html.escape(text)}</p>' if text else ""

    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>Console MFA (CIS 1.10) - {html.escape(report.aggregator)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #1a1a1a; max-width: 1100px; }}
#headline {{ border-left: 6px solid {COLOURS["NON_COMPLIANT"]}; padding: .4rem 1rem; background: #faf6f2; }}
#headline .big {{ font-size: 2rem; font-weight: 700; margin: .2rem 0; }}
#headline .scope {{ font-size: 1.1rem; }}
#headline .alert {{ background: {NOT_REPORTING_COLOUR}; border: 2px solid #000; padding: .3rem .6rem;
  font-weight: 700; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ border: 1px solid #bbb; padding: .3rem .6rem; text-align: left; font-size: 14px; white-space: nowrap; }}
td:last-child {{ white-space: normal; }}
th {{ background: #eee; }}
tr.failing td {{ background: #fbe3d6; font-weight: 600; }}
tr.not-reporting td {{ background: {NOT_REPORTING_COLOUR}; font-weight: 700; border-top: 2px solid #000;
  border-bottom: 2px solid #000; }}
tr.more-than-one-rule td:last-child {{ outline: 3px solid #000; font-weight: 700; }}
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
{said(account_constants, "accounts")}
{accounts}
<h2>Users with a console password and no allowed MFA device, worst account first</h2>
{said(user_constants, "non-compliant")}
{users}
<p class="meta" id="fixing">To fix a NON_COMPLIANT user: enable an allowed MFA device for the user, delete
the console password if the user does not sign in to the console, or exempt a deliberate exception
(<code>ExemptUsers</code>).
Step by step: <a href="{html.escape(FIXING_URL)}">"Fixing a NON_COMPLIANT user"</a>.</p>
</body></html>
"""


def _flags(report: OrgReport) -> dict[str, list[str]]:
    """Accounts with more than one matching rule and their rules, for the finding formats."""
    return {a.account_id: a.rules for a in report.accounts_with_more_than_one_rule}


def _flagged_users(report: OrgReport) -> dict[tuple[str, str], tuple[list[str], str]]:
    """(account, UserId) of each user in such an account: the account's rules, and the rule of the result.
    Findings are matched by these, not by position, so a change in their order cannot mislabel one."""
    flags = _flags(report)
    return {(u.account_id, u.user_id): (flags[u.account_id], u.rule) for u in report.users if u.account_id in flags}


def _flag_asff(report: OrgReport, text: str) -> str:
    """Findings in an account with more than one matching rule carry those rules (``UserDefinedFields``)."""
    flagged = _flagged_users(report)
    findings = json.loads(text)
    for finding in findings:
        user_id = finding["Resources"][0]["Details"]["AwsIamUser"].get("UserId", "")
        if (finding["AwsAccountId"], user_id) in flagged:
            rules, rule = flagged[(finding["AwsAccountId"], user_id)]
            finding["UserDefinedFields"] = {"MatchingRules": ", ".join(rules), "ResultFromRule": rule}
    return json.dumps(findings, indent=2)


def _flag_ocsf(report: OrgReport, text: str) -> str:
    """As :func:`_flag_asff`, in OCSF's place for source-specific attributes (``unmapped``)."""
    flagged = _flagged_users(report)
    findings = json.loads(text)
    for finding in findings:
        key = (finding["cloud"]["account"]["uid"], finding["resources"][0]["data"]["user_id"])
        if key in flagged:
            rules, rule = flagged[key]
            finding["unmapped"] = {"matching_rules": rules, "result_from_rule": rule}
    return json.dumps(findings, indent=2)


def _flag_junit(report: OrgReport, text: str) -> str:
    """The suite names each account with more than one matching rule: a property each, and a line in system-err."""
    flags = _flags(report)
    if not flags:
        return text
    suite = ElementTree.fromstring(text)  # noqa: S314 - render_junit's own output, not outside input
    properties = ElementTree.Element("properties")
    for account_id, rules in flags.items():
        ElementTree.SubElement(properties, "property", name=f"more_than_one_rule:{account_id}", value=", ".join(rules))
    suite.insert(0, properties)
    errors = ElementTree.SubElement(suite, "system-err")
    errors.text = "\n".join(printable(line) for line in headline(report) if "more than one rule" in line)
    ElementTree.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(suite, encoding="unicode")
