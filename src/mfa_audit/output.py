"""Rows of results, and their table, JSON and CSV forms.

The JSON form is a stable schema (``mfa-audit/v1``), documented in the README.

Example::

    rows = [ResultRow.from_verdict("bob", "AIDA...", "arn:...", verdict)]
    print(render(rows, "json", source="live-account", parameters=policy.as_rule_parameters()))
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from console_mfa.verdict import ComplianceType, Verdict

from mfa_audit.tabular import csv_text, table

SCHEMA = "mfa-audit/v1"
FORMATS = ("table", "json", "csv")
COLUMNS = ("user_name", "user_id", "arn", "result", "reason", "annotation")


@dataclass(frozen=True)
class ResultRow:
    """One user's result. ``reason`` is None where only Config's record is known (the demo)."""

    user_name: str
    user_id: str | None
    arn: str
    result: ComplianceType
    annotation: str
    reason: str | None = None

    @classmethod
    def from_verdict(cls, user_name: str, user_id: str | None, arn: str, verdict: Verdict) -> ResultRow:
        return cls(user_name, user_id, arn, verdict.compliance_type, verdict.annotation, verdict.reason.value)

    def as_dict(self) -> dict[str, str | None]:
        return {
            "user_name": self.user_name,
            "user_id": self.user_id,
            "arn": self.arn,
            "result": self.result.value,
            "reason": self.reason,
            "annotation": self.annotation,
        }


def in_user_order(rows: Sequence[ResultRow]) -> list[ResultRow]:
    """The one order every format lists users in: by name as IAM compares them (case-insensitively), then ARN."""
    return sorted(rows, key=lambda row: (row.user_name.casefold(), row.user_name, row.arn))


def summary(rows: Sequence[ResultRow]) -> dict[str, int]:
    counts = Counter(row.result.value for row in rows)
    return {kind.value: counts.get(kind.value, 0) for kind in ComplianceType}


def summary_line(rows: Sequence[ResultRow]) -> str:
    counts = summary(rows)
    return f"{len(rows)} users: " + ", ".join(f"{count} {kind}" for kind, count in counts.items())


def render(
    rows: Sequence[ResultRow],
    output_format: str,
    *,
    source: str,
    parameters: dict[str, str],
    limitations: Sequence[str] = (),
    only_failed: bool = False,
) -> str:
    """Every row, or with ``only_failed`` only the NON_COMPLIANT ones; the summary always counts every row."""
    ordered = in_user_order(rows)
    listed = [row for row in ordered if row.result is ComplianceType.NON_COMPLIANT] if only_failed else ordered
    if output_format == "json":
        document = {
            "schema": SCHEMA,
            "source": source,
            "parameters": parameters,
            "limitations": list(limitations),
            "summary": summary(ordered),
            "users": [row.as_dict() for row in listed],
        }
        return json.dumps(document, indent=2)
    if output_format == "csv":
        return csv_text(COLUMNS, [[row.as_dict()[column] for column in COLUMNS] for row in listed])
    cells = [(row.user_name, row.user_id or "-", row.result.value, row.annotation) for row in listed]
    return "\n".join([table(("USER", "USER ID", "RESULT", "ANNOTATION"), cells), "", summary_line(ordered)])
