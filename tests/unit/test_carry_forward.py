"""The carry-forward decision (console_mfa.carry_forward), pure: held results, ListUsers, CloudTrail's changes."""

from datetime import datetime, timedelta, timezone

from console_mfa.carry_forward import (
    COVERAGE_MARGIN,
    PROPAGATION_MARGIN,
    ListedUser,
    coverage_start,
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
    verdict = decide(facts, policy, recorded or _recently())
    return {BOB.user_id: HeldResult(verdict.compliance_type.value, verdict.annotation, recorded or _recently())}


def _bob(devices=(), from_report=False, created=NOW - timedelta(days=400)):
    return UserFacts(BOB.user_name, BOB.user_id, BOB.arn, created, tuple(devices), from_report)


def test_an_unchanged_result_inside_the_coverage_is_carried():
    held = _held(_bob((MfaDevice("arn:aws:iam::123456789012:mfa/bob"),)))
    start = coverage_start(held, [BOB], NOW, Policy())
    plan = plan_carry_forward(held, [BOB], {}, start, NOW, Policy())
    assert [f.user_id for f in plan.carried] == [BOB.user_id] and plan.check_live == []


def test_the_coverage_starts_a_margin_before_the_oldest_carriable_result():
    held = _held(_bob())
    assert coverage_start(held, [BOB], NOW, Policy()) == held[BOB.user_id].recorded - COVERAGE_MARGIN


def test_a_result_recorded_before_the_searched_coverage_is_not_carried():
    held = _held(_bob())
    late_start = held[BOB.user_id].recorded
    plan = plan_carry_forward(held, [BOB], {}, late_start, NOW, Policy())
    assert plan.why == {BOB.user_id: "outside CloudTrail's coverage"}


def test_a_change_just_before_the_recording_within_the_margin_counts():
    held = _held(_bob())
    changes = {"bob": held[BOB.user_id].recorded - COVERAGE_MARGIN + timedelta(seconds=1)}
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


def test_an_ordering_timestamp_after_the_recording_is_not_trusted_and_the_recorded_time_less_the_margin_counts():
    recorded = _recently()
    held = _held_ordered(recorded + timedelta(hours=1), recorded)
    changes = {"bob": recorded - timedelta(minutes=10)}
    assert coverage_start(held, [BOB], NOW, Policy()) == recorded - COVERAGE_MARGIN
    plan = plan_carry_forward(held, [BOB], changes, coverage_start(held, [BOB], NOW, Policy()), NOW, Policy())
    assert plan.why == {BOB.user_id: "changed"}
