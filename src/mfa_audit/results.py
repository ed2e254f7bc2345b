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
from datetime import date, datetime, timedelta, timezone

from console_mfa.exemptions import Exemption
from console_mfa.verdict import ComplianceType, Verdict, human_text


def facts_record(annotation: str) -> str | None:
    """The facts record at the end of an annotation (``"[v1 pw=... mfa=...]"``), None if it has none.

    People read :func:`~console_mfa.verdict.human_text`; the machine formats (JSON, CSV) carry the
    record beside it, in a field of its own.

    Example::

        facts_record("Console password with MFA: virtual. [v1 pw=1767225600 mfa=v]")  # "[v1 pw=1767225600 mfa=v]"
    """
    return annotation[len(human_text(annotation)) :].strip() or None


# How the reports head the list of active exemptions, in every format.
EXEMPTION_HEADER = ("user", "account", "until", "owner", "reason", "set by")
# The HTML page counts the exemptions that end this soon.
ENDING_SOON_DAYS = 14


@dataclass(frozen=True)
class ExemptionRow:
    """One active exemption as the reports list it: whose, where, until when, whose decision, why, set by whom.

    ``set_by`` is empty where CloudTrail no longer knows (or was not asked: the organization report).
    """

    user_name: str
    account_id: str
    exemption: Exemption

    def cells(self) -> list[str]:
        e = self.exemption
        return [
            self.user_name,
            self.account_id,
            f"{e.last_day:%Y-%m-%d}",
            e.owner or "-",
            e.reason or "-",
            e.set_by or "unknown",
        ]

    def ends_within(self, today: date, days: int = ENDING_SOON_DAYS) -> bool:
        """Whether the exemption ends within ``days`` of ``today`` (its last day before ``today + days``)."""
        return self.exemption.last_day < today + timedelta(days=days)

    def as_dict(self) -> dict[str, str]:
        return dict(zip(("user_name", "account_id", "until", "owner", "reason", "set_by"), self._values(), strict=True))

    def _values(self) -> list[str]:
        e = self.exemption
        return [self.user_name, self.account_id, f"{e.last_day:%Y-%m-%d}", e.owner, e.reason, e.set_by]


def in_exemption_order(exemptions: Sequence[ExemptionRow]) -> list[ExemptionRow]:
    """Soonest end first, then account and user: what needs a decision first is on top."""
    return sorted(exemptions, key=lambda row: (row.exemption.last_day, row.account_id, row.user_name.casefold()))


def ending_within(exemptions: Sequence[ExemptionRow], today: date, days: int = ENDING_SOON_DAYS) -> int:
    """How many exemptions end within ``days`` of ``today`` (their last day included)."""
    return sum(1 for row in exemptions if row.ends_within(today, days))


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
    # The exemption tag that made the user NOT_APPLICABLE, where the tags were read (the live audit).
    exemption: Exemption | None = None

    @classmethod
    def from_verdict(
        cls, user_name: str, user_id: str | None, arn: str, verdict: Verdict, exemption: Exemption | None = None
    ) -> ResultRow:
        return cls(
            user_name, user_id, arn, verdict.compliance_type, verdict.annotation, verdict.reason.value, exemption
        )

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

    @property
    def exemptions(self) -> list[ExemptionRow]:
        """Every active exemption among the users evaluated (``--only-failed`` does not hide them)."""
        return in_exemption_order(
            [
                ExemptionRow(row.user_name, row.arn.split(":")[4] if row.arn.count(":") >= 5 else "", row.exemption)
                for row in self.rows
                if row.exemption is not None
            ]
        )
