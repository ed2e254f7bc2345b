"""mfa-audit report: aggregator answers (botocore Stubber, real service model) to the documented outputs."""

import json
import os
import re
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from console_mfa.aws import AwsClients

from mfa_audit import cli
from mfa_audit.emulation.services import EmulatedAggregator
from mfa_audit.formats import FIXING_URL, REPORT_FORMATS, render_report
from mfa_audit.org_report import exemption_query, gather_report

AGGREGATOR = "organization"
ROOT = Path(__file__).resolve().parents[2]
A, B, C = "111111111111", "222222222222", "333333333333"
ORG_RULE = "OrgConfigRule-IAM_USER_CONSOLE_MFA-abc123"
WHEN = datetime(2026, 11, 28, tzinfo=timezone.utc)


def _result(account, user_id, kind, annotation=None):
    result = {
        "EvaluationResultIdentifier": {
            "EvaluationResultQualifier": {
                "ConfigRuleName": ORG_RULE,
                "ResourceType": "AWS::IAM::User",
                "ResourceId": user_id,
            }
        },
        "ComplianceType": kind,
        "ResultRecordedTime": WHEN,
        "ConfigRuleInvokedTime": WHEN,
        "AccountId": account,
        "AwsRegion": "us-east-1",
    }
    if annotation:
        result["Annotation"] = annotation
    return result


def stub_aggregator(config):
    stub = Stubber(config)
    base = {"ConfigurationAggregatorName": AGGREGATOR}
    stub.add_response(
        "describe_configuration_aggregator_sources_status",
        {
            "AggregatedSourceStatusList": [
                {
                    "SourceId": "o-exampleorgid1",
                    "SourceType": "ORGANIZATION",
                    "AwsRegion": "us-east-1",
                    "LastUpdateStatus": "SUCCEEDED",
                },
                {"SourceId": A, "SourceType": "ACCOUNT", "AwsRegion": "us-east-1", "LastUpdateStatus": "SUCCEEDED"},
            ],
            "NextToken": "sources-2",
        },
        base,
    )
    stub.add_response(
        "describe_configuration_aggregator_sources_status",
        {
            "AggregatedSourceStatusList": [
                {"SourceId": B, "SourceType": "ACCOUNT", "AwsRegion": "us-east-1", "LastUpdateStatus": "SUCCEEDED"},
                {
                    "SourceId": C,
                    "SourceType": "ACCOUNT",
                    "AwsRegion": "us-east-1",
                    "LastUpdateStatus": "FAILED",
                    "LastErrorCode": "AccessDenied",
                    "LastErrorMessage": "Config is not enabled in this account",
                },
            ]
        },
        {**base, "NextToken": "sources-2"},
    )
    stub.add_response(
        "describe_aggregate_compliance_by_config_rules",
        {
            "AggregateComplianceByConfigRules": [
                {
                    "ConfigRuleName": "some-other-rule",
                    "Compliance": {"ComplianceType": "COMPLIANT"},
                    "AccountId": A,
                    "AwsRegion": "us-east-1",
                },
            ],
            "NextToken": "rules-2",
        },
        base,
    )
    stub.add_response(
        "describe_aggregate_compliance_by_config_rules",
        {
            "AggregateComplianceByConfigRules": [
                {
                    "ConfigRuleName": ORG_RULE,
                    "Compliance": {"ComplianceType": "NON_COMPLIANT"},
                    "AccountId": A,
                    "AwsRegion": "us-east-1",
                },
            ]
        },
        {**base, "NextToken": "rules-2"},
    )
    resources = {**base, "ResourceType": "AWS::IAM::User"}
    stub.add_response(
        "list_aggregate_discovered_resources",
        {
            "ResourceIdentifiers": [
                {
                    "SourceAccountId": A,
                    "SourceRegion": "us-east-1",
                    "ResourceId": "AIDAUSER000000000001",
                    "ResourceType": "AWS::IAM::User",
                    "ResourceName": "alice",
                },
                {
                    "SourceAccountId": A,
                    "SourceRegion": "us-east-1",
                    "ResourceId": "AIDAUSER000000000002",
                    "ResourceType": "AWS::IAM::User",
                    "ResourceName": "bob",
                },
            ],
            "NextToken": "names-2",
        },
        resources,
    )
    stub.add_response(
        "list_aggregate_discovered_resources",
        {
            "ResourceIdentifiers": [
                {
                    "SourceAccountId": A,
                    "SourceRegion": "us-east-1",
                    "ResourceId": "AIDAUSER000000000003",
                    "ResourceType": "AWS::IAM::User",
                    "ResourceName": "carol",
                },
            ]
        },
        {**resources, "NextToken": "names-2"},
    )
    details = {**base, "ConfigRuleName": ORG_RULE, "AccountId": A, "AwsRegion": "us-east-1"}
    stub.add_response(
        "get_aggregate_compliance_details_by_config_rule",
        {
            "AggregateEvaluationResults": [
                _result(A, "AIDAUSER000000000001", "COMPLIANT"),
                _result(
                    A,
                    "AIDAUSER000000000002",
                    "NON_COMPLIANT",
                    "Console password but no allowed MFA device (found: none)",
                ),
            ],
            "NextToken": "details-2",
        },
        details,
    )
    stub.add_response(
        "get_aggregate_compliance_details_by_config_rule",
        {
            "AggregateEvaluationResults": [
                # The aggregator API returns COMPLIANT and NON_COMPLIANT results only.
                _result(
                    A,
                    "AIDAUSER000000000004",
                    "NON_COMPLIANT",
                    "No allowed MFA device (found: sms | <script>alert(1)</script>; allowed: fido)",
                ),
            ]
        },
        {**details, "NextToken": "details-2"},
    )
    today = datetime.now(timezone.utc).date()

    def tagged(user_id, name, tags):
        pairs = [{"key": key, "value": value} for key, value in tags.items()]
        return json.dumps({"accountId": A, "resourceId": user_id, "resourceName": name, "tags": pairs})

    stub.add_response(
        "select_aggregate_resource_config",
        {
            "Results": [
                tagged(
                    "AIDAUSER000000000005",
                    "dave",
                    {
                        "mfa-exempt-until": f"{today + timedelta(days=5)}",
                        "mfa-exempt-owner": "secops",
                        "mfa-exempt-reason": "vendor migration",
                    },
                ),
                tagged("AIDAUSER000000000006", "erin", {"mfa-exempt-until": f"{today - timedelta(days=1)}"}),
            ]
        },
        {**base, "Expression": exemption_query("mfa-exempt-until")},
    )
    return stub


