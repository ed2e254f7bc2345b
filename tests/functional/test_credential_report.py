"""mfa-audit audit --credential-report: offline, strict about its input, honest about its limits."""

import base64
import json
import os
import subprocess
import sys

import pytest

from .test_cli import call_cli

HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,"
    "access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,"
    "access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
    "cert_1_last_rotated,cert_2_active,cert_2_last_rotated"
)


def row(user, password, mfa, created="2024-01-01T00:00:00+00:00"):
    arn = "arn:aws:iam::123456789012:root" if user == "<root_account>" else f"arn:aws:iam::123456789012:user/{user}"
    enabled = "not_supported" if user == "<root_account>" else password
    return (
        f"{user},{arn},{created},{enabled},N/A,N/A,N/A,{mfa},"
        + ",".join(["false", "N/A", "N/A", "N/A", "N/A"] * 2)
        + ",false,N/A,false,N/A"
    )


REPORT = (
    "\n".join(
        [
            HEADER,
            row("<root_account>", "not_supported", "true"),
            row("elise", "true", "true"),
            row("brandon", "true", "false"),
            row("rakesh", "false", "false"),
            row("new-hire", "true", "false", created="2099-01-01T00:00:00+00:00"),
        ]
    )
    + "\n"
)


def run_report(tmp_path, content, *flags, path=None):
    if path is None:
        path = tmp_path / "report.csv"
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return call_cli("audit", "--credential-report", str(path), *flags)


def test_report_rows_get_the_rules_verdicts_and_root_is_skipped(tmp_path):
    completed = run_report(tmp_path, REPORT, "--format", "json", "--grace-period-days", "7")
    assert completed.returncode == 1
    document = json.loads(completed.stdout)
    assert document["source"] == "credential-report"
    results = {user["user_name"]: user["result"] for user in document["users"]}
    assert results == {
        "elise": "COMPLIANT",
        "brandon": "NON_COMPLIANT",
        "rakesh": "NOT_APPLICABLE",
        "new-hire": "COMPLIANT",
    }
    assert any("age is unknown" in line for line in document["limitations"])  # new-hire dates from 2099


def test_report_states_its_limitations_in_table_mode(tmp_path):
    completed = run_report(tmp_path, REPORT)
    assert "note: Offline" in completed.stderr
    assert "brandon" in completed.stdout


def test_report_device_kind_cannot_satisfy_a_narrowed_allowed_list(tmp_path):
    completed = run_report(tmp_path, REPORT, "--allowed-mfa-types", "fido", "--format", "json")
    results = {user["user_name"]: user["result"] for user in json.loads(completed.stdout)["users"]}
    assert results["elise"] == "NON_COMPLIANT"


def test_report_with_only_compliant_users_exits_0(tmp_path):
    completed = run_report(tmp_path, "\n".join([HEADER, row("elise", "true", "true")]) + "\n")
    assert completed.returncode == 0


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary"),
        (b"\xfa\xfb not utf-8", "not UTF-8"),
        (REPORT.encode("utf-16"), "UTF-16"),
        (REPORT.encode("utf-16-le"), "UTF-16"),
        (base64.b64encode(REPORT.encode()), "base64 -d"),
        (HEADER + "\n" + "".join(row(f"u{n}", "false", "false") + "\n" for n in range(5002)), "at most 5,000 users"),
        ("name,email\nbob,bob@example.com\n", "missing column"),
        (REPORT[: REPORT.rindex(",false,N/A")], "truncated"),
        (HEADER + "\n" + row("bob", "maybe", "false") + "\n", "password_enabled"),
        (HEADER + "\n" + row("bob", "true", "false", created="yesterday") + "\n", "not a timestamp"),
    ],
    ids=[
        "empty",
        "binary",
        "not-utf8",
        "utf16-with-bom",
        "utf16-without-bom",
        "still-base64",
        "more-users-than-iam-allows",
        "wrong-columns",
        "truncated",
        "bad-flag",
        "bad-time",
    ],
)
def test_a_file_that_is_not_a_credential_report_exits_2(tmp_path, content, message):
    completed = run_report(tmp_path, content)
    assert completed.returncode == 2
    assert message in completed.stderr
    assert "Traceback" not in completed.stderr
    assert completed.stdout == ""


def test_a_file_larger_than_any_report_is_refused_before_it_is_read(tmp_path):
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as handle:
        handle.truncate(64 * 2**20)  # sparse: 64 MiB that cost no disk
    completed = run_report(tmp_path, None, path=huge)
    assert completed.returncode == 2
    assert "bytes" in completed.stderr and "Traceback" not in completed.stderr


def test_a_report_resaved_by_a_spreadsheet_with_upper_case_flags_is_read(tmp_path):
    resaved = HEADER + "\n" + row("bob", "TRUE", "FALSE") + "\n" + row("alice", "True", "True") + "\n"
    completed = run_report(tmp_path, resaved, "--format", "json")
    assert completed.returncode == 1, completed.stderr
    users = {u["user_name"]: u["result"] for u in json.loads(completed.stdout)["users"]}
    assert users == {"bob": "NON_COMPLIANT", "alice": "COMPLIANT"}


