"""The carry-forward decision (console_mfa.carry_forward), pure: held results, ListUsers, CloudTrail's changes."""

from datetime import datetime, timedelta, timezone

from console_mfa.carry_forward import (
    CLOUDTRAIL_HISTORY,
    PROPAGATION_MARGIN,
    REPORT_MARGIN,
    ListedUser,
    coverage_start,
    facts_read_from,
    facts_stale_from,
    plan_carry_forward,
)
from console_mfa.config_report import HeldResult, latest_reconfirmation_moment
from console_mfa.facts import MfaDevice, MfaType, UserFacts
from console_mfa.policy import Policy, parse_rule_parameters
from console_mfa.verdict import decide

NOW = datetime(2026, 11, 28, 12, tzinfo=timezone.utc)
BOB = ListedUser("bob", "AIDABOB", "arn:aws:iam::123456789012:user/bob", NOW - timedelta(days=900))


def _recently():
    # After the user's latest re-confirmation moment, so not due.
    return max(latest_reconfirmation_moment(BOB.user_id, NOW, 30), NOW - timedelta(hours=2)) + timedelta(minutes=1)


DEFAULT_POLICY = Policy()


def _held(facts, policy=DEFAULT_POLICY, recorded=None):
    """Held as a sweep that began a minute before the recording sent it (the report's time for report facts)."""
    recorded = recorded or _recently()
    sweep_start = recorded - timedelta(minutes=1)
    ordered = facts_read_from(facts, sweep_start, sweep_start - timedelta(hours=2))
    verdict = decide(facts, policy, recorded)
    return {BOB.user_id: HeldResult(verdict.compliance_type.value, verdict.annotation, recorded, ordered)}


def _bob(devices=(), from_report=False, created=NOW - timedelta(days=400)):
    return UserFacts(BOB.user_name, BOB.user_id, BOB.arn, created, tuple(devices), from_report)


def test_an_unchanged_result_inside_the_coverage_is_carried():
    held = _held(_bob((MfaDevice("arn:aws:iam::123456789012:mfa/bob"),)))
    start = coverage_start(held, [BOB], NOW, Policy())
    plan = plan_carry_forward(held, [BOB], {}, start, NOW, Policy())
    assert [f.user_id for f in plan.carried] == [BOB.user_id] and plan.check_live == []


def test_the_coverage_starts_a_margin_before_the_oldest_carriable_results_read():
    held = _held(_bob())
    assert coverage_start(held, [BOB], NOW, Policy()) == held[BOB.user_id].ordered - PROPAGATION_MARGIN


def test_a_result_recorded_before_the_searched_coverage_is_not_carried():
    held = _held(_bob())
    late_start = held[BOB.user_id].recorded
    plan = plan_carry_forward(held, [BOB], {}, late_start, NOW, Policy())
    assert plan.why == {BOB.user_id: "outside the searched coverage"}


def test_a_change_just_before_the_recording_within_the_margin_counts():
    held = _held(_bob())
    changes = {"bob": held[BOB.user_id].ordered - PROPAGATION_MARGIN + timedelta(seconds=1)}
    plan = plan_carry_forward(held, [BOB], changes, coverage_start(held, [BOB], NOW, Policy()), NOW, Policy())
    assert plan.why == {BOB.user_id: "changed"}


def test_a_change_named_in_another_case_counts():
    held = _held(_bob())
    changes = {"bob": held[BOB.user_id].recorded}
    upper = ListedUser("BOB", BOB.user_id, BOB.arn, BOB.created)
    plan = plan_carry_forward(held, [upper], changes, coverage_start(held, [upper], NOW, Policy()), NOW, Policy())
    assert plan.why == {BOB.user_id: "changed"}


def test_a_new_user_id_under_an_old_name_is_checked_live():
    held = _held(_bob())
    recreated = ListedUser("bob", "AIDANEWBOB", BOB.arn, NOW - timedelta(hours=1))
    plan = plan_carry_forward(held, [recreated], {}, coverage_start(held, [BOB], NOW, Policy()), NOW, Policy())
    assert plan.why == {"AIDANEWBOB": "new"}


def test_report_facts_with_an_unverified_device_are_not_carried_once_not_every_kind_is_allowed():
    exempt = parse_rule_parameters({"ExemptUsers": "bob"})
    facts = _bob((MfaDevice("credential-report", MfaType.UNVERIFIED),), from_report=True)
    held = _held(facts, exempt)
    # Exemption lifted: the unverified device might be SMS.
    plan = plan_carry_forward(held, [BOB], {}, coverage_start(held, [BOB], NOW, Policy()), NOW, Policy())
    assert plan.carried == []


def test_report_facts_whose_bounds_leave_the_grace_period_open_are_not_carried():
    policy = parse_rule_parameters({"GracePeriodDays": "10", "ExemptUsers": "bob"})
    facts = _bob(from_report=True, created=NOW - timedelta(days=9, hours=23))
    held = _held(facts, policy)
    unexempt = parse_rule_parameters({"GracePeriodDays": "10"})
    plan = plan_carry_forward(held, [BOB], {}, coverage_start(held, [BOB], NOW, unexempt), NOW, unexempt)
    assert plan.carried == []


def test_report_facts_of_an_allowed_virtual_device_are_carried():
    facts = _bob((MfaDevice("arn:aws:iam::123456789012:mfa/bob"),), from_report=True)
    held = _held(facts)
    plan = plan_carry_forward(held, [BOB], {}, coverage_start(held, [BOB], NOW, Policy()), NOW, Policy())
    assert [f.user_id for f in plan.carried] == [BOB.user_id]


