"""The cost benchmark runs, and its day of sweeps keeps Config right while sending far less than everyone."""

import pytest

from benchmarks.cost import monthly_charge, simulate_day


@pytest.mark.filterwarnings("ignore")
def test_a_day_of_hourly_sweeps_on_a_small_account_sends_little_and_stays_right(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    day = simulate_day(size=100, seed=1)
    assert day.every_sweep_right
    assert day.first_sweep_evaluations == 100
    assert len(day.evaluations_per_sweep) == 24
    assert day.changes >= 1
    assert day.changes <= day.evaluations_per_day < 100


@pytest.mark.parametrize(
    ("per_day", "monthly"),
    [(0, 0.0), (1000, 30.0), (5000, 140.0), (20_000, 100.0 + 400_000 * 0.0008 + 100_000 * 0.0005)],
)
def test_monthly_charge_follows_configs_price_tiers(per_day, monthly):
    assert monthly_charge(per_day) == pytest.approx(monthly)