def test_the_reports_age_is_estimated_from_its_newest_timestamp(tmp_path):
    weeks_old = HEADER + "\n" + row("bob", "true", "false", created="2025-03-01T08:00:00+00:00") + "\n"
    completed = run_report(tmp_path, weeks_old, "--format", "json")
    (age,) = [line for line in json.loads(completed.stdout)["limitations"] if "newest timestamp" in line]
    assert "2025-03-01 08:00 UTC" in age and "days old" in age


def test_a_report_with_a_timestamp_in_the_future_says_its_age_is_unknown(tmp_path):
    completed = run_report(tmp_path, REPORT, "--format", "json")
    assert any("in the future" in line for line in json.loads(completed.stdout)["limitations"])


def test_missing_file_exits_2(tmp_path):
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    completed = subprocess.run(
        [sys.executable, "-m", "mfa_audit.cli", "audit", "--credential-report", str(tmp_path / "nope.csv")],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )
    assert completed.returncode == 2
    assert "cannot read" in completed.stderr


def _users(count):
    return [row(f"u{number}", "false", "false") for number in range(count)]


def test_a_field_longer_than_the_csv_limit_is_one_line_naming_the_file_and_line(tmp_path):
    long_name = "x" * 140_000
    content = "\n".join(
        [HEADER, row("<root_account>", "", "true"), row("bob", "true", "true"), row(long_name, "true", "false")]
    )
    completed = run_report(tmp_path, content + "\n")
    assert completed.returncode == 2
    (line,) = completed.stderr.splitlines()
    assert line.startswith(f"mfa-audit: error: {tmp_path / 'report.csv'}: line 4: ")
    assert "Traceback" not in completed.stderr and long_name not in line


def test_5000_users_and_the_root_row_are_read(tmp_path):
    content = "\n".join([HEADER, row("<root_account>", "", "true"), *_users(5000)]) + "\n"
    completed = run_report(tmp_path, content, "--format", "json", "--quiet")
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["summary"]["NOT_APPLICABLE"] == 5000


def test_5001_users_are_refused(tmp_path):
    content = "\n".join([HEADER, row("<root_account>", "", "true"), *_users(5001)]) + "\n"
    completed = run_report(tmp_path, content)
    assert completed.returncode == 2
    assert "line 5003: more than 5,000 user rows" in completed.stderr


@pytest.mark.parametrize("again", ["brandon", "BRANDON"], ids=["same-case", "other-case"])
def test_a_user_listed_twice_is_refused_naming_the_user_and_both_lines(tmp_path, again):
    content = REPORT + row(again, "true", "true") + "\n"
    completed = run_report(tmp_path, content)
    assert completed.returncode == 2
    assert f"line 7: user '{again}' is listed again (first on line 4)" in completed.stderr
    assert completed.stdout == ""


def test_a_header_without_rows_is_refused_not_reported_as_zero_users(tmp_path):
    completed = run_report(tmp_path, HEADER + "\n")
    assert completed.returncode == 2
    assert "no rows, not even the <root_account> row" in completed.stderr
    assert "0 users" not in completed.stdout


def test_a_report_of_only_the_root_row_is_an_account_without_users(tmp_path):
    completed = run_report(tmp_path, HEADER + "\n" + row("<root_account>", "", "true") + "\n")
    assert completed.returncode == 0, completed.stderr
    assert "0 users: 0 COMPLIANT, 0 NON_COMPLIANT, 0 NOT_APPLICABLE" in completed.stdout


@pytest.mark.parametrize(
    ("content", "command"),
    [
        (REPORT.encode("utf-16"), "iconv -f UTF-16 -t UTF-8 '{path}' > '{folder}/my report-utf8.csv'"),
        (base64.b64encode(REPORT.encode()), "base64 -d '{path}' > '{folder}/my report-decoded.csv'"),
    ],
    ids=["utf16", "base64"],
)
def test_the_converting_command_names_the_users_file(tmp_path, content, command):
    path = tmp_path / "my report.csv"
    path.write_bytes(content)
    completed = run_report(tmp_path, None, path=path)
    assert completed.returncode == 2
    assert command.format(path=path, folder=tmp_path) in completed.stderr
    assert completed.stderr.startswith(f"mfa-audit: error: {path}: ")


@pytest.mark.parametrize(
    "page",
    [
        "<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>user,arn,</body></html>",
        "\n  <HTML><body><h1>502 Bad Gateway</h1></body></HTML>",
    ],
    ids=["doctype", "html-tag"],
)
def test_an_html_page_saved_as_the_report_is_named_as_such(tmp_path, page):
    completed = run_report(tmp_path, page)
    assert completed.returncode == 2
    (line,) = completed.stderr.splitlines()
    assert "the file is an HTML page (a web page or a server's error page), not a credential report" in line
    assert "<html" not in line.lower() and "Sign in" not in line
