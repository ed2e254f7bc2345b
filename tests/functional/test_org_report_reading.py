"""mfa-audit report: one result per user where more than one rule matches, and what people read."""

import json

import boto3
import pytest

from mfa_audit.emulation.services import EmulatedAggregator
from mfa_audit.formats import REPORT_FORMATS, render_report
from mfa_audit.org_report import gather_report

from .org_report_cases import (
    AGGREGATOR,
    WHEN,
    A,
    B,
    C,
    _words,
    fixture_demo,  # noqa: F401 (a fixture)
    fixture_report,  # noqa: F401 (a fixture)
)

# --- one result per user: an account with more than one rule matching the rule name ---

LOCAL_RULE = "IAM_USER_CONSOLE_MFA"  # a local rule of the same name, next to the organization rule
PACK_RULE = "IAM_USER_CONSOLE_MFA-conformance-pack-x1y2z3"
SMS_ONLY = (
    "Console password but no allowed MFA device (found: sms; allowed: fido, hardware, virtual). "
    "Enable an allowed MFA device for this user or delete its console password."
)
NO_DEVICE = SMS_ONLY.replace("found: sms", "found: none")


def _account(account_id, users, other_rules=None, **status):
    """One account as the emulated aggregator takes it; ``users`` are (id, name, result, annotation)."""
    return {
        "account_id": account_id,
        "region": "us-east-1",
        "collected": status.get("collected", True),
        "error": "AWS Config is not enabled in this account and Region",
        "rule_deployed": status.get("rule_deployed", True),
        "users": [(*user, WHEN) for user in users],
        "other_rules": {name: [(*user, WHEN) for user in rows] for name, rows in (other_rules or {}).items()},
    }


def emulated_report(*accounts):
    with EmulatedAggregator(list(accounts)):
        config = boto3.Session(region_name="us-east-1").client("config")
        return gather_report(config, AGGREGATOR, "IAM_USER_CONSOLE_MFA")


@pytest.fixture
def skewed(aws):
    """bob is NON_COMPLIANT under the organization rule; a local rule of the same name says COMPLIANT."""
    bob = ("AIDABOB0000000000001", "bob")
    return emulated_report(
        _account(
            A, [(*bob, "NON_COMPLIANT", SMS_ONLY)], {LOCAL_RULE: [(*bob, "COMPLIANT", "Console password with MFA.")]}
        )
    )


def test_a_user_under_two_matching_rules_is_counted_once_with_the_worst_result(skewed):
    (account,) = skewed.accounts
    assert account.counts == {"COMPLIANT": 0, "NON_COMPLIANT": 1}
    assert [(u.user_name, u.result, u.rule) for u in skewed.users] == [
        ("bob", "NON_COMPLIANT", EmulatedAggregator.RULE)
    ]
    assert skewed.share_compliant == 0


def test_the_headline_share_of_a_skewed_account_is_0_percent_not_50(skewed):
    for output_format in ("table", "markdown", "html"):
        assert "0% of console users comply" in render_report(skewed, output_format), output_format
    assert json.loads(render_report(skewed, "json"))["totals"] == {"COMPLIANT": 0, "NON_COMPLIANT": 1}


def _flag_in(output_format, text):
    """How each format says that account A has both rules."""
    both = f"{EmulatedAggregator.RULE}, {LOCAL_RULE}"
    if output_format == "json":
        (account,) = json.loads(text)["accounts"]
        return account["more_than_one_rule"] and account["rules"] == [EmulatedAggregator.RULE, LOCAL_RULE]
    if output_format == "csv":
        return "collected; 2 rules match" in text and f"{EmulatedAggregator.RULE} {LOCAL_RULE}" in text
    if output_format == "asff":
        (finding,) = json.loads(text)
        return finding["UserDefinedFields"] == {"MatchingRules": both, "ResultFromRule": EmulatedAggregator.RULE}
    if output_format == "ocsf":
        from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding

        (finding,) = json.loads(text)
        ComplianceFinding.model_validate(finding)
        return finding["unmapped"]["matching_rules"] == [EmulatedAggregator.RULE, LOCAL_RULE]
    if output_format == "junit":
        import xml.etree.ElementTree as ElementTree

        suite = ElementTree.fromstring(text)
        properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
        return properties == {f"more_than_one_rule:{A}": both} and "more than one rule" in suite.findtext("system-err")
    # table, markdown, html: in the headline, naming the account and both rules, and on the account's row
    return f"1 account with more than one rule matching IAM_USER_CONSOLE_MFA ({A}: {both})" in text and (
        "2 rules match, each user counted once" in text
    )