@pytest.fixture
def report(aws):
    config = boto3.client("config", region_name="us-east-1")
    with stub_aggregator(config) as stub:
        gathered = gather_report(config, AGGREGATOR, "IAM_USER_CONSOLE_MFA")
        stub.assert_no_pending_responses()
    return gathered


def test_exemptions_honoured_today_are_listed_with_owner_and_reason_and_a_past_one_is_not(report):
    (exemption,) = report.exemptions
    assert (exemption.user_name, exemption.account_id) == ("dave", A)
    assert (exemption.exemption.owner, exemption.exemption.reason) == ("secops", "vendor migration")
    page = render_report(report, "html")
    assert "1 users exempt by an exemption tag, not counted as compliant; 1 of the exemptions end within 14" in page
    assert '<p id="exemptions-ending-soon" class="alert-soft"><strong>1</strong> of 1 exemptions end within 14' in page
    for name in ("table", "markdown", "csv", "json"):
        assert "vendor migration" in render_report(report, name), name


def test_every_page_is_read_and_counted_per_account(report):
    accounts = {a.account_id: a for a in report.accounts}
    assert accounts[A].counts == {"COMPLIANT": 1, "NON_COMPLIANT": 2}
    assert report.totals == {"COMPLIANT": 1, "NON_COMPLIANT": 2}


def test_accounts_without_data_are_shown_not_hidden(report):
    accounts = {a.account_id: a for a in report.accounts}
    assert set(accounts) == {A, B, C}
    assert accounts[B].status.startswith("no results for this rule")
    assert "FAILED" in accounts[C].status and "Config is not enabled" in accounts[C].status


def test_non_compliant_users_are_joined_with_their_names(report):
    assert [(u.account_id, u.user_name, u.user_id) for u in report.non_compliant] == [
        (A, "(unknown)", "AIDAUSER000000000004"),
        (A, "bob", "AIDAUSER000000000002"),
    ]


def test_json_follows_the_documented_schema(report):
    document = json.loads(render_report(report, "json"))
    assert document["schema"] == "mfa-audit-report/v2"
    assert set(document) == {
        "schema",
        "aggregator",
        "rule",
        "generated",
        "newest_result",
        "totals",
        "accounts",
        "non_compliant",
        "exemptions",
        "exemptions_unavailable",
    }
    assert set(document["totals"]) == {"COMPLIANT", "NON_COMPLIANT"}  # all the aggregator returns
    assert {a["account_id"]: a["status"] for a in document["accounts"]}[A] == "collected"


def test_csv_markdown_and_table_carry_every_account_and_user(report):
    csv_text = render_report(report, "csv")
    assert csv_text.count("\naccount,") == 3 and csv_text.count("\nnon_compliant_user,") == 2
    markdown = render_report(report, "markdown")
    # Markdown renderers pass raw HTML through, so it is escaped, as is the cell separator.
    assert "| 333333333333 |" in markdown and "sms \\| &lt;script&gt;" in markdown
    assert "<script>" not in markdown
    table = render_report(report, "table")
    assert "bob" in table and "222222222222" in table


