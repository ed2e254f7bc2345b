"""What AWS Config bills: evaluations recorded per day, and the API calls behind them, at 1% daily churn.

For 500, 2,000 and 5,000 users (the sweep benchmark's mix) it plays out one day of hourly sweeps
through the real ``lambda_handler``, in steady state, with 1% of users changing their password or
MFA over the day, and checks after every sweep that what Config holds equals the truth (what a
sweep sends when Config holds nothing). It compares, per day and per month:

* AWS's managed rule swept daily: one evaluation per user per day;
* this rule before it sent only changes, swept daily: one evaluation per user per sweep;
* this rule swept hourly, sending only changes and due re-confirmations (measured).

Steady state: each result Config holds starts out as recorded at its user's latest re-confirmation
moment (``latest_reconfirmation_moment``), as after ``ReconfirmDays`` of sweeps; without that, the first day
after a rule's creation would show no re-confirmations at all.

    python -m benchmarks.cost                    # 500,2000,5000 users
    python -m benchmarks.cost --sizes 500
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from benchmarks.sweep import ACCOUNT_ID, PARAMETERS, seed_mix, use_emulated_account

DAILY_CHURN = 0.01
SWEEPS_PER_DAY = 24
REPORT_REUSE_HOURS = 4  # IAM hands out the same credential report for 4 hours
# AWS Config's price per recorded rule evaluation, per account and Region and month (USD).
PRICE_TIERS = ((100_000, 0.001), (400_000, 0.0008), (float("inf"), 0.0005))
DAYS_PER_MONTH = 30


def monthly_charge(evaluations_per_day: float) -> float:
    remaining, charge = evaluations_per_day * DAYS_PER_MONTH, 0.0
    for size, price in PRICE_TIERS:
        billed = min(remaining, size)
        charge += billed * price
        remaining -= billed
        if remaining <= 0:
            break
    return round(charge, 2)


@dataclass
class DayOfSweeps:
    size: int
    changes: int
    evaluations_per_sweep: list[int]
    calls_per_sweep: list[dict[str, int]]
    first_sweep_evaluations: int
    first_sweep_calls: dict[str, int]
    every_sweep_right: bool

    @property
    def evaluations_per_day(self) -> int:
        return sum(self.evaluations_per_sweep)

    def calls_per_day(self, prefix: str = "") -> int:
        return sum(n for calls in self.calls_per_sweep for op, n in calls.items() if op.startswith(prefix))


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def _change_one(iam: Any, state: dict[str, Any], rng: random.Random) -> None:
    """One user's password or MFA changes, so that its verdict changes."""
    from mfa_audit.emulation.account import device_serial

    kind = rng.choice(("gains-password", "gains-mfa", "loses-password"))
    if kind == "gains-password" and state["without_password"]:
        name = state["without_password"].pop()
        iam.create_login_profile(UserName=name, Password="Emulated-Passw0rd!")  # noqa: S106 - emulated account
    elif kind == "gains-mfa" and state["without_mfa"]:
        name = state["without_mfa"].pop()
        serial = device_serial("hardware", name, ACCOUNT_ID, 7)
        iam.enable_mfa_device(
            UserName=name, SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
        )
    elif state["with_password"]:
        iam.delete_login_profile(UserName=state["with_password"].pop())


def _truth(config: Any, clock: Clock) -> dict[str, tuple[str, str]]:
    from IAM_USER_CONSOLE_MFA import lambda_handler

    from mfa_audit.emulation.events import LambdaContext, scheduled_event

    kept = (dict(config.results), dict(config.recorded_at), dict(config.result_accounts))
    config.forget_results()
    event = scheduled_event(PARAMETERS)
    event["resultToken"] = "TESTMODE"
    config.put_calls.clear()
    lambda_handler(event, LambdaContext(), clock=clock)
    decided = {e["ComplianceResourceId"]: (e["ComplianceType"], e["Annotation"]) for e in config.sent}
    config.results, config.recorded_at, config.result_accounts = kept
    return decided


def _holds_the_truth(config: Any, clock: Clock) -> bool:
    decided = _truth(config, clock)
    holds = {rid: (e["ComplianceType"], e["Annotation"]) for rid, e in config.results.items()}
    current_right = all(holds.get(rid) == verdict for rid, verdict in decided.items())
    gone_cleared = all(holds[rid][0] == "NOT_APPLICABLE" for rid in set(holds) - set(decided))
    return current_right and gone_cleared


