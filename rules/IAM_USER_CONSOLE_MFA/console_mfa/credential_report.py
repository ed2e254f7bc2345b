"""Read IAM's credential report (CSV) strictly: anything that is not one is refused.

Example::

    rows = parse_credential_report(open("report.csv", "rb").read())
    [row.user for row in rows if row.password_enabled and not row.mfa_active]
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
from dataclasses import dataclass
from datetime import datetime

from .exceptions import CredentialReportError

ROOT_ROW = "<root_account>"
# IAM's quota; a report can hold no more user rows than this.
MAX_USERS = 5000
# A 5,000-user report is about 2 MB; anything past this is not one (and would only fill memory).
MAX_REPORT_BYTES = 16 * 2**20
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
        raise CredentialReportError(f"line {line}: column {column} is {value!r}, not a timestamp") from None
    if parsed.tzinfo is None:
        raise CredentialReportError(f"line {line}: column {column} has no time zone")
    return parsed


def check_report_size(size: int) -> None:
    """Refuse, before reading it, a file larger than any credential report can be."""
    if size > MAX_REPORT_BYTES:
        raise CredentialReportError(
            f"the file is {size:,} bytes; a credential report of IAM's {MAX_USERS:,} users at most is far "
            f"smaller (this tool reads up to {MAX_REPORT_BYTES // 2**20} MiB)"
        )


def _looks_base64_encoded(content: bytes) -> bool:
    stripped = b"".join(content.split())
    if not stripped or b"," in stripped[:200]:
        return False
    try:
        return base64.b64decode(stripped[:4000], validate=False).startswith(b"user,arn,")
    except (binascii.Error, ValueError):
        return False


def parse_credential_report(content: bytes) -> list[ReportRow]:
    """Every IAM user row of the report; the root account's row is skipped."""
    if not content.strip():
        raise CredentialReportError("the file is empty")
    check_report_size(len(content))
    if content.startswith((b"\xff\xfe", b"\xfe\xff")) or content[1:200:2].count(b"\x00") > 50:
        raise CredentialReportError(
            "the file is UTF-16 text (as Excel or PowerShell may save it); save it as UTF-8 (CSV UTF-8), "
            "or convert it: iconv -f UTF-16 -t UTF-8 report.csv > report-utf8.csv"
        )
    if b"\x00" in content:
        raise CredentialReportError("the file is binary, not a CSV credential report")
    if _looks_base64_encoded(content):
        raise CredentialReportError(
            "the file is still base64-encoded, as GetCredentialReport returns it; decode it first: "
            "base64 -d report.b64 > report.csv"
        )
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CredentialReportError("the file is not UTF-8 text, so not a credential report") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise CredentialReportError(f"missing column(s) {', '.join(missing)}; is this a credential report?")
    index = {column: header.index(column) for column in REQUIRED_COLUMNS}
    rows = []
    for line, fields in enumerate(reader, start=2):
        if not fields:
            continue
        if len(rows) > MAX_USERS:
            raise CredentialReportError(f"more than {MAX_USERS:,} user rows; IAM allows at most {MAX_USERS:,} users")
        if len(fields) != len(header):
            raise CredentialReportError(
                f"line {line} has {len(fields)} fields, the header has {len(header)}; the file may be truncated"
            )
        value = {column: fields[position] for column, position in index.items()}
        if value["user"] == ROOT_ROW:
            continue
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
    return rows