@pytest.mark.parametrize("output_format", REPORT_FORMATS)
def test_an_account_with_two_matching_rules_is_flagged_in_every_format(skewed, output_format):
    assert _flag_in(output_format, _words(output_format, render_report(skewed, output_format)))


def test_an_account_with_one_rule_is_not_flagged(aws):
    report = emulated_report(_account(A, [("AIDABOB0000000000001", "bob", "NON_COMPLIANT", SMS_ONLY)]))
    assert not report.accounts_with_more_than_one_rule
    assert "more than one rule" not in render_report(report, "html")
    assert "UserDefinedFields" not in render_report(report, "asff")


def test_a_copy_reporting_non_compliant_is_not_hidden_by_the_organization_rule(aws):
    bob = ("AIDABOB0000000000001", "bob")
    report = emulated_report(
        _account(
            A, [(*bob, "COMPLIANT", "Console password with MFA.")], {PACK_RULE: [(*bob, "NON_COMPLIANT", NO_DEVICE)]}
        )
    )
    assert [(u.result, u.rule) for u in report.users] == [("NON_COMPLIANT", PACK_RULE)]


def test_a_copy_cannot_add_compliant_users_the_organization_rule_does_not_count(aws):
    # carol has no console password: NOT_APPLICABLE under the organization rule, so the aggregator has
    # no result for her there; the local copy says COMPLIANT for everyone.
    bob, carol = ("AIDABOB0000000000001", "bob"), ("AIDACAROL00000000001", "carol")
    everyone = [(*bob, "COMPLIANT", "Console password with MFA."), (*carol, "COMPLIANT", "Console password with MFA.")]
    report = emulated_report(_account(A, [(*bob, "NON_COMPLIANT", SMS_ONLY)], {LOCAL_RULE: everyone}))
    assert [(u.user_name, u.result) for u in report.users] == [("bob", "NON_COMPLIANT")]
    assert report.share_compliant == 0


def test_a_copy_counts_as_it_is_where_the_organization_rule_has_no_results(aws):
    bob = ("AIDABOB0000000000001", "bob")
    report = emulated_report(_account(A, [], {PACK_RULE: [(*bob, "COMPLIANT", "Console password with MFA.")]}))
    assert [(u.user_name, u.result, u.rule) for u in report.users] == [("bob", "COMPLIANT", PACK_RULE)]


def test_between_equal_results_the_organization_rule_is_shown(aws):
    bob = ("AIDABOB0000000000001", "bob")
    report = emulated_report(
        _account(A, [(*bob, "NON_COMPLIANT", SMS_ONLY)], {LOCAL_RULE: [(*bob, "NON_COMPLIANT", NO_DEVICE)]})
    )
    assert [(u.annotation, u.rule) for u in report.users] == [(SMS_ONLY, EmulatedAggregator.RULE)]
    assert report.totals == {"COMPLIANT": 0, "NON_COMPLIANT": 1}


def test_users_are_listed_worst_account_first(aws):
    # B has more NON_COMPLIANT users than A, so its users come first although its id sorts after A's.
    report = emulated_report(
        _account(A, [("AIDAA000000000000001", "zed", "NON_COMPLIANT", NO_DEVICE)]),
        _account(B, [(f"AIDAB00000000000000{n}", f"user-{n}", "NON_COMPLIANT", NO_DEVICE) for n in range(3)]),
    )
    assert [(u.account_id, u.user_name) for u in report.non_compliant] == [
        (B, "user-0"),
        (B, "user-1"),
        (B, "user-2"),
        (A, "zed"),
    ]
    for output_format in ("table", "markdown", "html", "csv", "junit"):
        text = render_report(report, output_format)
        assert text.index("user-0") < text.index("zed"), output_format


def test_a_column_with_the_same_value_on_every_row_is_said_once(aws):
    report = emulated_report(
        _account(A, [("AIDAA000000000000001", "ann", "NON_COMPLIANT", NO_DEVICE)]),
        _account(B, [("AIDAB000000000000001", "ben", "NON_COMPLIANT", SMS_ONLY)]),
    )
    page = render_report(report, "html")
    users = page.split('id="non-compliant"')[1]
    assert "<th>allowed</th>" not in users and "<th>found</th>" in users and "<th>account</th>" in users
    assert page.count("allowed: fido, hardware, virtual") == 1  # said once, above the table
    assert "<th>region</th>" not in page and "region: us-east-1" in page
    table_text = render_report(report, "table")
    assert "All rows: allowed: fido, hardware, virtual" in table_text
    assert "found" in table_text.split("NON_COMPLIANT users")[1]
    markdown = render_report(report, "markdown").split("## NON_COMPLIANT users")[1]
    assert "| account | user_name | user_id | found |" in markdown