def find_chromium():
    """Chromium's path: $CHROMIUM, or chromium / chromium-browser on PATH. Without one the test is NOT RUN
    (skipped, visibly) where it cannot be installed, and fails where `make test` would have installed it."""
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium:
        return chromium
    if os.geteuid() == 0 and shutil.which("apt-get"):
        pytest.fail("Chromium is missing although apt-get can install it here: `make browser` (or `make test`) does")
    pytest.skip(
        "HTML report in Chromium NOT RUN: no Chromium here, and installing it needs root and apt-get; "
        "install it (docs/development.md, Tests) or set CHROMIUM=/path/to/chromium"
    )


def chromium_flags(tmp_path):
    """Headless Chromium that resolves no host, so the page can load nothing from a network."""
    chromium = find_chromium()
    return [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]


class _Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


def test_html_is_self_contained_and_escapes_annotations(report):
    page = render_report(report, "html")
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    elements = _Elements()
    elements.feed(page)
    assert not [tag for tag, attrs in elements.found if "src" in attrs or tag in ("link", "img", "iframe", "object")]
    # The one address in the page is the link a reader follows, not something the page loads.
    assert [(tag, attrs["href"]) for tag, attrs in elements.found if "href" in attrs] == [("a", FIXING_URL)]


def test_the_remediation_link_is_absolute_and_names_the_fixing_section(report):
    assert re.fullmatch(r"https://[^/\s]+/\S+#fixing-a-non_compliant-user", FIXING_URL)
    assert re.search(r"^#{2,3} Fixing a NON_COMPLIANT user$", (ROOT / "README.md").read_text(), re.MULTILINE)
    for output_format in ("html", "markdown", "table"):
        assert FIXING_URL in render_report(report, output_format), output_format
    assert "README.md#" not in render_report(report, "html").replace(FIXING_URL, "")


def _words(output_format, text):
    """The text a reader sees: without HTML's tags, or Markdown's escapes."""
    if output_format == "html":
        return re.sub(r"<[^>]+>", "", text)
    return text.replace("\\", "") if output_format == "markdown" else text


def test_accounts_not_reporting_are_counted_in_the_headline(report):
    # A reports; B has no results for the rule; the aggregator could not collect C.
    for output_format in ("table", "markdown", "html"):
        text = _words(output_format, render_report(report, output_format))
        assert "2 of 3 accounts not reporting" in text, output_format
        assert "comply in the 1 of 3 accounts that report" in text, output_format


def test_accounts_not_reporting_are_highlighted_not_greyed(report):
    page = render_report(report, "html")
    assert page.count('<tr class="not-reporting">') == 2
    assert "italic" not in page and "no-data" not in page
    rule = re.search(r"tr\.not-reporting td \{([^}]*)\}", page).group(1)
    assert "font-weight: 700" in rule and "#F0E442" in rule  # bold on Okabe-Ito yellow