def simulate_day(size: int, seed: int) -> DayOfSweeps:
    import boto3
    from console_mfa.config_report import latest_reconfirmation_moment
    from console_mfa.policy import DEFAULT_RECONFIRM_DAYS
    from IAM_USER_CONSOLE_MFA import lambda_handler
    from moto import mock_aws

    from mfa_audit.emulation.account import create_user
    from mfa_audit.emulation.events import RULE_NAME, LambdaContext, scheduled_event
    from mfa_audit.emulation.services import ApiCallCounter, EmulatedCloudTrail, EmulatedConfig, FrozenCredentialReport

    rng = random.Random(seed + size)
    os.environ["SWEEP_STRATEGY"] = "auto"
    clock = Clock(datetime.now(timezone.utc))
    with (
        mock_aws(),
        EmulatedCloudTrail(ACCOUNT_ID) as cloudtrail,
        FrozenCredentialReport(ACCOUNT_ID) as report,
        EmulatedConfig(RULE_NAME) as config,
    ):
        config.clock = clock
        iam = boto3.client("iam")
        seeds = seed_mix(size, rng)
        for seed_user in seeds:
            create_user(iam, seed_user)
        state = {
            "without_password": [s.name for s in seeds if not s.console_password],
            "without_mfa": [s.name for s in seeds if s.console_password and not s.devices],
            "with_password": [s.name for s in seeds if s.console_password and s.devices],
        }
        for names in state.values():
            rng.shuffle(names)
        cloudtrail.age_history(timedelta(hours=30))
        report.generate_now()

        with ApiCallCounter() as counter:
            lambda_handler(scheduled_event(PARAMETERS), LambdaContext(), clock=clock)
        first = DayOfSweeps(size, 0, [], [], len(config.sent), dict(counter.calls), True)
        # Steady state: every result last recorded at its user's latest re-confirmation moment.
        for resource_id in config.recorded_at:
            config.recorded_at[resource_id] = latest_reconfirmation_moment(resource_id, clock(), DEFAULT_RECONFIRM_DAYS)

        changes_due, changes_made = size * DAILY_CHURN, 0
        for hour in range(1, SWEEPS_PER_DAY + 1):
            clock.now += timedelta(hours=1)
            while changes_made < round(changes_due * hour / SWEEPS_PER_DAY):
                _change_one(iam, state, rng)
                changes_made += 1
            if hour % REPORT_REUSE_HOURS == 0:
                report.generate_now()
            config.put_calls.clear()
            with ApiCallCounter() as counter:
                lambda_handler(scheduled_event(PARAMETERS), LambdaContext(), clock=clock)
            first.evaluations_per_sweep.append(len(config.sent))
            first.calls_per_sweep.append(dict(counter.calls))
            first.every_sweep_right = first.every_sweep_right and _holds_the_truth(config, clock)
        first.changes = changes_made
        return first


def table(days: list[DayOfSweeps], header: bool = True) -> str:
    """The table's rows for these days, under its two header lines unless ``header`` is false."""
    title = (
        f"{'users':>6} {'changes/day':>11} {'evals/sweep':>11} | {'evaluations per day':^34} | "
        f"{'Config charge per month (USD)':^34} | {'API calls per day':^37} | {'right':>5}"
    )
    sub = (
        f"{'':>6} {'':>11} {'(hourly)':>11} | {'managed':>10} {'before':>10} {'hourly':>10} | "
        f"{'managed':>10} {'before':>10} {'hourly':>10} | {'before':>8} {'hourly':>8} {'IAM':>8} {'CT':>8} | {'':>5}"
    )
    lines = [title, sub, "-" * len(sub)] if header else []
    for day in days:
        mean = day.evaluations_per_day / len(day.evaluations_per_sweep)
        before = day.first_sweep_evaluations
        lines.append(
            f"{day.size:>6} {day.changes:>11} {mean:>11.1f} | {day.size:>10} {before:>10} {day.evaluations_per_day:>10} | "
            f"{monthly_charge(day.size):>10.2f} {monthly_charge(before):>10.2f} {monthly_charge(day.evaluations_per_day):>10.2f} | "
            f"{sum(day.first_sweep_calls.values()):>8} {day.calls_per_day():>8} {day.calls_per_day('iam:'):>8} "
            f"{day.calls_per_day('cloudtrail:'):>8} | {'yes' if day.every_sweep_right else 'NO':>5}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,2000,5000")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", type=Path, default=Path("bench-results/cost.json"))
    args = parser.parse_args()
    use_emulated_account()

    # One table on stdout, each size's row added as soon as it is measured; progress goes to stderr.
    days: list[DayOfSweeps] = []
    for size in (int(s) for s in args.sizes.split(",")):
        print(f"one day of hourly sweeps, {size} users, {DAILY_CHURN:.0%} churn ...", file=sys.stderr, flush=True)
        day = simulate_day(size, args.seed)
        print(table([day], header=not days), flush=True)
        days.append(day)
    print(
        "\nmanaged: AWS's managed rule, daily; before: this rule sending every result, daily; hourly: this rule\n"
        "sending only changes and due re-confirmations (ReconfirmDays 30), hourly. API calls: before = one daily\n"
        "sweep; hourly = 24 sweeps (IAM and CloudTrail (CT) of those). Charge for this rule alone in the account."
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps([asdict(day) for day in days], indent=2))
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
