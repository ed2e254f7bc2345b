"""How soon Config holds the right result after an IAM change: the hourly sweep alone, and with the event path.

A simulated clock plays a timeline: IAM changes; CloudTrail hands each to EventBridge after a delay (a
parameter); EventBridge puts it on the queue; the queue reader gathers a batching window and calls the
real coalescer (``console_mfa.reevaluation.coalesce``) once per batch; Config refuses a start while an
evaluation runs or within a minute of the last one (``LimitExceededException``), and the refused messages
come back after the visibility timeout; an evaluation reads IAM when its run starts and Config holds the
result when it ends. The hourly sweep runs throughout, as the backstop.

CloudTrail's event history (LookupEvents) shows a change some time after EventBridge has it (a lag; AWS
promises no order between the two). A steady-state sweep checks live only the users the history shows
changed, so a run sees a change only once the history shows it; the coalescer, given the history, keeps a
message until its event is shown (or 20 minutes have passed). Each table is for one lag (0, 5 and 15 minutes
by default). Under each reading of what
``StartConfigRulesEvaluation`` makes Config send (one ScheduledNotification, a change notification per
user, or both) the evaluation's run differs in length and in Lambda invocations, not in what it sends:
a change-triggered run that finds Config holding the same result sends nothing (tests/functional/
test_on_demand_reevaluation.py plays that part through the real handler).

It prints, per reading, the time from change to right result (median and worst) for one change and for
a burst of 100 changes in a minute, and a day's re-evaluations, Lambda invocations and IAM calls for the
re-evaluations at 1% daily churn.

    python -m benchmarks.freshness                     # 500, 2,000 and 5,000 users
    python -m benchmarks.freshness --sizes 500 --delay-seconds 300 --history-lags 0,15
"""

from __future__ import annotations

import argparse
import heapq
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from console_mfa.reevaluation import IamChange, Outcome, coalesce

from benchmarks.cost import DAILY_CHURN, SWEEPS_PER_DAY
from mfa_audit.emulation.iam_events import sqs_record

ACCOUNT = "123456789012"
READINGS = ("scheduled", "per-user", "both")
# Queue and reader settings as cloudformation/iam-events.yaml sets them.
BATCHING_WINDOW_SECONDS = 20
VISIBILITY_TIMEOUT_SECONDS = 120
START_INTERVAL_SECONDS = 60  # Config's once-a-minute limit
# Config's delay before it invokes the function once an evaluation starts (asynchronous invocation).
INVOKE_DELAY_SECONDS = 5
# Measured sweeps (make bench, bulk strategy at real IAM latency) take about a minute at 5,000 users.
SWEEP_SECONDS_PER_USER = 0.012
# A change-triggered run: GetUser, GetLoginProfile, ListMFADevices and one Config read, about 0.4 s; Config
# runs them with Lambda's concurrency, here assumed 10 at a time for one rule.
CHANGE_RUN_SECONDS, CHANGE_RUN_CONCURRENCY = 0.4, 10
IAM_CALLS_PER_CHANGE_RUN = 2.5  # 2 without a console password, 3 with
MANAGED_RULE_WORST_HOURS = 24 + 4  # daily runs, credential report up to 4 hours old
# The simulated clock's second 0.
EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _at(seconds: float) -> datetime:
    return EPOCH + timedelta(seconds=seconds)


@dataclass
class Run:
    """One evaluation Config runs: it reads IAM at ``reads_at`` and holds the results at ``done_at``."""

    reads_at: float
    done_at: float
    # A run of change notifications, one per user, which reads every user whatever the event history shows.
    per_user: bool = False


