"""`mfa-audit demo --walkthrough`: one user through enforcement's whole path, day by day, and its self-check.

The walk-through runs the real rule handler and the real enforcement function in an emulated account;
each test reads what one step observed. The last tests break a step and see the self-check name it.
"""

import functools
import os
from datetime import timedelta

import pytest

from mfa_audit.cli import main
from mfa_audit.emulation import walkthrough
from mfa_audit.emulation.walkthrough import GRACE_PERIOD_DAYS, NOTICE_DAY, USER_NAME, run_walkthrough

GROUP = "iam-user-console-mfa-ForceMfa"
STEPS = [
    "new console user",
    "in grace",
    "notice",
    "after the notice",
    "grace ends",
    "enforced",
    "ForceMfa policy",
    "enables MFA",
    "COMPLIANT",
    "released",
    "held back",
    "access keys",
    "kill switch",
]


@pytest.fixture(scope="module")
def walk():
    return run_walkthrough()


def test_every_step_runs_in_order_and_sees_what_it_expects(walk):
    assert walk.failure is None
    assert [step.name for step in walk.steps] == STEPS
    assert walk.lines[-1].startswith(f"Walk-through complete: {USER_NAME} is COMPLIANT")


def test_a_new_console_user_is_compliant_in_grace_and_the_annotation_names_the_day_enforcement_starts(walk):
    step = walk.step("new console user")
    ends = step.saw["grace_ends"]
    assert step.saw["held"]["ComplianceType"] == "COMPLIANT"
    assert f"ends {ends:%Y-%m-%d %H:%M} UTC. MFA is enforced from then" in step.saw["held"]["Annotation"]
    assert f"{ends:%Y-%m-%d %H:%M}" in step.lines[0]


def test_every_day_of_the_grace_period_is_compliant(walk):
    days = {**walk.step("in grace").saw["held_by_day"], **walk.step("after the notice").saw["held_by_day"]}
    assert sorted(days) == [day for day in range(1, GRACE_PERIOD_DAYS) if day != NOTICE_DAY]
    assert set(days.values()) == {"COMPLIANT"}


def test_the_user_is_emailed_when_enforcement_starts_and_7_3_and_1_days_before(walk):
    ends = walk.step("new console user").saw["grace_ends"]
    (first,) = walk.step("new console user").saw["emails"]
    assert first["Subject"] == f"Set up MFA for AWS account 123456789012 by {ends:%Y-%m-%d} (reminder: 14 days left)"
    assert "access keys" in first["Body"] and "enforcement-user-guide" in first["Body"]
    (message,) = walk.step("notice").saw["messages"]
    assert message["Subject"].endswith("(reminder: 7 days left)")
    later = walk.step("after the notice").saw["emailed"]
    assert {day: subject[-20:] for day, subject in later.items()} == {
        GRACE_PERIOD_DAYS - 3: "minder: 3 days left)",
        GRACE_PERIOD_DAYS - 1: "eminder: 1 day left)",
    }
    assert len(walk.step("COMPLIANT").saw["notices"]) == 4  # every e-mail of the whole walk-through


def test_when_the_grace_ends_the_sweep_records_non_compliant(walk):
    step = walk.step("grace ends")
    assert step.first_day == GRACE_PERIOD_DAYS
    assert step.saw["held"]["ComplianceType"] == "NON_COMPLIANT"


def test_configs_remediation_puts_the_user_into_the_force_mfa_group_and_tells_the_operators(walk):
    step = walk.step("enforced")
    assert step.saw["result"]["outcome"] == "enforced"
    assert step.saw["in_group"] is True
    assert [m["Subject"] for m in step.saw["messages"]] == [f"MFA enforced: {USER_NAME} in 123456789012"]
    assert f"remove-user-from-group --group-name {GROUP} --user-name {USER_NAME}" in step.saw["messages"][0]["Message"]


def test_each_enforcement_was_logged_by_the_function_as_one_json_line(walk):
    added = [line for line in walk.logs if line.get("step") == "added_to_group"]
    # new-hire by Config's remediation, old-timer by the next day's daily run.
    assert [(line["userName"], line["group"]) for line in added] == [(USER_NAME, GROUP), ("old-timer", GROUP)]


def test_the_force_mfa_policy_denies_other_work_and_allows_setting_up_mfa(walk):
    assert walk.step("ForceMfa policy").saw["decisions"] == {
        "s3:ListAllMyBuckets": "deny",
        "iam:CreateAccessKey": "deny",
        "iam:CreateVirtualMFADevice": "allow",
        "iam:EnableMFADevice": "allow",
    }


def test_the_user_enables_a_virtual_device(walk):
    assert walk.step("enables MFA").saw["devices"] == [f"arn:aws:iam::123456789012:mfa/{USER_NAME}-phone"]


