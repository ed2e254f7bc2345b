"""mfa-audit report: aggregator answers (botocore Stubber, real service model) to the documented outputs."""

import json
import re
import shutil
import subprocess
from datetime import datetime, timezone
from html.parser import HTMLParser

import boto3
import pytest
from botocore.stub import Stubber
from console_mfa.aws import AwsClients

from mfa_audit import cli
from mfa_audit.org_report import gather_report
from mfa_audit.org_report_render import render_report

AGGREGATOR = "organization"
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
                _result(A, "AIDAUSER000000000003", "NOT_APPLICABLE"),
                _result(A, "AIDAUSER000000000004", "NON_COMPLIANT", "found: sms | <script>alert(1)</script>"),
            ]
        },
        {**details, "NextToken": "details-2"},
    )
    return stub


@pytest.fixture
def report(aws):
    config = boto3.client("config", region_name="us-east-1")
    with stub_aggregator(config) as stub:
        gathered = gather_report(config, AGGREGATOR, "IAM_USER_CONSOLE_MFA")
        stub.assert_no_pending_responses()
    return gathered


def test_every_page_is_read_and_counted_per_account(report):
    accounts = {a.account_id: a for a in report.accounts}
    assert accounts[A].counts == {"COMPLIANT": 1, "NON_COMPLIANT": 2, "NOT_APPLICABLE": 1}
    assert report.totals == {"COMPLIANT": 1, "NON_COMPLIANT": 2, "NOT_APPLICABLE": 1}


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
    assert document["schema"] == "mfa-audit-report/v1"
    assert set(document) == {"schema", "aggregator", "rule", "generated", "totals", "accounts", "non_compliant"}
    assert {a["account_id"]: a["status"] for a in document["accounts"]}[A] == "collected"


def test_csv_markdown_and_table_carry_every_account_and_user(report):
    csv_text = render_report(report, "csv")
    assert csv_text.count("\naccount,") == 3 and csv_text.count("\nnon_compliant_user,") == 2
    markdown = render_report(report, "markdown")
    # Markdown renderers pass raw HTML through, so it is escaped, as is the cell separator.
    assert "| 333333333333 |" in markdown and "found: sms \\| &lt;script&gt;" in markdown
    assert "<script>" not in markdown
    table = render_report(report, "table")
    assert "bob" in table and "222222222222" in table


class _Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


def test_html_is_self_contained_and_escapes_annotations(report):
    page = render_report(report, "html")
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', page)


def test_html_renders_in_headless_chromium_with_no_network(report, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Chromium is needed for this test; `make test` installs it (apt-get install chromium)"
    page = tmp_path / "report.html"
    page.write_text(render_report(report, "html"))
    flags = [
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
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    elements = _Elements()
    elements.feed(dom)
    bars = [attrs for tag, attrs in elements.found if tag == "rect" and "data-kind" in attrs]
    assert {(b["data-account"], b["data-kind"], b["data-count"]) for b in bars} == {
        (A, "COMPLIANT", "1"),
        (A, "NON_COMPLIANT", "2"),
        (A, "NOT_APPLICABLE", "1"),
    }
    assert dom.count("no data") == 2  # accounts B and C, shown in the chart
    assert sum(1 for tag, attrs in elements.found if tag == "table") == 2
    assert dom.count("<tr>") == 1 + 3 + 1 + 2  # header + 3 accounts, header + 2 users
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
