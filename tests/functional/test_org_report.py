"""mfa-audit report: aggregator answers (botocore Stubber, real service model) to the documented outputs."""

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from console_mfa.aws import AwsClients

from mfa_audit import cli
from mfa_audit.formats import FIXING_URL, REPORT_FORMATS, render_report

from .org_report_cases import (
    AGGREGATOR,
    A,
    B,
    C,
    _words,
    fixture_demo,  # noqa: F401 (a fixture)
    fixture_report,  # noqa: F401 (a fixture)
    stub_aggregator,
)

ROOT = Path(__file__).resolve().parents[2]


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


# --- mfa-audit report --demo: an emulated organization, offline, in every format ---


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
    from .test_cli import call_cli

    completed = call_cli("report", "--demo", "--format", "json", "--output", str(tmp_path / "demo.json"))
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
