"""An emulated clock for stories told day by day (``mfa-audit demo --walkthrough``): every handler, the emulated
Config and CloudTrail read it, and the story moves it to each day's runs.

Example::

    clock = EmulatedClock.from_last_morning(datetime.now(timezone.utc))
    clock.run_on(7)              # day 7, RUNS_AFTER past DAY_STARTS_AT
    day_label(7, 7, clock)       # "day 7     2026-05-19 10:00   "
"""

from __future__ import annotations

from datetime import datetime, timedelta

# Day 0 starts at this time of day (UTC); each day's runs come RUNS_AFTER later.
DAY_STARTS_AT = 9
RUNS_AFTER = timedelta(hours=1)


class EmulatedClock:
    """The time every handler, the emulated Config and CloudTrail read; moved to each day's runs."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.now = start

    @classmethod
    def from_last_morning(cls, now: datetime) -> EmulatedClock:
        """Day 0 at the latest DAY_STARTS_AT o'clock (UTC) not after ``now``: never in moto's future."""
        start = now.replace(hour=DAY_STARTS_AT, minute=0, second=0, microsecond=0)
        return cls(start if start <= now else start - timedelta(days=1))

    def __call__(self) -> datetime:
        return self.now

    def run_on(self, day: int) -> datetime:
        self.now = self.start + timedelta(days=day) + RUNS_AFTER
        return self.now


def day_label(first: int, last: int, clock: EmulatedClock) -> str:
    """``day 7     2026-05-19 10:00`` (the clock's time), or ``days 8-13 2026-05-20..05-25`` for a span of days."""
    if first == last:
        return f"day {first:<5} {clock.now:%Y-%m-%d %H:%M}   "
    first_run = clock.start + timedelta(days=first) + RUNS_AFTER
    last_run = clock.start + timedelta(days=last) + RUNS_AFTER
    return f"days {f'{first}-{last}':<4} {first_run:%Y-%m-%d}..{last_run:%m-%d}  "
