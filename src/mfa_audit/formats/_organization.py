"""What the organization report's formats share: the headline, the rows, the columns said once, the fixing link.

Example::

    print("\n".join(headline(report)))
"""

from __future__ import annotations

from datetime import datetime

from console_mfa.verdict import parse_annotation

from mfa_audit.org_report import COMPLIANCE_TYPES, AccountSummary, OrgReport
from mfa_audit.results import ENDING_SOON_DAYS, ExemptionRow, ending_within

# Where the documentation lives: the one place to change when it moves (a docs site is planned).
# The project has no public address yet; this is where its repository is to be published.
DOCS_URL = "https://github.com/iam-user-console-mfa/iam-user-console-mfa/blob/main/README.md"
FIXING_URL = f"{DOCS_URL}#fixing-a-non_compliant-user"
# The people's formats leave out these columns where they hold the same value on every row, and say it once.
ACCOUNT_COLUMNS_SAID_ONCE = ("region",)
USER_COLUMNS_SAID_ONCE = ("account", "found", "allowed")


def account_status(account: AccountSummary) -> str:
    """What there is to know about an account in a few words; a second copy of the rule is always said."""
    if account.more_than_one_rule:
        return f"collected; {len(account.rules)} rules match, each user counted once (worst result)"
    return account.status


def account_rows(report: OrgReport) -> list[list[str]]:
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


def user_cells(report: OrgReport, label: bool = False) -> list[list[str]]:
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


def accounts_phrase(count: int) -> str:
    return f"{count} account" if count == 1 else f"{count} accounts"


def share_phrase(report: OrgReport) -> tuple[str, str]:
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
        " ".join(part for part in share_phrase(report) if part),
        f"{report.totals['NON_COMPLIANT']} of {sum(report.totals.values())} users with a console password have no"
        f" allowed MFA device; {report.accounts_failing} of {accounts_phrase(total)} have such users.",
    ]
    if report.accounts_not_reporting:
        lines.append(
            f"{report.accounts_not_reporting} of {accounts_phrase(total)} not reporting: their users are in no count"
            " above. See each one's status below."
        )
    flagged = report.accounts_with_more_than_one_rule
    if flagged:
        named = "; ".join(f"{report.account_label(a.account_id)}: {', '.join(a.rules)}" for a in flagged)
        lines.append(
            f"{accounts_phrase(len(flagged))} with more than one rule matching {report.rule} ({named}). Each user is"
            " counted once, with the worst of its results; keep one copy of the rule per account."
        )
    return lines


def exemptions_phrase(exemptions: list[ExemptionRow], generated: datetime, unavailable: str = "") -> str:
    """The exemptions in one sentence: how many, that they are not counted as compliant, how many end soon."""
    if unavailable:
        return f"Exemptions could not be read: {unavailable}"
    if not exemptions:
        return "No user is exempt by an exemption tag."
    soon = ending_within(exemptions, generated.date())
    return (
        f"{len(exemptions)} users exempt by an exemption tag (NOT_APPLICABLE, not counted as compliant); "
        f"{soon} of the exemptions end within {ENDING_SOON_DAYS} days."
    )


def exemption_cells(exemptions: list[ExemptionRow], label: OrgReport | None = None) -> list[list[str]]:
    """One row per exemption; ``label`` names each account as the report knows it."""
    rows = []
    for row in exemptions:
        cells = row.cells()
        if label is not None:
            cells[1] = label.account_label(row.account_id)
        rows.append(cells)
    return rows


def found_and_allowed(annotation: str) -> tuple[str, str]:
    """The devices found and the kinds allowed, from the rule's annotation ("-" where it names none)."""
    parsed = parse_annotation(annotation)
    return parsed.found, parsed.allowed
