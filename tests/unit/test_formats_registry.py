"""The output formats' registry: a format is one module and one entry; --only-failed is applied once; an
unknown format is an error naming it."""

from datetime import datetime, timezone

import pytest
from console_mfa.verdict import ComplianceType

from mfa_audit import cli, formats
from mfa_audit.formats import Format, Subject, UnknownFormatError
from mfa_audit.org_report import AccountSummary, OrgReport, UserResult
from mfa_audit.results import ResultRow, UserResults
from tests.credential_report_text import HEADER, console_user_without_mfa

NOW = datetime(2025, 1, 1, tzinfo=timezone.utc)


def _row(name: str, result: ComplianceType) -> ResultRow:
    return ResultRow(name, f"AIDA{name.upper()}", f"arn:aws:iam::123456789012:user/{name}", result, "why")


def _results() -> UserResults:
    rows = [_row("bob", ComplianceType.NON_COMPLIANT), _row("alice", ComplianceType.COMPLIANT)]
    return UserResults.of(rows, source="test", parameters={}, generated=NOW)


def _report() -> OrgReport:
    account = AccountSummary("111111111111", "us-east-1", {"COMPLIANT": 1, "NON_COMPLIANT": 1}, rules=["R"])
    users = [
        UserResult("111111111111", "us-east-1", "bob", "AIDABOB", "NON_COMPLIANT", "why", "R"),
        UserResult("111111111111", "us-east-1", "alice", "AIDAALICE", "COMPLIANT", "ok", "R"),
    ]
    return OrgReport("org", "R", NOW, [account], users)


@pytest.fixture
def throwaway_format():
    entry = formats.register(
        Format(
            "names",
            users=lambda results, region: ",".join(row.user_name for row in results.listed),
            organization=lambda report, region: ",".join(user.user_name for user in report.users),
        )
    )
    yield entry
    formats.unregister(entry.name)


def test_a_registered_format_is_offered_by_the_cli_and_rendered(throwaway_format, tmp_path, capsys):
    report = tmp_path / "report.csv"
    report.write_text(HEADER + console_user_without_mfa("bob"))
    parser = cli.parser()
    assert parser.parse_args(["audit", "--format", "names"]).format == "names"
    assert parser.parse_args(["report", "--demo", "--format", "names"]).format == "names"
    code = cli.main(["audit", "--credential-report", str(report), "--format", "names", "--quiet"])
    assert (code, capsys.readouterr().out) == (1, "bob\n")


def test_a_format_for_the_organization_report_only_is_not_offered_to_audit():
    formats.register(Format("org-only", organization=lambda report, region: "org"))
    try:
        assert "org-only" in formats.names(Subject.ORGANIZATION_REPORT)
        assert "org-only" not in formats.names(Subject.USER_RESULTS)
        with pytest.raises(SystemExit):
            cli.parser().parse_args(["audit", "--format", "org-only"])
    finally:
        formats.unregister("org-only")


def test_an_unknown_format_is_an_error_naming_it():
    with pytest.raises(UnknownFormatError, match="'yaml'"):
        formats.render("yaml", _report())


def test_a_format_that_cannot_render_user_results_is_an_error_not_the_table():
    with pytest.raises(UnknownFormatError, match="'html' cannot render user results"):
        formats.render("html", _results())


def test_only_failed_lists_the_non_compliant_user_and_changes_neither_input():
    results, report = _results(), _report()
    listed = formats.render("json", results, only_failed=True)
    assert '"user_name": "bob"' in listed and '"user_name": "alice"' not in listed
    assert '"COMPLIANT": 1' in listed  # the summary still counts every user
    assert "alice" not in formats.render("junit", report, only_failed=True)
    assert [row.user_name for row in results.listed] == ["alice", "bob"]
    assert [user.user_name for user in report.users] == ["bob", "alice"]


def test_every_built_in_format_is_registered_by_its_own_module():
    for name in formats.BUILT_IN:
        entry = formats._REGISTRY[name]
        renderers = [r for r in (entry.users, entry.organization) if r is not None]
        assert {r.__module__ for r in renderers} == {f"mfa_audit.formats.{name}"}, name


def test_a_second_format_of_the_same_name_is_refused():
    with pytest.raises(ValueError, match="'table' is already registered"):
        formats.register(Format("table", users=lambda results, region: ""))