def _held_ordered(ordered, recorded):
    verdict = decide(_bob(), Policy(), recorded)
    return {BOB.user_id: HeldResult(verdict.compliance_type.value, verdict.annotation, recorded, ordered)}


def test_a_change_ten_minutes_before_the_sweep_that_read_the_facts_is_not_a_change_since():
    sweep_start = _recently()
    held = _held_ordered(sweep_start, sweep_start + timedelta(minutes=1))
    changes = {"bob": sweep_start - timedelta(minutes=10)}
    plan = plan_carry_forward(held, [BOB], changes, coverage_start(held, [BOB], NOW, Policy()), NOW, Policy())
    assert [f.user_id for f in plan.carried] == [BOB.user_id]


def test_a_change_within_the_propagation_margin_before_the_sweep_that_read_the_facts_counts():
    sweep_start = _recently()
    held = _held_ordered(sweep_start, sweep_start + timedelta(minutes=1))
    changes = {"bob": sweep_start - PROPAGATION_MARGIN + timedelta(seconds=1)}
    plan = plan_carry_forward(held, [BOB], changes, coverage_start(held, [BOB], NOW, Policy()), NOW, Policy())
    assert plan.why == {BOB.user_id: "changed"}


def test_an_ordering_timestamp_after_the_recording_is_not_trusted_and_the_user_is_checked_live():
    recorded = _recently()
    held = _held_ordered(recorded + timedelta(hours=1), recorded)
    assert coverage_start(held, [BOB], NOW, Policy()) is None
    plan = plan_carry_forward(held, [BOB], {}, None, NOW, Policy())
    assert plan.why == {BOB.user_id: "no usable OrderingTimestamp"}


def test_a_result_without_an_ordering_timestamp_is_checked_live():
    held = _held_ordered(None, _recently())
    plan = plan_carry_forward(held, [BOB], {}, NOW - timedelta(days=1), NOW, Policy())
    assert plan.why == {BOB.user_id: "no usable OrderingTimestamp"}


# The rule (carry_forward, (b)): each kind of fact counts changes from the earliest moment it could have been stale.


def _recorded_facts(facts, ordered, recorded):
    verdict = decide(facts, Policy(), recorded)
    held = HeldResult(verdict.compliance_type.value, verdict.annotation, recorded, ordered)
    from console_mfa.verdict import parse_annotation

    return held, parse_annotation(verdict.annotation).facts


def test_facts_read_live_count_changes_from_the_read_less_the_propagation_margin():
    sweep_start = _recently()
    ordered = facts_read_from(_bob(), sweep_start, report_generated=None)
    held, record = _recorded_facts(_bob(), ordered, sweep_start + timedelta(minutes=3))
    assert facts_stale_from(held, record) == sweep_start - PROPAGATION_MARGIN


def test_facts_from_the_credential_report_count_changes_from_the_reports_time_not_the_sweeps():
    sweep_start = _recently()
    report_generated = sweep_start - timedelta(hours=3)
    facts = _bob(from_report=True)
    ordered = facts_read_from(facts, sweep_start, report_generated)
    held, record = _recorded_facts(facts, ordered, sweep_start + timedelta(minutes=3))
    assert facts_stale_from(held, record) == report_generated - REPORT_MARGIN - PROPAGATION_MARGIN


def test_a_report_generated_during_the_sweep_still_counts_from_before_the_sweep():
    sweep_start = _recently()
    facts = _bob(from_report=True)
    assert facts_read_from(facts, sweep_start, sweep_start + timedelta(minutes=2)) == sweep_start - REPORT_MARGIN


def test_report_facts_sent_with_the_sweeps_start_as_before_this_rule_are_checked_live():
    sweep_start = _recently()
    held, _ = _recorded_facts(_bob(from_report=True), sweep_start, sweep_start + timedelta(minutes=3))
    plan = plan_carry_forward({BOB.user_id: held}, [BOB], {}, NOW - timedelta(days=1), NOW, Policy())
    assert plan.why == {BOB.user_id: "no usable OrderingTimestamp"}


def test_a_change_between_the_report_and_the_sweep_delivered_after_the_sweep_is_counted():
    # dave: the report at 10:00, a password at 11:35, the sweep at 12:00, CloudTrail's event delivered at 12:05.
    sweep_start = _recently()
    facts = _bob(from_report=True, created=None)
    held, _ = _recorded_facts(facts, facts_read_from(facts, sweep_start, sweep_start - timedelta(hours=2)), sweep_start)
    changes = {"bob": sweep_start - timedelta(minutes=25)}
    held_map = {BOB.user_id: held}
    plan = plan_carry_forward(held_map, [BOB], changes, coverage_start(held_map, [BOB], NOW, Policy()), NOW, Policy())
    assert plan.why == {BOB.user_id: "changed"}


def test_a_result_whose_read_is_past_cloudtrails_history_sends_only_that_user_live():
    other = ListedUser("ann", "AIDAANN", "arn:aws:iam::123456789012:user/ann", NOW - timedelta(days=900))
    recent = _recently()
    old = _held_ordered(NOW - CLOUDTRAIL_HISTORY - timedelta(days=1), recent)
    verdict = decide(_bob(), Policy(), recent)
    held = {**old, other.user_id: HeldResult(verdict.compliance_type.value, verdict.annotation, recent, recent)}
    start = coverage_start(held, [BOB, other], NOW, Policy())
    assert start == recent - PROPAGATION_MARGIN
    plan = plan_carry_forward(held, [BOB, other], {}, start, NOW, Policy())
    assert plan.why == {BOB.user_id: "past CloudTrail's history"}
    assert [f.user_id for f in plan.carried] == [other.user_id]