def test_the_next_sweep_is_compliant_and_a_late_remediation_leaves_the_user_alone(walk):
    step = walk.step("COMPLIANT")
    assert step.saw["held"]["ComplianceType"] == "COMPLIANT"
    assert step.saw["held"]["Annotation"].startswith("Console password with MFA: virtual.")
    assert step.saw["late_remediation"]["outcome"] == "not_non_compliant"
    assert step.saw["with_mfa"] != "deny"


def test_the_daily_run_takes_the_compliant_user_out_of_the_group_and_tells_the_operators(walk):
    step = walk.step("released")
    assert step.saw["in_group"] is False
    (digest,) = step.saw["digest"]
    assert f"{USER_NAME} (AIDA" in digest["Message"] and "access keys work again" in digest["Message"]


def test_an_existing_user_gets_the_same_14_days_from_the_start_of_enforcement(walk):
    ends = walk.step("new console user").saw["grace_ends"]
    (email,) = walk.step("new console user").saw["existing_user_emails"]
    assert f"by {ends:%Y-%m-%d}" in email["Subject"]  # its password is 400 days old


def test_an_existing_user_held_back_by_the_daily_limit_is_enforced_by_the_next_daily_run(walk):
    step = walk.step("held back")
    assert "held back by MaxEnforcementsPerDay" in step.saw["digest"] and "old-timer (" in step.saw["digest"]
    assert step.saw["in_group"] is True


def test_a_user_whose_access_keys_are_in_use_is_held_back_and_told(walk):
    step = walk.step("access keys")
    assert step.saw["in_group"] is False
    (told,) = step.saw["told"]
    assert "access keys used in the last 30 days" in told["Body"]


def test_the_kill_switch_pauses_a_remediation_and_resume_restores_the_checks(walk):
    step = walk.step("kill switch")
    assert (step.saw["paused"]["outcome"], step.saw["resumed"]["outcome"]) == ("paused", "access_keys_in_use")


def test_each_line_carries_the_emulated_date_of_its_step(walk):
    start = walk.step("new console user").saw["grace_ends"] - timedelta(days=GRACE_PERIOD_DAYS)
    (notice_line, *_) = walk.step("notice").lines
    assert (
        notice_line.startswith(f"day {NOTICE_DAY}") and f"{start + timedelta(days=NOTICE_DAY):%Y-%m-%d}" in notice_line
    )


def test_the_walkthrough_leaves_no_emulated_settings_behind(walk):
    assert "FORCE_MFA_GROUP" not in os.environ and "LEDGER_TABLE" not in os.environ


# --- the command ---


def test_demo_walkthrough_exits_0_and_prints_each_step(walk, monkeypatch, capsys):
    # The module's walk-through, as the command would play it again (the walk is the same each time).
    monkeypatch.setattr(walkthrough, "run_walkthrough", lambda: walk)
    assert main(["demo", "--walkthrough"]) == 0
    printed = capsys.readouterr()
    assert "EMULATED AWS ACCOUNT" in printed.err
    for text in (
        "Sweep -> COMPLIANT",
        "daily notice",
        "Sweep -> NON_COMPLIANT",
        f"is in {GROUP}",
        "Walk-through complete",
    ):
        assert text in printed.out


def test_demo_walkthrough_refuses_flags_that_would_be_ignored(capsys):
    assert main(["demo", "--walkthrough", "--format", "json"]) == 2
    assert "--format" in capsys.readouterr().err


# --- the self-check ---


def turn_enforcement_off_before(step_name):
    def before_step(name, config):
        if name == step_name:
            config.rule_parameters["Enforcement"] = "off"

    return before_step


def test_self_check_names_the_step_that_fails_when_enforcement_is_turned_off_before_the_remediation():
    walk = run_walkthrough(before_step=turn_enforcement_off_before("enforced"))
    assert walk.failure is not None
    assert walk.failure.step == "enforced" and walk.failure.day == GRACE_PERIOD_DAYS
    assert "enforcement_off" in walk.failure.saw and f"in {GROUP}: False" in walk.failure.saw
    assert [step.name for step in walk.steps] == STEPS[: STEPS.index("enforced")]
    assert not walk.lines[-1].startswith("Walk-through complete")


def test_self_check_names_the_first_step_when_enforcement_is_off_from_the_start():
    walk = run_walkthrough(before_step=turn_enforcement_off_before("new console user"))
    assert walk.failure.step == "new console user"
    assert "MFA is enforced from then" in walk.failure.expected
    assert walk.steps == []


def test_demo_walkthrough_exits_1_naming_the_step_that_failed(monkeypatch, capsys):
    # Broken at the first step, so that the command's test is quick; the test above breaks a later one.
    broken = functools.partial(walkthrough.run_walkthrough, before_step=turn_enforcement_off_before("new console user"))
    monkeypatch.setattr(walkthrough, "run_walkthrough", broken)
    assert main(["demo", "--walkthrough"]) == 1
    printed = capsys.readouterr()
    assert "walk-through self-check failed at step 'new console user' (day 0)" in printed.err
    assert "Walk-through complete" not in printed.out
