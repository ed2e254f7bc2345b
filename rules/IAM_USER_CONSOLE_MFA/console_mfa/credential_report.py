"""Read IAM's credential report (CSV) strictly: anything that is not one is refused.

Example::

    rows = parse_credential_report(open("report.csv", "rb").read(), source="report.csv")
    [row.user for row in rows if row.password_enabled and not row.mfa_active]
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import shlex
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .exceptions import CredentialReportError

ROOT_ROW = "<root_account>"
# IAM's quota; a report can hold no more user rows than this.
MAX_USERS = 5000
# A 5,000-user report is about 2 MB; anything past this is not one (and would only fill memory).
MAX_REPORT_BYTES = 16 * 2**20
# Where a web page gives itself away; a credential report starts with its "user,arn," header.
HTML_MARKERS = ("<!doctype html", "<html")
HTML_SNIFF_CHARS = 1024
REQUIRED_COLUMNS = ("user", "arn", "user_creation_time", "password_enabled", "password_last_changed", "mfa_active")


@dataclass(frozen=True)
class ReportRow:
    user: str
    arn: str
    user_creation_time: datetime
    password_enabled: bool
    password_last_changed: datetime | None
    mfa_active: bool


def _flag(value: str, column: str, line: int) -> bool:
    # IAM writes "true"/"false"; a spreadsheet re-saving the file writes TRUE/FALSE.
    if value.lower() not in ("true", "false"):
        raise CredentialReportError(f"line {line}: column {column} is {value[:40]!r}, expected true or false")
    return value.lower() == "true"


def _time(value: str, column: str, line: int, optional: bool = False) -> datetime | None:
    if optional and value in ("N/A", "not_supported", "no_information", ""):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CredentialReportError(f"line {line}: column {column} is {value[:40]!r}, not a timestamp") from None
    if parsed.tzinfo is None:
        raise CredentialReportError(f"line {line}: column {column} has no time zone")
    return parsed


def check_report_size(size: int, source: str | None = None) -> None:
    """Refuse, before reading it, a file larger than any credential report can be."""
    if size > MAX_REPORT_BYTES:
        problem = (
            f"the file is {size:,} bytes; a credential report of IAM's {MAX_USERS:,} users at most is far "
            f"smaller (this tool reads up to {MAX_REPORT_BYTES // 2**20} MiB)"
        )
        raise CredentialReportError(f"{source}: {problem}" if source else problem)


def _looks_base64_encoded(content: bytes) -> bool:
    stripped = b"".join(content.split())
    if not stripped or b"," in stripped[:200]:
        return False
    try:
        return base64.b64decode(stripped[:4000], validate=False).startswith(b"user,arn,")
    except (binascii.Error, ValueError):
        return False


def looks_like_html(text: str | bytes) -> bool:
    """True for a web page: what a proxy, a sign-in portal or a misdirected endpoint answers instead."""
    start = (text.decode("utf-8", "replace") if isinstance(text, bytes) else text)[:HTML_SNIFF_CHARS].lower()
    return any(marker in start for marker in HTML_MARKERS)


def _sibling(source: str, suffix: str) -> str:
    """``report.csv`` -> ``report-utf8.csv``: where a converting command writes its result."""
    stem, dot, extension = source.rpartition(".")
    return f"{stem}{suffix}.{extension}" if dot and "/" not in extension else f"{source}{suffix}.csv"


def _refuse_what_is_not_csv_text(content: bytes, source: str) -> None:
    if not content.strip():
        raise CredentialReportError("the file is empty")
    check_report_size(len(content))
    if content.startswith((b"\xff\xfe", b"\xfe\xff")) or content[1:200:2].count(b"\x00") > 50:
        raise CredentialReportError(
            "the file is UTF-16 text (as Excel or PowerShell may save it); save it as UTF-8 (CSV UTF-8), "
            f"or convert it: iconv -f UTF-16 -t UTF-8 {shlex.quote(source)} > {shlex.quote(_sibling(source, '-utf8'))}"
        )
    if b"\x00" in content:
        raise CredentialReportError("the file is binary, not a CSV credential report")
    if looks_like_html(content):
        raise CredentialReportError(
            "the file is an HTML page (a web page or a server's error page), not a credential report; "
            "get the report with: aws iam get-credential-report --query Content --output text | base64 -d > report.csv"
        )
    if _looks_base64_encoded(content):
        raise CredentialReportError(
            "the file is still base64-encoded, as GetCredentialReport returns it; decode it first: "
            f"base64 -d {shlex.quote(source)} > {shlex.quote(_sibling(source, '-decoded'))}"
        )


def parse_credential_report(content: bytes, source: str = "the credential report") -> list[ReportRow]:
    """Every IAM user row of the report; the root account's row is skipped.

    ``source`` names the file (or API) in every error, which reads ``<source>: <problem>``.
    """
    try:
        return _parse(content, source)
    except CredentialReportError as error:
        raise CredentialReportError(f"{source}: {error}") from error


def _parse(content: bytes, source: str) -> list[ReportRow]:
    _refuse_what_is_not_csv_text(content, source)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CredentialReportError("the file is not UTF-8 text, so not a credential report") from None
    reader = csv.reader(io.StringIO(text))
    try:
        return _rows(reader)
    except csv.Error as error:
        # The csv module's limit (131,072 characters a field) is far above any real field: the file is not a report.
        raise CredentialReportError(f"line {reader.line_num}: not a CSV credential report ({error})") from None


def _rows(reader: Any) -> list[ReportRow]:
    """The rows of a ``csv.reader`` (its ``line_num`` names the line of each problem)."""
    header = next(reader, None)
    if header is None:
        raise CredentialReportError("the file is empty")
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise CredentialReportError(f"missing column(s) {', '.join(missing)}; is this a credential report?")
    index = {column: header.index(column) for column in REQUIRED_COLUMNS}
    rows = []
    first_seen: dict[str, int] = {}
    for fields in reader:
        line = reader.line_num
        if not fields:
            continue
        if len(fields) != len(header):
            raise CredentialReportError(
                f"line {line} has {len(fields)} fields, the header has {len(header)}; the file may be truncated"
            )
        value = {column: fields[position] for column, position in index.items()}
        # IAM user names are unique regardless of case: a second row for one is a corrupted or joined file,
        # and counting it twice would misstate the account.
        name = value["user"].casefold()
        if name in first_seen:
            raise CredentialReportError(
                f"line {line}: user {value['user'][:64]!r} is listed again (first on line {first_seen[name]}); "
                "IAM user names are unique, so the file is corrupted or joins two reports"
            )
        first_seen[name] = line
        if value["user"] == ROOT_ROW:
            continue
        if len(rows) == MAX_USERS:
            raise CredentialReportError(
                f"line {line}: more than {MAX_USERS:,} user rows; IAM allows at most {MAX_USERS:,} users"
            )
        enabled = value["password_enabled"]
        rows.append(
            ReportRow(
                user=value["user"],
                arn=value["arn"],
                user_creation_time=_time(value["user_creation_time"], "user_creation_time", line),
                # IAM writes not_supported only on the root row; anything else is malformed.
                password_enabled=_flag(enabled, "password_enabled", line),
                password_last_changed=_time(value["password_last_changed"], "password_last_changed", line, True),
                mfa_active=_flag(value["mfa_active"], "mfa_active", line),
            )
        )
    if not first_seen:
        # IAM always writes the <root_account> row: a header alone is a cut-off file, and "0 users" would be
        # a clean result for an account nobody checked.
        raise CredentialReportError(
            f"the file has a header but no rows, not even the {ROOT_ROW} row IAM always writes; "
            "it was cut short or filtered"
        )
    return rows