@dataclass
class Timeline:
    size: int
    reading: str
    delay: float
    events_on: bool = True
    # How long after EventBridge the event history (LookupEvents) shows a change.
    history_lag: float = 0.0
    runs: list[Run] = field(default_factory=list)
    starts: int = 0
    refused: int = 0

    def evaluation_seconds(self) -> float:
        sweep = SWEEP_SECONDS_PER_USER * self.size
        per_user = CHANGE_RUN_SECONDS * self.size / CHANGE_RUN_CONCURRENCY
        return {"scheduled": sweep, "per-user": per_user, "both": max(sweep, per_user)}[self.reading]

    def invocations_per_start(self) -> int:
        return {"scheduled": 1, "per-user": self.size, "both": self.size + 1}[self.reading]

    def sees(self, run: Run, change: float) -> bool:
        """Whether ``run`` reads the change: a per-user notification reads the user itself; a sweep only once
        the event history shows the change."""
        if run.reads_at < change:
            return False
        return run.per_user or run.reads_at >= change + self.delay + self.history_lag

    def play(self, changes: list[float], horizon: float) -> list[float]:
        """Seconds from each change to the first run that read it and finished."""
        busy_until, last_start = -1.0, -1e9
        shown = {f"m{n}": t + self.delay + self.history_lag for n, t in enumerate(changes)}
        first_received: dict[str, float] = {}
        # Hourly sweeps as the backstop, at a phase unrelated to the changes.
        for hour in range(int(horizon // 3600) + 2):
            at = hour * 3600 + 1234.0
            self.runs.append(Run(at + INVOKE_DELAY_SECONDS, at + INVOKE_DELAY_SECONDS + self.evaluation_seconds()))
        if self.events_on:
            # (visible time, message id): the queue; the reader takes what is visible once a window has passed.
            queue: list[tuple[float, str]] = [(t + self.delay, f"m{n}") for n, t in enumerate(changes)]
            heapq.heapify(queue)
            while queue:
                first_visible = queue[0][0]
                poll = first_visible + BATCHING_WINDOW_SECONDS
                batch = []
                while queue and queue[0][0] <= poll and len(batch) < 100:
                    batch.append(heapq.heappop(queue))

                def start(account: str, now: float = poll) -> Outcome:
                    nonlocal busy_until, last_start
                    if now < busy_until or now - last_start < START_INTERVAL_SECONDS:
                        self.refused += 1
                        return Outcome.BUSY
                    last_start = now
                    reads = now + INVOKE_DELAY_SECONDS
                    busy_until = reads + self.evaluation_seconds()
                    self.runs.append(Run(reads, busy_until, per_user=self.reading != "scheduled"))
                    self.starts += 1
                    return Outcome.STARTED

                def visible(account: str, queued: Sequence[IamChange], now: float = poll) -> set[str]:
                    return {change.event_id for change in queued if shown[change.event_id] <= now}

                for _, message_id in batch:
                    first_received.setdefault(message_id, poll)
                records = [
                    sqs_record(
                        message_id,
                        ACCOUNT,
                        "EnableMFADevice",
                        _time_text(changes[int(message_id[1:])]),
                        message_id,
                        _at(first_received[message_id]),
                    )
                    for _, message_id in batch
                ]
                failed = set(coalesce(records, start, visible, _at(poll)).failed_message_ids)
                for _, message_id in batch:
                    if message_id in failed:
                        heapq.heappush(queue, (poll + VISIBILITY_TIMEOUT_SECONDS, message_id))
        runs = sorted(self.runs, key=lambda run: run.reads_at)
        return [min(run.done_at for run in runs if self.sees(run, t)) - t for t in changes]


def _time_text(seconds: float) -> str:
    return _at(seconds).strftime("%Y-%m-%dT%H:%M:%SZ")


def _summary(latencies: list[float]) -> tuple[float, float]:
    return statistics.median(latencies), max(latencies)


def measure(
    size: int, reading: str, delay: float, events_on: bool, seed: int, history_lag: float = 0.0
) -> dict[str, float]:
    rng = random.Random(seed)
    lone = [rng.uniform(0, 3600) + 3600 * k for k in range(200)]  # lone changes, one an hour
    lone_latencies = []
    for t in lone:
        lone_latencies += Timeline(size, reading, delay, events_on, history_lag).play([t], t + 7200)
    burst_start = rng.uniform(0, 3600)
    burst = sorted(burst_start + rng.uniform(0, 60) for _ in range(100))
    timeline = Timeline(size, reading, delay, events_on, history_lag)
    burst_latencies = timeline.play(burst, burst_start + 7200)
    # A day at 1% churn: changes spread over the day, each a re-evaluation candidate.
    day = sorted(rng.uniform(0, 86400) for _ in range(max(1, round(size * DAILY_CHURN))))
    day_timeline = Timeline(size, reading, delay, events_on, history_lag)
    day_timeline.play(day, 86400)
    starts = day_timeline.starts
    return {
        "lone_median": _summary(lone_latencies)[0],
        "lone_worst": _summary(lone_latencies)[1],
        "burst_median": _summary(burst_latencies)[0],
        "burst_worst": _summary(burst_latencies)[1],
        "burst_starts": timeline.starts,
        "day_changes": len(day),
        "day_starts": starts,
        "day_invocations": SWEEPS_PER_DAY + starts * day_timeline.invocations_per_start(),
        # Per-user notifications cost IAM calls per user; a scheduled one costs one sweep (item 1 makes it cheap).
        "day_reevaluation_iam_calls": starts * IAM_CALLS_PER_CHANGE_RUN * size if reading != "scheduled" else 0,
        "day_reevaluation_sweeps": starts if reading != "per-user" else 0,
    }


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def table(rows: list[tuple[int, str, dict[str, float]]], delay: float, history_lag: float = 0.0) -> str:
    lines = [
        f"Change -> right result in Config (CloudTrail->EventBridge delay {delay:.0f} s; the event history "
        f"{history_lag / 60:.0f} min behind EventBridge; simulated clock)",
        "| users | path | reading | 1 change: median / worst | burst of 100 in a minute: median / worst "
        "| starts for the burst | re-evaluations / day | Lambda invocations / day | their IAM calls / day |",
        "|---:|---|---|---|---|---:|---:|---:|---:|",
        f"| any | AWS managed rule | - | up to {MANAGED_RULE_WORST_HOURS} h | up to {MANAGED_RULE_WORST_HOURS} h "
        "| - | - | 1 | - |",
    ]
    for size, label, m in rows:
        path, reading = label.split(":")
        lines.append(
            f"| {size:,} | {path} | {reading} | {_minutes(m['lone_median'])} / {_minutes(m['lone_worst'])} "
            f"| {_minutes(m['burst_median'])} / {_minutes(m['burst_worst'])} | {m['burst_starts']} "
            f"| {m['day_starts']} | {m['day_invocations']:,.0f} "
            f"| {m['day_reevaluation_iam_calls']:,.0f} + {m['day_reevaluation_sweeps']} sweeps |"
        )
    lines += [
        "",
        "Evaluations Config records are the same under every reading: a re-evaluation sends only the results",
        "that changed (tests/functional/test_on_demand_reevaluation.py), so a day's evaluations stay at the cost",
        "benchmark's figure (make bench-cost). Each of the scheduled reading's re-evaluations costs one",
        "steady-state sweep, whose IAM calls make bench-cost prints ('IAM per sweep'). With the event path on",
        "the templates make the rule periodic-only, so the scheduled reading is the only one that can happen;",
        "the per-user rows are what a rule that kept its change trigger would cost.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None, emit: Callable[[str], None] = print) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="500,2000,5000")
    parser.add_argument("--delay-seconds", type=float, default=300.0, help="CloudTrail -> EventBridge delay")
    parser.add_argument(
        "--history-lags", default="0,5,15", help="minutes the event history (LookupEvents) lags EventBridge"
    )
    parser.add_argument("--seed", type=int, default=19)
    args = parser.parse_args(argv)
    for index, lag in enumerate(float(minutes) * 60 for minutes in args.history_lags.split(",")):
        rows = []
        for size in (int(s) for s in args.sizes.split(",")):
            only = measure(size, "scheduled", args.delay_seconds, False, args.seed, lag)
            rows.append((size, "hourly sweep only:-", only))
            for reading in READINGS:
                measured = measure(size, reading, args.delay_seconds, True, args.seed, lag)
                rows.append((size, f"with events:{reading}", measured))
        emit(("\n" if index else "") + table(rows, args.delay_seconds, lag))


if __name__ == "__main__":
    main()
