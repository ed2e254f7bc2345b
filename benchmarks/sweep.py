"""Benchmark the periodic sweep's strategies on emulated accounts of 500, 2,000 and 5,000 users.

Every strategy runs through the real ``lambda_handler`` on the same account, with the
same simulated latency added to every AWS call. The straightforward sweep (two calls
per user, one user after another) is the baseline every figure is compared with; the rule
does not carry it, so the benchmark puts its own (:func:`baseline_sweep`) in the place of
the rule's sweep for that run, and the rest of the invocation is the rule's.

    python -m benchmarks.sweep                       # sizes 500,2000,5000; 40 ms per call
    python -m benchmarks.sweep --sizes 500 --latency-ms 10

Prints a table and writes bench-results/sweep.json. Peak memory is measured in a second
run without latency under tracemalloc (it slows Python down); it counts every allocation
made during the invocation, moto's included, so it is an upper bound for the rule's own.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
import time
import tracemalloc
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

STRATEGIES = ("baseline", "live", "bulk")
PARAMETERS = {"GracePeriodDays": "14"}
ACCOUNT_ID = "123456789012"


@dataclass
class Run:
    size: int
    strategy: str
    wall_seconds: float
    api_calls: int
    calls_by_operation: dict[str, int]
    put_evaluations_calls: int
    max_evaluations_per_put: int
    peak_memory_mb: float = 0.0
    verdicts_equal_baseline: bool = True
    ratios: dict[str, float] = field(default_factory=dict)


class Latency:
    """Adds the same delay to every AWS call, whichever strategy makes it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._handler = ("before-call", self._wait)

    def __enter__(self) -> Latency:
        from botocore.handlers import BUILTIN_HANDLERS

        BUILTIN_HANDLERS.insert(0, self._handler)
        return self

    def __exit__(self, *_: Any) -> None:
        from botocore.handlers import BUILTIN_HANDLERS

        BUILTIN_HANDLERS.remove(self._handler)

    def _wait(self, **_: Any) -> None:
        if self.seconds:
            time.sleep(self.seconds)


def seed_mix(size: int, rng: random.Random) -> list[Any]:
    """About 60% with a console password; of those about 85% with MFA (virtual, FIDO,
    hardware), 1% SMS only, the rest none; 3% of passwords are new (inside the grace
    period); the other 40% have no credentials at all."""
    from mfa_audit.emulation.account import SeedUser

    seeds = []
    for number in range(size):
        name = f"user{number:05d}"
        if rng.random() >= 0.60:
            seeds.append(SeedUser(name))
            continue
        roll = rng.random()
        devices: tuple[str, ...]
        if roll < 0.85:
            devices = (("virtual", "fido", "hardware")[number % 3],)
        elif roll < 0.86:
            devices = ("sms",)
        else:
            devices = ()
        age = 5 if rng.random() < 0.03 else 400
        seeds.append(SeedUser(name, True, devices, age))
    return seeds


def change_after_report(iam: Any, seeds: list[Any], rng: random.Random) -> None:
    """A few changes after the report was taken, as in a real account whose report is hours old."""
    from mfa_audit.emulation.account import SeedUser, create_user

    without = [s.name for s in seeds if not s.console_password][:5]
    for name in without:
        iam.create_login_profile(UserName=name, Password="Emulated-Passw0rd!")
    with_hardware = [s.name for s in seeds if s.devices == ("hardware",)][:5]
    for name in with_hardware:
        serial = iam.list_mfa_devices(UserName=name)["MFADevices"][0]["SerialNumber"]
        iam.deactivate_mfa_device(UserName=name, SerialNumber=serial)
    for number in range(5):
        create_user(iam, SeedUser(f"new-after-report-{number}", True, (), 1))


def baseline_sweep(clients: Any, deadline: Any, now: Any, policy: Any, *_: Any, **__: Any) -> Any:
    """The straightforward sweep every figure is compared with: for each user, one after another,
    GetLoginProfile and ListMFADevices (the second even without a password), then the exemption tags every
    strategy reads. The rule never runs it; the benchmark puts it in the place of the rule's sweep
    (:func:`run_strategy`), so the rest of the invocation is the rule's.
    """
    from console_mfa.carry_forward import ListedUser
    from console_mfa.facts import MissingUser, UserFacts
    from console_mfa.iam_facts import list_users, login_profile_created, mfa_devices
    from console_mfa.sweep import SweepResult, with_exemption_tags

    users = [ListedUser.from_list_users(row) for row in list_users(clients.iam)]
    result = SweepResult(strategy="baseline", listed=len(users))
    for user in users:
        if deadline.expired():
            break
        has_password, created = login_profile_created(clients.iam, user.user_name)
        devices = mfa_devices(clients.iam, user.user_name)
        if devices is None:
            result.missing.append(
                MissingUser(user.user_id, user.user_name, "The user was deleted while it was being evaluated.")
            )
        else:
            result.users.append(
                UserFacts(user.user_name, user.user_id, user.arn, created if has_password else None, devices)
            )
    return with_exemption_tags(clients, result, deadline, now, policy, None)


