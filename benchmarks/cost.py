"""What AWS Config bills: evaluations recorded per day, and the API calls behind them, at 1% daily churn.

For 500, 2,000 and 5,000 users (the sweep benchmark's mix) it plays out one day of hourly sweeps
through the real ``lambda_handler``, in steady state, with 1% of users changing their password or
MFA over the day, and checks after every sweep that what Config holds equals the truth (what a
sweep sends when Config holds nothing). It compares, per day and per month:

* AWS's managed rule swept daily: one evaluation per user per day;
* this rule before it sent only changes, swept daily: one evaluation per user per sweep;
* this rule swept hourly, sending only changes and due re-confirmations (measured).

CloudTrail delivers late: a share of the changes (``--late-share``, 25% by default) shows in the event history
15 to 90 minutes after the call, the rest within 5 minutes, in no order. A sweep cannot know of a change
CloudTrail has not delivered when it starts, so after each sweep a result for a user whose change is still
undelivered is counted apart (``pending``), not as wrong; it must be right after the first sweep past the
delivery, or it counts as wrong then.

Some users carry the exemption tag (``tag_exemptions``): a quarter of those without MFA (exempt), and 2% of
the others (a tag that changes nothing, so it must cost nothing). The tags are read with ListUserTags only
for users who would otherwise be NON_COMPLIANT: at most one call each, counted per sweep.

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
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from console_mfa.facts import MfaType
from console_mfa.verdict import FactsRecord, parse_annotation

from benchmarks.sweep import ACCOUNT_ID, PARAMETERS, seed_mix, use_emulated_account

DAILY_CHURN = 0.01
SWEEPS_PER_DAY = 24
REPORT_REUSE_HOURS = 4  # IAM hands out the same credential report for 4 hours
# The share of changes CloudTrail delivers late, and how late (minutes); the others within PROMPT_MINUTES.
LATE_SHARE = 0.25
LATE_MINUTES = (15.0, 90.0)
PROMPT_MINUTES = 5.0
# AWS Config's price per recorded rule evaluation, per account and Region and month (USD).
PRICE_TIERS = ((100_000, 0.001), (400_000, 0.0008), (float("inf"), 0.0005))
DAYS_PER_MONTH = 30
EXEMPTION_TAG = "mfa-exempt-until"


def _without_allowed_mfa_past_grace(seed: Any) -> bool:
    """Whether a seeded user is NON_COMPLIANT but for an exemption tag (PARAMETERS: 14 days' grace, every kind)."""
    return seed.console_password and seed.devices in ((), ("sms",)) and seed.password_age_days > 14


def tag_exemptions(seeds: list[Any], rng: random.Random, today: datetime) -> list[Any]:
    """Exemption tags on a quarter of the users without MFA, and on 2% of the others (changing nothing there)."""
    until = f"{today + timedelta(days=30):%Y-%m-%d}"
    tagged = []
    for seed in seeds:
        share = 0.25 if _without_allowed_mfa_past_grace(seed) else 0.02
        if rng.random() < share:
            seed = replace(seed, tags=((EXEMPTION_TAG, until), ("mfa-exempt-owner", "secops@example.com")))
        tagged.append(seed)
    return tagged


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
    # After every sweep: what Config holds against a live per-user check.
    checks: list[TruthCheck] = field(default_factory=list)
    # Per sweep: evaluations that repeat the held result unchanged while not due for re-confirmation (the
    # carry-forward's re-records of users it checked live, so that their timestamps move past a change).
    resent_per_sweep: list[int] = field(default_factory=list)
    # Users carrying the exemption tag; of all users, those NON_COMPLIANT but for an exemption tag.
    tagged: int = 0
    not_otherwise_compliant: int = 0
    # Changes CloudTrail delivered late (LATE_MINUTES after the call).
    late_changes: int = 0

    @property
    def wrong_compliance_types(self) -> int:
        """Results, summed over the day's sweeps, whose compliance type differs from a live per-user check."""
        return sum(check.wrong_compliance_types for check in self.checks)

    @property
    def pending(self) -> int:
        return sum(check.pending for check in self.checks)

    @property
    def every_sweep_right(self) -> bool:
        return all(check.right for check in self.checks)

    @property
    def evaluations_per_day(self) -> int:
        return sum(self.evaluations_per_sweep)

    def calls_per_day(self, prefix: str = "") -> int:
        return sum(n for calls in self.calls_per_sweep for op, n in calls.items() if op.startswith(prefix))

    def iam_calls_per_sweep(self) -> tuple[float, int]:
        """Mean and largest IAM calls of one steady-state hourly sweep."""
        per_sweep = [sum(n for op, n in calls.items() if op.startswith("iam:")) for calls in self.calls_per_sweep]
        return sum(per_sweep) / len(per_sweep), max(per_sweep)

    def iam_target(self) -> float:
        """Issue 19's target for one steady-state sweep: 3% of users + 20 IAM calls."""
        return 0.03 * self.size + 20


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def _parse_time(value: Any) -> datetime:
    """A timestamp as the emulated Config keeps it: a datetime, epoch seconds or ISO 8601 text."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _change_one(iam: Any, state: dict[str, Any], rng: random.Random) -> str | None:
    """One user's password or MFA changes, so that its verdict changes: its name, or None when no user is left."""
    from mfa_audit.emulation.account import device_serial

    kinds = ["gains-password", "gains-mfa", "loses-password"]
    rng.shuffle(kinds)
    for kind in kinds:
        if kind == "gains-password" and state["without_password"]:
            name = state["without_password"].pop()
            iam.create_login_profile(UserName=name, Password="Emulated-Passw0rd!")  # noqa: S106 - emulated account
            return name
        if kind == "gains-mfa" and state["without_mfa"]:
            name = state["without_mfa"].pop()
            serial = device_serial("hardware", name, ACCOUNT_ID, 7)
            iam.enable_mfa_device(
                UserName=name, SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
            )
            return name
        if kind == "loses-password" and state["with_password"]:
            name = state["with_password"].pop()
            iam.delete_login_profile(UserName=name)
            return name
    return None


def _live_check(config: Any, clock: Clock) -> dict[str, tuple[str, str]]:
    """What a live per-user check of every user decides now (Config left as it was)."""
    from IAM_USER_CONSOLE_MFA import lambda_handler

    from mfa_audit.emulation.account import environment
    from mfa_audit.emulation.events import LambdaContext, scheduled_event

    kept = (dict(config.results), dict(config.recorded_at), dict(config.result_accounts))
    config.forget_results()
    event = scheduled_event(PARAMETERS)
    event["resultToken"] = "TESTMODE"
    config.put_calls.clear()
    with environment({"SWEEP_STRATEGY": "live"}):
        lambda_handler(event, LambdaContext(), clock=clock)
    decided = {e["ComplianceResourceId"]: (e["ComplianceType"], e["Annotation"]) for e in config.sent}
    config.results, config.recorded_at, config.result_accounts = kept
    return decided


def _record_holds(held: FactsRecord | None, live: FactsRecord | None) -> bool:
    """Whether the facts record Config holds is true of the facts a live check reads.

    A record from a check (``pw=``, ``mfa=``) must equal the live one. A record the bulk sweep settled from
    the credential report states bounds: the profile created at that second or later (and either both or
    neither have a profile), and at least its device kinds, where ``u`` (the report's device of unknown
    kind) stands for one device of any kind.
    """
    if held is None or live is None:
        return held == live
    if not held.from_credential_report:
        return held == live
    if (held.login_profile_created is None) != (live.login_profile_created is None):
        return False
    if held.login_profile_created is not None and held.login_profile_created > live.login_profile_created:
        return False
    known = held.mfa_types - {MfaType.UNVERIFIED}
    return known <= live.mfa_types and (MfaType.UNVERIFIED not in held.mfa_types or bool(live.mfa_types - known))


@dataclass
class TruthCheck:
    """How what Config holds after one sweep differs from a live per-user check of every user."""

    wrong_compliance_types: int = 0
    # Same compliance type, but the annotation's text for people (before the facts record) differs.
    human_text_differs: int = 0
    # The facts record is not true of the live facts (see _record_holds).
    record_untrue: int = 0
    # A user IAM lists that Config holds no result for; a result for a user IAM no longer lists, not NOT_APPLICABLE.
    missing: int = 0
    gone_not_cleared: int = 0
    # Results that differ for users whose change CloudTrail had not delivered when the sweep started: not wrong yet.
    pending: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def right(self) -> bool:
        return not (
            self.wrong_compliance_types
            or self.human_text_differs
            or self.record_untrue
            or self.missing
            or self.gone_not_cleared
        )


def check_against_live(config: Any, clock: Clock, undelivered: frozenset[str] = frozenset()) -> TruthCheck:
    """Compare every result Config holds with a live per-user check (see TruthCheck).

    ``undelivered``: UserIds whose change CloudTrail had not delivered when the sweep started.
    """
    live = _live_check(config, clock)
    holds = {rid: (e["ComplianceType"], e["Annotation"]) for rid, e in config.results.items()}
    check = TruthCheck()
    for rid, (compliance_type, annotation) in live.items():
        held = holds.get(rid)
        if rid in undelivered and held != (compliance_type, annotation):
            check.pending += 1
            continue
        if held is None:
            check.missing += 1
            kind = "missing"
        elif held[0] != compliance_type:
            check.wrong_compliance_types += 1
            kind = "wrong compliance type"
        else:
            held_annotation, live_annotation = parse_annotation(held[1]), parse_annotation(annotation)
            if held_annotation.text != live_annotation.text:
                check.human_text_differs += 1
                kind = "human text differs"
            elif not _record_holds(held_annotation.facts, live_annotation.facts):
                check.record_untrue += 1
                kind = "facts record untrue"
            else:
                continue
        if len(check.examples) < 3:
            check.examples.append(f"{kind}: {rid} holds {held!r}, live {(compliance_type, annotation)!r}")
    for rid in set(holds) - set(live):
        if holds[rid][0] != "NOT_APPLICABLE":
            check.gone_not_cleared += 1
    return check


def simulate_day(
    size: int,
    seed: int,
    changed_per_sweep: float | None = None,
    held_from: str = "live",
    changes_at_the_sweep: bool = False,
    late_share: float = LATE_SHARE,
) -> DayOfSweeps:
    """One day of hourly sweeps; ``changed_per_sweep`` (a fraction of users) replaces the 1% daily churn.

    ``held_from`` is the sweep whose results Config holds at the start: ``live`` (the steady state: within
    ReconfirmDays every result is rewritten by a live re-confirmation) or ``bulk`` (just after a bulk
    sweep, as on the first day or after a fallback: its results settled from the credential report).
    """
    import boto3
    from console_mfa.config_report import latest_reconfirmation_moment, reconfirmation_due
    from console_mfa.policy import DEFAULT_RECONFIRM_DAYS
    from IAM_USER_CONSOLE_MFA import lambda_handler
    from moto import mock_aws

    from mfa_audit.emulation.account import create_user, environment
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
        cloudtrail.clock = clock
        iam = boto3.client("iam")
        seeds = tag_exemptions(seed_mix(size, rng), rng, clock())
        for seed_user in seeds:
            create_user(iam, seed_user)
        state = {
            "without_password": [s.name for s in seeds if not s.console_password],
            "without_mfa": [s.name for s in seeds if s.console_password and not s.devices],
            "with_password": [s.name for s in seeds if s.console_password and s.devices],
        }
        for names in state.values():
            rng.shuffle(names)
        # Older than any result Config holds in steady state (backdated up to ReconfirmDays below).
        cloudtrail.age_history(timedelta(days=DEFAULT_RECONFIRM_DAYS + 1))
        report.generate_now()
        user_ids = {user["UserName"]: user["UserId"] for user in iam.list_users(MaxItems=1000)["Users"]}
        marker = iam.list_users(MaxItems=1000)
        while marker.get("IsTruncated"):
            marker = iam.list_users(MaxItems=1000, Marker=marker["Marker"])
            user_ids.update({user["UserName"]: user["UserId"] for user in marker["Users"]})

        # "before": the sweep of old (bulk above 200 users), sending every result.
        with ApiCallCounter() as counter:
            lambda_handler(scheduled_event(PARAMETERS), LambdaContext(), clock=clock)
        first = DayOfSweeps(size, 0, [], [], len(config.sent), dict(counter.calls))
        first.tagged = sum(1 for s in seeds if s.tags)
        first.not_otherwise_compliant = sum(1 for s in seeds if _without_allowed_mfa_past_grace(s))
        if held_from == "live":
            config.forget_results()
            with environment({"SWEEP_STRATEGY": "live"}):
                lambda_handler(scheduled_event(PARAMETERS), LambdaContext(), clock=clock)
        # Steady state: every result last recorded at its user's latest re-confirmation moment, and sent with an
        # OrderingTimestamp as much earlier as it was (the moment its facts were read moves with it).
        for resource_id, recorded in config.recorded_at.items():
            moved = latest_reconfirmation_moment(resource_id, clock(), DEFAULT_RECONFIRM_DAYS)
            config.recorded_at[resource_id] = moved
            result = config.results[resource_id]
            ordered = result.get("OrderingTimestamp")
            if ordered is not None:
                result["OrderingTimestamp"] = _parse_time(ordered) + (moved - recorded)

        changes_due = size * (DAILY_CHURN if changed_per_sweep is None else changed_per_sweep * SWEEPS_PER_DAY)
        changes_made = late = 0
        # When CloudTrail delivers each user's latest change.
        delivered: dict[str, datetime] = {}
        for hour in range(1, SWEEPS_PER_DAY + 1):
            last_sweep = clock.now
            due_by_now = round(changes_due * hour / SWEEPS_PER_DAY)
            # Each change at its own moment since the last sweep, in CloudTrail too; or all at the sweep's moment,
            # the worst case: every changed user's change then lies within the carry-forward's margin.
            moments = (
                [timedelta(hours=1)] * (due_by_now - changes_made)
                if changes_at_the_sweep
                else sorted(timedelta(seconds=rng.uniform(0, 3600)) for _ in range(due_by_now - changes_made))
            )
            for moment in moments:
                clock.now = last_sweep + moment
                is_late = rng.random() < late_share
                delay = rng.uniform(*LATE_MINUTES) if is_late else rng.uniform(0, PROMPT_MINUTES)
                cloudtrail.delay_of = lambda _name, delay=delay: timedelta(minutes=delay)
                name = _change_one(iam, state, rng)
                cloudtrail.delay_of = None
                if name is None:
                    raise RuntimeError(f"{size} users: no user left to change after {changes_made} changes")
                delivered[user_ids[name]] = cloudtrail.delivered_at(cloudtrail.events[-1])
                changes_made += 1
                late += is_late
            clock.now = last_sweep + timedelta(hours=1)
            if hour % REPORT_REUSE_HOURS == 0:
                report.generate_now()
            config.put_calls.clear()
            held_before = {rid: (e["ComplianceType"], e["Annotation"]) for rid, e in config.results.items()}
            recorded_before = dict(config.recorded_at)
            with ApiCallCounter() as counter:
                lambda_handler(scheduled_event(PARAMETERS), LambdaContext(), clock=clock)
            first.evaluations_per_sweep.append(len(config.sent))
            first.resent_per_sweep.append(
                sum(
                    1
                    for e in config.sent
                    if held_before.get(e["ComplianceResourceId"]) == (e["ComplianceType"], e["Annotation"])
                    and not reconfirmation_due(
                        e["ComplianceResourceId"],
                        recorded_before[e["ComplianceResourceId"]],
                        clock(),
                        DEFAULT_RECONFIRM_DAYS,
                    )
                )
            )
            first.calls_per_sweep.append(dict(counter.calls))
            undelivered = frozenset(user_id for user_id, at in delivered.items() if at > clock())
            first.checks.append(check_against_live(config, clock, undelivered))
        first.changes = changes_made
        first.late_changes = late
        return first


def table(days: list[DayOfSweeps], header: bool = True) -> str:
    """The table's rows for these days, under its two header lines unless ``header`` is false."""
    title = (
        f"{'users':>6} {'changes/day':>11} {'evals/sweep':>11} | {'evaluations per day':^43} | "
        f"{'Config charge per month (USD)':^34} | {'API calls per day':^37} | {'IAM per sweep':^21} | {'wrong':>5} {'right':>5}"
    )
    sub = (
        f"{'':>6} {'':>11} {'(hourly)':>11} | {'managed':>10} {'before':>10} {'hourly':>10} {'re-sent':>8} | "
        f"{'managed':>10} {'before':>10} {'hourly':>10} | {'before':>8} {'hourly':>8} {'IAM':>8} {'CT':>8} | {'mean':>6} {'max':>6} {'target':>7} | {'types':>5} {'':>5}"
    )
    lines = [title, sub, "-" * len(sub)] if header else []
    for day in days:
        iam_mean, iam_max = day.iam_calls_per_sweep()
        mean = day.evaluations_per_day / len(day.evaluations_per_sweep)
        before = day.first_sweep_evaluations
        lines.append(
            f"{day.size:>6} {day.changes:>11} {mean:>11.1f} | {day.size:>10} {before:>10} {day.evaluations_per_day:>10} "
            f"{sum(day.resent_per_sweep):>8} | "
            f"{monthly_charge(day.size):>10.2f} {monthly_charge(before):>10.2f} {monthly_charge(day.evaluations_per_day):>10.2f} | "
            f"{sum(day.first_sweep_calls.values()):>8} {day.calls_per_day():>8} {day.calls_per_day('iam:'):>8} "
            f"{day.calls_per_day('cloudtrail:'):>8} | {iam_mean:>6.1f} {iam_max:>6} {day.iam_target():>7.0f} | "
            f"{day.wrong_compliance_types:>5} {'yes' if day.every_sweep_right else 'NO':>5}"
        )
    return "\n".join(lines)


def exemption_line(day: DayOfSweeps) -> str:
    """The exemption tags' cost: ListUserTags in the first sweep against the users it may be made for, and in a day."""
    first = day.first_sweep_calls.get("iam:ListUserTags", 0)
    return (
        f"{day.size:>6} users, {day.tagged} carrying the exemption tag: iam:ListUserTags {first} in the first sweep, "
        f"for {day.not_otherwise_compliant} users not otherwise compliant (at most 1 each: "
        f"{'yes' if first <= day.not_otherwise_compliant else 'NO'}); {day.calls_per_day('iam:ListUserTags')} in "
        f"the day's {len(day.calls_per_sweep)} hourly sweeps"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,2000,5000")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", type=Path, default=Path("bench-results/cost.json"))
    parser.add_argument(
        "--changed-per-sweep",
        type=float,
        help="fraction of users changed between two sweeps (e.g. 0.01), instead of 1%% churn per day",
    )
    parser.add_argument(
        "--held-from",
        choices=("live", "bulk"),
        default="live",
        help="what Config holds at the start: a live sweep's results (steady state) or a bulk sweep's",
    )
    parser.add_argument(
        "--changes-at-the-sweep",
        action="store_true",
        help="make every change at the moment of the next sweep (worst case), not at a random moment before it",
    )
    parser.add_argument(
        "--late-share",
        type=float,
        default=LATE_SHARE,
        help="share of changes CloudTrail delivers 15 to 90 minutes late (the others within 5 minutes)",
    )
    args = parser.parse_args()
    use_emulated_account()

    churn = (
        f"{DAILY_CHURN:.0%} churn per day"
        if args.changed_per_sweep is None
        else (f"{args.changed_per_sweep:.0%} of users changed per sweep")
    )
    # One table on stdout, each size's row added as soon as it is measured; progress goes to stderr.
    days: list[DayOfSweeps] = []
    for size in (int(s) for s in args.sizes.split(",")):
        print(f"one day of hourly sweeps, {size} users, {churn} ...", file=sys.stderr, flush=True)
        day = simulate_day(
            size, args.seed, args.changed_per_sweep, args.held_from, args.changes_at_the_sweep, args.late_share
        )
        print(table([day], header=not days), flush=True)
        for hour, check in enumerate(day.checks, 1):
            for example in check.examples:
                print(f"  after sweep {hour}: {example}", file=sys.stderr)
        days.append(day)
    print("\nexemption tags:")
    for day in days:
        print(exemption_line(day))
    print(
        f"\n{churn}, each "
        + ("at the moment of the next sweep" if args.changes_at_the_sweep else "at a random moment between sweeps")
        + f"; Config holds a {args.held_from} sweep's results at the start.\n"
        f"CloudTrail delivered {args.late_share:.0%} of the changes {LATE_MINUTES[0]:.0f} to {LATE_MINUTES[1]:.0f} "
        f"minutes after the call, the rest within {PROMPT_MINUTES:.0f}: "
        + ", ".join(f"{day.size} users {day.late_changes} of {day.changes} late, {day.pending} pending" for day in days)
        + " (pending: results, summed over the sweeps, for a change not yet delivered when the sweep began;\n"
        "not counted as wrong, but wrong if still so after the first sweep past its delivery).\n"
        "managed: AWS's managed rule, daily; before: this rule sending every result, daily; hourly: this rule\n"
        "sending only changes and due re-confirmations (ReconfirmDays 30), hourly; re-sent: of those, results\n"
        "sent again unchanged and not due, for users the sweep checked live (so their timestamps move past a\n"
        "change). API calls: before = one daily\n"
        "sweep; hourly = 24 sweeps (IAM and CloudTrail (CT) of those). Charge for this rule alone in the account.\n"
        "IAM per sweep: one steady-state hourly sweep (carry-forward), mean and largest of the day, against\n"
        "issue 19's target of 3% of users + 20. After every sweep, each result Config holds is compared with a\n"
        "live per-user check: wrong types = results (summed over the sweeps) whose compliance type differs;\n"
        "right = also the same text for people, a facts record true of the live facts (equal, or bounds that\n"
        "hold for a record settled from the credential report), no user missing, every gone user NOT_APPLICABLE."
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps([asdict(day) for day in days], indent=2))
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
