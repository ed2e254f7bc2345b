"""Re-confirmation of unchanged results: once per period for each user, spread evenly over the days."""

from collections import Counter
from datetime import datetime, timedelta, timezone

from console_mfa.what_to_send import reconfirmation_due

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
USERS = [f"AIDA{n:017d}" for n in range(1000)]


def simulate(reconfirm_days, days, step=timedelta(hours=1)):
    """Hourly sweeps over unchanged users whose results were all first recorded at START."""
    recorded = dict.fromkeys(USERS, START)
    sent_per_day: Counter[int] = Counter()
    now = START
    while now < START + timedelta(days=days):
        now += step
        for user in USERS:
            if reconfirmation_due(user, recorded[user], now, reconfirm_days):
                recorded[user] = now
                sent_per_day[(now - START).days] += 1
    return sent_per_day, recorded, now


def test_every_result_is_reconfirmed_once_per_period_and_never_older():
    sent_per_day, recorded, now = simulate(reconfirm_days=30, days=60)
    assert sum(sent_per_day.values()) == 2 * len(USERS)
    assert all(now - when <= timedelta(days=30) for when in recorded.values())


def test_reconfirmations_are_spread_over_the_days_not_bunched_on_one():
    sent_per_day, _, _ = simulate(reconfirm_days=30, days=30)
    per_day = len(USERS) / 30
    assert max(sent_per_day.values()) < 1.5 * per_day
    assert min(sent_per_day[day] for day in range(30)) > 0.5 * per_day


def test_a_fresh_result_is_not_due_and_one_older_than_the_period_always_is():
    now = START + timedelta(days=100)
    assert reconfirmation_due(USERS[0], now - timedelta(days=31), now, 30)
    assert not reconfirmation_due(USERS[0], now, now, 30)