def run_strategy(strategy: str, latency: float, measure_memory: bool) -> tuple[Run, dict[str, str]]:
    from unittest import mock

    import IAM_USER_CONSOLE_MFA
    from IAM_USER_CONSOLE_MFA import lambda_handler

    from mfa_audit.emulation.events import RULE_NAME, scheduled_event
    from mfa_audit.emulation.services import ApiCallCounter, EmulatedConfig

    if strategy == "baseline":
        os.environ["SWEEP_STRATEGY"] = "live"  # any the rule knows: the baseline sweep takes the sweep's place
        sweep_in_place = mock.patch.object(IAM_USER_CONSOLE_MFA, "sweep_account", baseline_sweep)
    else:
        os.environ["SWEEP_STRATEGY"] = strategy
        sweep_in_place = contextlib.nullcontext()
    with sweep_in_place, EmulatedConfig(RULE_NAME) as config, ApiCallCounter() as counter, Latency(latency):
        if measure_memory:
            tracemalloc.start()
        started = time.perf_counter()
        lambda_handler(scheduled_event(PARAMETERS), None)
        wall = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] / 2**20 if measure_memory else 0.0
        if measure_memory:
            tracemalloc.stop()
    verdicts = {e["ComplianceResourceId"]: e["ComplianceType"] for e in config.sent}
    run = Run(
        size=0,
        strategy=strategy,
        wall_seconds=round(wall, 2),
        api_calls=sum(counter.calls.values()),
        calls_by_operation=dict(sorted(counter.calls.items())),
        put_evaluations_calls=len(config.put_calls),
        max_evaluations_per_put=max((len(batch) for batch in config.put_calls), default=0),
        peak_memory_mb=round(peak, 1),
    )
    return run, verdicts


def benchmark_size(size: int, latency: float, seed: int) -> list[Run]:
    import boto3
    from moto import mock_aws

    from mfa_audit.emulation.account import create_user
    from mfa_audit.emulation.services import EmulatedCloudTrail, FrozenCredentialReport

    rng = random.Random(seed + size)
    with mock_aws(), EmulatedCloudTrail(ACCOUNT_ID) as cloudtrail, FrozenCredentialReport(ACCOUNT_ID) as report:
        iam = boto3.client("iam")
        seeds = seed_mix(size, rng)
        for seed_user in seeds:
            create_user(iam, seed_user)
        cloudtrail.age_history(timedelta(hours=30))
        report.generate_now()
        change_after_report(iam, seeds, rng)

        runs, verdicts = [], {}
        for strategy in STRATEGIES:
            run, verdicts[strategy] = run_strategy(strategy, latency, measure_memory=False)
            memory_run, _ = run_strategy(strategy, 0.0, measure_memory=True)
            run.peak_memory_mb = memory_run.peak_memory_mb
            run.size = size
            runs.append(run)
    baseline = runs[0]
    for run in runs:
        run.verdicts_equal_baseline = verdicts[run.strategy] == verdicts["baseline"]
        run.ratios = {
            "api_calls": round(run.api_calls / baseline.api_calls, 3),
            "wall_time": round(run.wall_seconds / baseline.wall_seconds, 3),
            "speedup": round(baseline.wall_seconds / run.wall_seconds, 1),
        }
    return runs


def table(runs: list[Run], header: bool = True) -> str:
    """The table's rows for these runs, under its header unless ``header`` is false (rows added to a table
    already printed)."""
    title = f"{'users':>6} {'strategy':<9} {'AWS calls':>9} {'x base':>7} {'IAM per-user':>12} {'Put':>4} {'max/Put':>7} {'wall s':>8} {'speedup':>7} {'peak MB':>8} {'same verdicts':>13}"
    lines = [title, "-" * len(title)] if header else []
    for run in runs:
        per_user = sum(
            v for k, v in run.calls_by_operation.items() if k in ("iam:GetLoginProfile", "iam:ListMFADevices")
        )
        lines.append(
            f"{run.size:>6} {run.strategy:<9} {run.api_calls:>9} {run.ratios['api_calls']:>7.3f} {per_user:>12} "
            f"{run.put_evaluations_calls:>4} {run.max_evaluations_per_put:>7} {run.wall_seconds:>8.1f} "
            f"{run.ratios['speedup']:>6.1f}x {run.peak_memory_mb:>8.1f} {str(run.verdicts_equal_baseline):>13}"
        )
    return "\n".join(lines)


def use_emulated_account() -> None:
    """Fake credentials for the emulated account, no profile, and the rule's per-run log lines kept quiet."""
    import logging

    for name, value in {
        "AWS_ACCESS_KEY_ID": "AKIABENCHMARK0000001",
        "AWS_SECRET_ACCESS_KEY": "benchmark",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        os.environ[name] = value
    os.environ.pop("AWS_PROFILE", None)
    logging.getLogger("console_mfa").setLevel(logging.WARNING)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,2000,5000")
    parser.add_argument("--latency-ms", type=float, default=40.0, help="added to every AWS call")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", type=Path, default=Path("bench-results/sweep.json"))
    args = parser.parse_args()
    use_emulated_account()

    # One table on stdout, each size's rows added as soon as they are measured (a full run takes a
    # quarter of an hour); progress goes to stderr.
    runs: list[Run] = []
    for size in (int(s) for s in args.sizes.split(",")):
        print(f"benchmarking {size} users at {args.latency_ms:g} ms per AWS call ...", file=sys.stderr, flush=True)
        measured = benchmark_size(size, args.latency_ms / 1000, args.seed)
        print(table(measured, header=not runs), flush=True)
        runs += measured
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {"latency_ms": args.latency_ms, "parameters": PARAMETERS, "runs": [asdict(r) for r in runs]}, indent=2
        )
    )
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
