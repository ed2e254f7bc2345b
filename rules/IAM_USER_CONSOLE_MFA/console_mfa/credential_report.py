"""Read IAM's credential report (CSV) strictly: anything that is not one is refused.

Example::

    rows = parse_credential_report(open("report.csv", "rb").read())
    [row.user for row in rows if row.password_enabled and not row.mfa_active]
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from .exceptions import CredentialReportError

ROOT_ROW = "<root_account>"
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
    if value not in ("true", "false"):
        raise CredentialReportError(f"line {line}: column {column} is {value!r}, expected true or false")
    return value == "true"


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


def parse_credential_report(content: bytes) -> list[ReportRow]:
    """Every IAM user row of the report; the root account's row is skipped."""
    if not content.strip():
        raise CredentialReportError("the file is empty")
    if b"\x00" in content:
        raise CredentialReportError("the file is binary, not a CSV credential report")
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
