"""One user's result, the one order users are listed in, and their summary: what the formats render.

Example::

    rows = [ResultRow.from_verdict("bob", "AIDA...", "arn:...", verdict)]
    results = UserResults.of(rows, source="live-account", parameters=policy.as_rule_parameters())
    print(summary_line(results.rows))
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from console_mfa.verdict import ComplianceType, Verdict, human_text


def facts_record(annotation: str) -> str | None:
    """The facts record at the end of an annotation (``"[v1 pw=... mfa=...]"``), None if it has none.

    People read :func:`~console_mfa.verdict.human_text`; the machine formats (JSON, CSV) carry the
    record beside it, in a field of its own.

    Example::

        facts_record("Console password with MFA: virtual. [v1 pw=1767225600 mfa=v]")  # "[v1 pw=1767225600 mfa=v]"
    """
    return annotation[len(human_text(annotation)) :].strip() or None


@dataclass(frozen=True)
class ResultRow:
    """One user's result. ``reason`` is None where only Config's record is known (the demo).

    ``annotation`` is the whole annotation, as Config holds it; ``text`` is what people read.
    """

    user_name: str
    user_id: str | None
    arn: str
    result: ComplianceType
    annotation: str
    reason: str | None = None

    @classmethod
    def from_verdict(cls, user_name: str, user_id: str | None, arn: str, verdict: Verdict) -> ResultRow:
        return cls(user_name, user_id, arn, verdict.compliance_type, verdict.annotation, verdict.reason.value)

    @property
    def text(self) -> str:
        """The annotation as people read it: without the facts record."""
        return human_text(self.annotation)

    def as_dict(self) -> dict[str, str | None]:
        """The machine formats' fields: the annotation for people and, apart, the facts record."""
        return {
            "user_name": self.user_name,
            "user_id": self.user_id,
            "arn": self.arn,
            "result": self.result.value,
            "reason": self.reason,
            "annotation": self.text,
            "facts_record": facts_record(self.annotation),
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


@dataclass(frozen=True)
class UserResults:
    """An audit's or the demo's results, as every format takes them.

    ``rows`` is every user evaluated, in the one user order (summaries count these); ``listed`` the
    rows a format lists: all of them, or the NON_COMPLIANT ones under ``--only-failed``.
    """

    rows: tuple[ResultRow, ...]
    listed: tuple[ResultRow, ...]
    source: str
    parameters: Mapping[str, str]
    limitations: tuple[str, ...] = ()
    generated: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    version: str = ""

    @classmethod
    def of(
        cls,
        rows: Sequence[ResultRow],
        *,
        source: str,
        parameters: Mapping[str, str],
        limitations: Sequence[str] = (),
        generated: datetime | None = None,
        version: str = "",
    ) -> UserResults:
        ordered = tuple(in_user_order(rows))
        return cls(
            ordered,
            ordered,
            source,
            dict(parameters),
            tuple(limitations),
            generated or datetime.now(timezone.utc),
            version,
        )

    @property
    def non_compliant(self) -> bool:
        return any(row.result is ComplianceType.NON_COMPLIANT for row in self.rows)
