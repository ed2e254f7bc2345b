"""The HTML format of the organization report: one self-contained page.

The page has no script and loads nothing: styles and the per-account chart (SVG) are inline, so an
auditor can open it offline.

Example::

    Path("report.html").write_text(render("html", report))
"""

from __future__ import annotations

import html

from console_mfa import CIS_REFERENCE

from mfa_audit.formats import Format, register
from mfa_audit.formats._organization import (
    ACCOUNT_COLUMNS_SAID_ONCE,
    FIXING_URL,
    USER_COLUMNS_SAID_ONCE,
    account_status,
    exemption_cells,
    exemptions_phrase,
    headline,
    said_once,
    share_phrase,
    user_cells,
)
from mfa_audit.org_report import AccountSummary, OrgReport
from mfa_audit.results import ENDING_SOON_DAYS, EXEMPTION_HEADER, ending_within

# Okabe-Ito blue and vermilion: told apart with every common colour-vision deficiency.
COLOURS = {"COMPLIANT": "#0072B2", "NON_COMPLIANT": "#D55E00"}
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
    # Each result in the words of the bar's counts beside it: what the result means, never the result again.
    legend = (("NON_COMPLIANT", "no allowed MFA device"), ("COMPLIANT", "an allowed MFA device, or in grace"))
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
    share, scope = share_phrase(report)
    _, counts, *alerts = headline(report)
    return (
        f'<div id="headline"><p class="big">{html.escape(share)} <span class="scope">{html.escape(scope)}</span></p>'
        f"<p>{html.escape(counts)}</p>"
        + f'<p id="exempt-count">{html.escape(_exempt_count(report))}</p>'
        + "".join(f'<p class="alert">{html.escape(alert)}</p>' for alert in alerts)
        + "</div>"
    )


def _exempt_count(report: OrgReport) -> str:
    if report.exemptions_unavailable:
        return "Exempt users: unknown (the exemption tags could not be read)."
    soon = ending_within(report.exemptions, report.generated.date())
    return (
        f"{len(report.exemptions)} users exempt by an exemption tag, not counted as compliant; "
        f"{soon} of the exemptions end within {ENDING_SOON_DAYS} days (see Active exemptions)."
    )


def _exemptions(report: OrgReport) -> str:
    """The exemptions section: how many end within 14 days, then every one, soonest end first."""
    if report.exemptions_unavailable or not report.exemptions:
        text = exemptions_phrase(report.exemptions, report.generated, report.exemptions_unavailable)
        return f'<p id="exemptions">{html.escape(text)}</p>'
    soon = ending_within(report.exemptions, report.generated.date())
    ending = (
        f'<p id="exemptions-ending-soon" class="{"alert-soft" if soon else ""}"><strong>{soon}</strong> of '
        f"{len(report.exemptions)} exemptions end within {ENDING_SOON_DAYS} days: renew them on purpose, or let "
        "them end and the users enable MFA.</p>"
    )
    soon_rows = ["ending-soon" if row.ends_within(report.generated.date()) else "" for row in report.exemptions]
    return ending + _html_table(
        list(EXEMPTION_HEADER), exemption_cells(report.exemptions, label=report), "exemptions", soon_rows
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


def organization_html(report: OrgReport, region: str) -> str:
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
        ACCOUNT_COLUMNS_SAID_ONCE,
    )
    accounts = _html_table(account_header, account_rows, "accounts", [_row_class(a) for a in report.accounts])
    user_header, user_rows, user_constants = said_once(
        ["account", "user", "UserId", "found", "allowed"], user_cells(report, label=True), USER_COLUMNS_SAID_ONCE
    )
    users = _html_table(user_header, user_rows, "non-compliant") if user_rows else '<p id="non-compliant">None.</p>'
    data_time = f"{report.newest_result:%Y-%m-%d %H:%M} UTC" if report.newest_result else "no results"

    def said(constants: list[str], table_id: str) -> str:
        text = "; ".join(constants)
        return f'<p class="said-once" id="{table_id}-said-once">Every row: {html.escape(text)}</p>' if text else ""

    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>Console MFA ({CIS_REFERENCE}) - {html.escape(report.aggregator)}</title>
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
tr.ending-soon td {{ font-weight: 700; }}
.alert-soft {{ border-left: 4px solid #000; padding-left: .5rem; }}
tr.more-than-one-rule td:last-child {{ outline: 3px solid #000; font-weight: 700; }}
.meta {{ color: #444; font-size: 13px; }}
</style></head><body>
<h1>Console MFA ({CIS_REFERENCE}) across the organization</h1>
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
<h2>Active exemptions, soonest end first</h2>
<p class="meta">Users NOT_APPLICABLE by the exemption tag (<code>mfa-exempt-until</code> unless the rule names
another): each until the end of its last day (UTC), with its owner and reason tags. Who set a tag is shown by
<code>mfa-audit audit</code> of the account, while CloudTrail still knows (90 days).</p>
{_exemptions(report)}
<p class="meta" id="fixing">To fix a NON_COMPLIANT user: enable an allowed MFA device for the user, delete
the console password if the user does not sign in to the console, or exempt a deliberate exception
(<code>ExemptUsers</code>).
Step by step: <a href="{html.escape(FIXING_URL)}">"Fixing a NON_COMPLIANT user"</a>.</p>
</body></html>
"""


register(Format("html", organization=organization_html))
