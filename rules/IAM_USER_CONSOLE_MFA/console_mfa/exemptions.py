"""Exemptions that end: what a user's exemption tag says, and whether it is honoured today. Pure: no AWS here.

The tag named by the ``ExemptionTag`` parameter (default ``mfa-exempt-until``) holds the last day of
the exemption, ``YYYY-MM-DD``, in UTC and inclusive. It is honoured from the day it is read up to the
end of that day, and only when that day is at most ``MaxExemptionDays`` ahead; anything else (a day
past, a day too far ahead, an empty value, a value that is not such a date) exempts nobody, and the
verdict says why. The owner's and the reason's tags (``mfa-exempt-owner``, ``mfa-exempt-reason``:
the ``-until`` suffix replaced) are carried into the reports; they never change a verdict.

Example::

    tag = ExemptionTag.of((("mfa-exempt-until", "2026-12-31"),), "mfa-exempt-until")
    tag.refusal(today=date(2026, 12, 1), max_days=90)   # None: honoured
    tag.refusal(today=date(2027, 1, 1), max_days=90)    # "its last day, 2026-12-31, has passed"
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
# How a facts record writes each state (verdict.FactsRecord): a day is written as its eight digits.
_RECORD_TOKEN = {"absent": "-", "empty": "_", "not_a_date": "?"}


class TagState(str, enum.Enum):
    ABSENT = "absent"
    EMPTY = "empty"
    NOT_A_DATE = "not_a_date"
    DAY = "day"


@dataclass(frozen=True)
class ExemptionTag:
    """The exemption tag of one user: absent, empty, not a date, or a day (``last_day``)."""

    state: TagState
    last_day: date | None = None

    @classmethod
    def of(cls, tags: Sequence[tuple[str, str]] | None, key: str) -> ExemptionTag | None:
        """The tag ``key`` among ``tags``; None when the tags were not read."""
        if tags is None:
            return None
        value = dict(tags).get(key)
        if value is None:
            return cls(TagState.ABSENT)
        return cls.from_value(value)

    @classmethod
    def from_value(cls, value: str) -> ExemptionTag:
        if not value.strip():
            return cls(TagState.EMPTY)
        if not _DAY.fullmatch(value):
            return cls(TagState.NOT_A_DATE)
        try:
            return cls(TagState.DAY, date.fromisoformat(value))
        except ValueError:  # 2026-02-30, 2026-13-01
            return cls(TagState.NOT_A_DATE)

    def refusal(self, today: date, max_days: int) -> str | None:
        """Why the tag exempts nobody on ``today`` (UTC), or None when it is honoured. ABSENT: None too."""
        if self.state is TagState.EMPTY:
            return "its value is empty"
        if self.state is TagState.NOT_A_DATE:
            return "its value is not a day written YYYY-MM-DD"
        if self.state is TagState.DAY:
            assert self.last_day is not None
            if self.last_day < today:
                return f"its last day, {self.last_day:%Y-%m-%d}, has passed"
            if self.last_day > today + timedelta(days=max_days):
                return f"its last day, {self.last_day:%Y-%m-%d}, is more than MaxExemptionDays ({max_days}) ahead"
        return None

    def honoured(self, today: date, max_days: int) -> bool:
        return self.state is TagState.DAY and self.refusal(today, max_days) is None

    # --- As a facts record writes it, and back. ---

    @property
    def record_token(self) -> str:
        if self.state is TagState.DAY:
            assert self.last_day is not None
            return f"{self.last_day:%Y%m%d}"
        return _RECORD_TOKEN[self.state.value]

    @classmethod
    def from_record_token(cls, token: str) -> ExemptionTag | None:
        """The state a record's token stands for; None for a token no record writes."""
        for state, written in _RECORD_TOKEN.items():
            if token == written:
                return cls(TagState(state))
        if len(token) == 8 and token.isdigit():
            try:
                return cls(TagState.DAY, date(int(token[:4]), int(token[4:6]), int(token[6:])))
            except ValueError:
                return None
        return None

    def as_tags(self, key: str) -> tuple[tuple[str, str], ...]:
        """Tags that read back as this state under ``key`` (for facts rebuilt from a record)."""
        if self.state is TagState.ABSENT:
            return ()
        if self.state is TagState.DAY:
            assert self.last_day is not None
            return ((key, self.last_day.isoformat()),)
        return ((key, "" if self.state is TagState.EMPTY else "?"),)


RECORD_TOKEN_PATTERN = r"\d{8}|[" + re.escape("".join(_RECORD_TOKEN.values())) + "]"


@dataclass(frozen=True)
class Exemption:
    """An honoured exemption as the reports list it: the last day, and the owner and reason tags (may be empty).

    ``set_by`` is who last set the exemption tag, when CloudTrail still knows (the live audit looks it up).
    """

    last_day: date
    owner: str = ""
    reason: str = ""
    set_by: str = ""