def test_sms_only_users_are_described_as_having_no_allowed_mfa_device(aws):
    report = emulated_report(_account(A, [("AIDABOB0000000000001", "bob", "NON_COMPLIANT", SMS_ONLY)]))
    for output_format in ("table", "markdown", "html"):
        text = render_report(report, output_format)
        assert "without MFA" not in text, output_format
        assert "no allowed MFA device" in text, output_format
    assert "1 with no allowed MFA device / 0 compliant" in render_report(report, "html")


def test_an_aggregator_over_every_region_counts_accounts_not_rows(aws):
    # The rule runs in us-east-1; the aggregator also collects eu-west-1, where it has no results.
    bob = ("AIDABOB0000000000001", "bob", "NON_COMPLIANT", NO_DEVICE)
    report = emulated_report(
        _account(A, [bob]),
        {**_account(A, []), "region": "eu-west-1", "rule_deployed": False},
        _account(B, [], rule_deployed=False),
        {**_account(B, []), "region": "eu-west-1", "rule_deployed": False},
    )
    assert [(a.account_id, a.region) for a in report.accounts] == [(A, "us-east-1"), (B, "eu-west-1, us-east-1")]
    assert (report.account_count, report.accounts_failing, report.accounts_not_reporting) == (2, 1, 1)
    assert "1 of 2 accounts not reporting" in render_report(report, "table")


# --- what people read: statuses, the legend, the order, the annotation without its facts record ---


def test_an_account_not_collected_gives_the_aggregators_status_apart_from_its_message(report):
    accounts = {a.account_id: a for a in report.accounts}
    assert accounts[C].status == "not collected by the aggregator (FAILED): Config is not enabled in this account"


def test_the_html_legend_says_what_each_result_means_not_the_result_again(report):
    page = render_report(report, "html")
    assert "NON_COMPLIANT (no allowed MFA device)" in page
    assert "COMPLIANT (an allowed MFA device, or in grace)" in page
    assert "COMPLIANT (compliant)" not in page


def test_accounts_with_equal_counts_are_ordered_by_name_then_by_id():
    from mfa_audit.org_report import AccountSummary, worst_first

    unnamed, zeta, alpha, failing = (AccountSummary(i, "us-east-1") for i in ("100000000000", A, B, C))
    failing.counts["NON_COMPLIANT"] = 1
    ordered = worst_first([unnamed, zeta, alpha, failing], {A: "zeta", B: "Alpha"})
    assert [a.account_id for a in ordered] == [C, B, A, "100000000000"]


def test_the_demo_lists_its_accounts_in_the_same_order_every_time(demo):
    from mfa_audit.emulation.organization import demo_report

    again = demo_report()  # moto gives the accounts new random ids
    assert [demo.account_names[a.account_id] for a in demo.accounts] == [
        again.account_names[a.account_id] for a in again.accounts
    ]


RECORD = " [v1 pw=1767225600 mfa=-]"


@pytest.fixture
def recorded(aws):
    """A NON_COMPLIANT user whose annotation ends in the facts record, as the rule writes it."""
    return emulated_report(_account(A, [("AIDAA000000000000001", "ann", "NON_COMPLIANT", NO_DEVICE + RECORD)]))


@pytest.mark.parametrize("output_format", ["table", "markdown", "html", "asff", "ocsf", "junit"])
def test_the_peoples_formats_show_no_facts_record(recorded, output_format):
    assert "[v1" not in render_report(recorded, output_format)


def test_the_report_json_gives_the_annotation_and_the_facts_record_apart(recorded):
    (user,) = json.loads(render_report(recorded, "json"))["non_compliant"]
    assert (user["annotation"], user["facts_record"]) == (NO_DEVICE, RECORD.strip())


def test_the_report_csv_gives_the_annotation_and_the_facts_record_apart(recorded):
    import csv
    import io

    header, *rows = csv.reader(io.StringIO(render_report(recorded, "csv"), newline=""))
    (user,) = [dict(zip(header, row, strict=True)) for row in rows if row[0] == "non_compliant_user"]
    assert (user["annotation"], user["facts_record"]) == (NO_DEVICE, RECORD.strip())
