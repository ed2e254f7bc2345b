"""Output that is safe where it lands: spreadsheets, terminals, Markdown."""

import csv
import io

import pytest

from mfa_audit.formats._tabular import ERROR_LINE_LIMIT, csv_text, error_line, markdown_cell, table

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("=1+2", "'=1+2"),
        ("+SUM(A1:A9)", "'+SUM(A1:A9)"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("bob", "bob"),
        ("a=b", "a=b"),
    ],
)
def test_csv_neutralises_cells_a_spreadsheet_would_run(name, written):
    text = csv_text(["user_name", "annotation"], [[name, "found: none"]])
    (row,) = list(csv.reader(io.StringIO(text, newline="")))[1:]
    assert row[0] == written
    assert not row[0].startswith(FORMULA_STARTS)


def test_csv_quotes_a_carriage_return_inside_a_cell():
    text = csv_text(["user_name"], [["a\rb"]])
    assert '"a\rb"' in text
    assert list(csv.reader(io.StringIO(text, newline="")))[1] == ["a\rb"]


@pytest.mark.parametrize("hostile", ["\x1b[31mred\x1b[0m", "bell\x07", "back\x08space", "nul\x00", "c1\x9b2J"])
def test_table_strips_control_characters(hostile):
    rendered = table(["USER", "ANNOTATION"], [[hostile, hostile]])
    assert not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in rendered.replace("\n", ""))


def test_table_aligns_columns_and_leaves_the_last_free():
    assert table(["A", "NOTE"], [["long-name", "x"], ["b", "y"]]).splitlines() == [
        "A          NOTE",
        "long-name  x",
        "b          y",
    ]


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("a|b", "a\\|b"),
        ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
        ("*bold* _it_", "\\*bold\\* \\_it\\_"),
        ("`code`", "\\`code\\`"),
        ("[link](http://x)", "\\[link\\](http://x)"),
        ("two\nlines", "two lines"),
    ],
)
def test_markdown_cells_escape_what_markdown_or_html_would_interpret(value, escaped):
    assert markdown_cell(value) == escaped


def test_an_error_holding_an_html_page_names_the_page_by_its_title():
    message = "config:DescribeConfigRules failed: 403: <!DOCTYPE html>\n<HTML><head><title>Access\ndenied</title>"
    assert error_line(message + "<body>" + "<p>x</p>" * 500 + "</body></html>") == (
        "config:DescribeConfigRules failed: 403: an HTML page titled 'Access denied', not an answer from AWS "
        "(a proxy or a wrong endpoint: check AWS_ENDPOINT_URL and HTTPS_PROXY)"
    )


def test_an_error_is_one_line_of_printable_text_at_most_the_limit():
    line = error_line("first\nsecond\x1b[31m " + "y" * 2000)
    assert "\n" not in line and "\x1b" not in line
    assert line.startswith("first second[31m ") and len(line) == ERROR_LINE_LIMIT and line.endswith("…")


def test_the_user_table_shows_the_annotation_as_people_read_it_without_the_facts_record():
    from datetime import datetime, timezone

    from console_mfa.facts import UserFacts
    from console_mfa.policy import Policy
    from console_mfa.verdict import decide, human_text

    from mfa_audit.formats import render
    from mfa_audit.results import ResultRow, UserResults

    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    verdict = decide(UserFacts("bob", "AIDABOB", "arn:aws:iam::123456789012:user/bob", now, ()), Policy(), now)
    assert "[v1 " in verdict.annotation  # Config holds the record
    results = UserResults.of([ResultRow.from_verdict("bob", "AIDABOB", "arn:x", verdict)], source="t", parameters={})
    (line,) = [line for line in render("table", results).splitlines() if line.startswith("bob")]
    assert line.endswith(human_text(verdict.annotation))
    assert "[v1" not in line