def test_html_renders_in_headless_chromium_with_no_network(report, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render_report(report, "html"))
    flags = chromium_flags(tmp_path)
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    elements = _Elements()
    elements.feed(dom)
    bars = [attrs for tag, attrs in elements.found if tag == "rect" and "data-kind" in attrs]
    assert {(b["data-account"], b["data-kind"], b["data-count"]) for b in bars} == {
        (A, "COMPLIANT", "1"),
        (A, "NON_COMPLIANT", "2"),
    }
    assert dom.count("NOT REPORTING") == 2  # accounts B and C, shown in the chart
    assert sum(1 for tag, attrs in elements.found if tag == "table") == 3
    assert (
        sum(1 for tag, attrs in elements.found if tag == "tr") == 1 + 3 + 1 + 2 + 1 + 1
    )  # header + 3 accounts, header + 2 users, header + 1 exemption
    screenshot = tmp_path / "report.png"
    subprocess.run(
        [*flags, f"--screenshot={screenshot}", "--window-size=1000,800", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert screenshot.stat().st_size > 5000


def test_report_command_exits_1_when_a_user_is_non_compliant(aws, monkeypatch, tmp_path, capsys):
    clients = AwsClients.from_session(boto3.Session(), "us-east-1", max_workers=1)
    stub = stub_aggregator(clients.config)
    monkeypatch.setattr("mfa_audit.live.clients_for_cli", lambda *args: clients)
    with stub:
        code = cli.main(
            ["report", "--aggregator", AGGREGATOR, "--format", "html", "--output", str(tmp_path / "r.html")]
        )
    assert code == 1
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")


def test_report_command_names_a_missing_permission(aws, monkeypatch, capsys):
    clients = AwsClients.from_session(boto3.Session(), "us-east-1", max_workers=1)
    stub = Stubber(clients.config)
    stub.add_client_error("describe_configuration_aggregator_sources_status", "AccessDeniedException", "denied")
    monkeypatch.setattr("mfa_audit.live.clients_for_cli", lambda *args: clients)
    with stub:
        code = cli.main(["report", "--aggregator", AGGREGATOR])
    assert code == 2
    assert "config:DescribeConfigurationAggregatorSourcesStatus" in capsys.readouterr().err


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


# --- mfa-audit report --demo: an emulated organization, offline, in every format ---


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from mfa_audit.emulation.organization import demo_report

    report = demo_report()
    report.tool_version = "test"
    return report


def test_the_demo_organization_has_every_kind_of_account(demo):
    assert len(demo.accounts) >= 12
    statuses = [a.status for a in demo.accounts]
    assert any("not collected" in s and "Config is not enabled" in s for s in statuses)  # Config off
    assert any(s.startswith("no results for this rule") for s in statuses)  # rule not deployed
    assert sum(1 for a in demo.accounts if a.counts["NON_COMPLIANT"]) >= 5
    assert sum(1 for a in demo.accounts if a.has_data and not a.counts["NON_COMPLIANT"]) >= 3
    assert len(demo.account_names) == len(demo.accounts) + 1  # names from Organizations (and the management one)
    annotations = {u.annotation for u in demo.users}
    for kind in ("found: none", "found: sms", "MFA: virtual", "MFA: fido", "MFA: hardware", "grace period"):
        assert any(kind in a for a in annotations), kind
    # Only what the aggregator returns: no NOT_APPLICABLE anywhere (break-glass and no-password users are not counted).
    assert {u.result for u in demo.users} == {"COMPLIANT", "NON_COMPLIANT"}


def test_the_demo_lists_accounts_worst_first(demo):
    failing = [a.counts["NON_COMPLIANT"] for a in demo.accounts if a.has_data and a.counts["NON_COMPLIANT"]]
    assert failing == sorted(failing, reverse=True)
    assert demo.accounts[0].counts["NON_COMPLIANT"] == max(failing)


@pytest.mark.parametrize("output_format", REPORT_FORMATS)
def test_the_demo_renders_in_every_format(demo, output_format):
    text = render_report(demo, output_format)
    if output_format in ("json", "asff", "ocsf"):
        json.loads(text)
    if output_format == "junit":
        import xml.etree.ElementTree as ElementTree

        suite = ElementTree.fromstring(text)
        assert int(suite.get("failures")) == len(demo.non_compliant)
    assert text


def test_report_demo_runs_from_the_command_line_without_aws(tmp_path):
    from .test_cli import run_cli

    completed = run_cli("report", "--demo", "--format", "json", "--output", str(tmp_path / "demo.json"))
    assert completed.returncode == 1, completed.stderr
    assert json.loads((tmp_path / "demo.json").read_text())["schema"] == "mfa-audit-report/v2"
    assert "EMULATED ORGANIZATION" in completed.stderr


def test_the_demo_html_shows_a_manager_the_headline_in_headless_chromium(demo, tmp_path):
    page = tmp_path / "demo.html"
    page.write_text(render_report(demo, "html"))
    flags = chromium_flags(tmp_path)
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    share = round(100 * demo.share_compliant)
    assert f"{share}% of console users comply" in dom
    assert f"{demo.accounts_failing} of {len(demo.accounts)} accounts" in dom
    worst = demo.accounts[0]
    assert dom.index(demo.account_label(worst.account_id)) < dom.index(demo.account_label(demo.accounts[-1].account_id))
    counts = f"{worst.counts['NON_COMPLIANT']} with no allowed MFA device / {worst.counts['COMPLIANT']} compliant"
    assert counts in dom
    assert dom.count('class="failing') == demo.accounts_failing
    assert dom.count('class="not-reporting"') == 2 + 2  # the chart's bar and the table's row, for each
    assert "2 of 14 accounts not reporting" in dom
    assert "1 account with more than one rule matching IAM_USER_CONSOLE_MFA" in dom
    assert "mfa-audit test" in dom and "Newest result" in dom
    assert f'href="{FIXING_URL}"' in dom
    assert "found: none" not in dom.split('id="non-compliant"')[1]  # a compact column, not the sentence
    screenshot = ROOT / "build" / "test-artifacts" / "report-demo.png"
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [*flags, f"--screenshot={screenshot}", "--window-size=1200,1600", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert screenshot.stat().st_size > 20000


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
