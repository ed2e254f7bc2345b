"""What the rule says about enforcement, and whom the remediation may act on: pure, one case per row."""

from datetime import datetime, timedelta, timezone

import pytest
from console_mfa.enforcement import Outcome, assess, enforcement_grace_end, notice_stage
from console_mfa.facts import MfaDevice, MissingUser, UserFacts
from console_mfa.policy import Enforcement, parse_rule_parameters
from console_mfa.verdict import ANNOTATION_LIMIT, decide, parse_annotation

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


def user(password_age_days=None, devices=(), name="bob"):
    created = None if password_age_days is None else NOW - timedelta(days=password_age_days)
    return UserFacts(name, "AIDAEXAMPLE000000001", f"arn:aws:iam::123456789012:user/{name}", created, tuple(devices))


def policy(**parameters):
    return parse_rule_parameters({"GracePeriodDays": "14", "Enforcement": "automatic", **parameters})


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("automatic", "ends 2026-06-05 12:00 UTC. MFA is enforced from then (ForceMfa group)."),
        ("manual", "ends 2026-06-05 12:00 UTC. From then an operator may enforce MFA (ForceMfa group)."),
    ],
)
def test_grace_annotation_names_the_day_enforcement_starts(mode, expected):
    verdict = decide(user(10), policy(Enforcement=mode), NOW)
    assert expected in verdict.annotation
    assert parse_annotation(verdict.annotation).text.endswith("by then.")


def test_grace_annotation_says_nothing_of_enforcement_when_it_is_off():
    verdict = decide(user(10), policy(Enforcement="off"), NOW)
    assert "enforce" not in verdict.annotation.lower()


def test_longest_grace_annotation_with_enforcement_keeps_the_day_within_configs_limit():
    odd = tuple(
        MfaDevice(s)
        for s in (
            "arn:aws:iam::123456789012:sms-mfa/bob",
            "arn:aws:iam::123456789012:weird/x",
            "GAKT1",
            "arn:aws:iam::123456789012:mfa/bob",
        )
    )
    verdict = decide(user(10, odd), policy(Enforcement="manual", AllowedMfaTypes="fido"), NOW)
    assert len(verdict.annotation) <= ANNOTATION_LIMIT
    assert "2026-06-05 12:00 UTC. From then an operator may enforce MFA" in verdict.annotation


def test_enforcement_parameter_is_validated():
    from console_mfa.exceptions import InvalidParameterError

    assert parse_rule_parameters({}).enforcement is Enforcement.OFF
    assert parse_rule_parameters({"Enforcement": " Automatic "}).enforcement is Enforcement.AUTOMATIC
    with pytest.raises(InvalidParameterError, match="Enforcement"):
        parse_rule_parameters({"Enforcement": "on"})


LONG_AGO = NOW - timedelta(days=365)


@pytest.mark.parametrize(
    ("case", "facts", "parameters", "act", "outcome"),
    [
        ("non-compliant now", user(30), {}, True, None),
        (
            "allowed device",
            user(30, (MfaDevice("arn:aws:iam::123456789012:mfa/bob"),)),
            {},
            False,
            Outcome.NOT_NON_COMPLIANT,
        ),
        (
            "only SMS: a device of a kind not allowed",
            user(30, (MfaDevice("arn:aws:iam::123456789012:sms-mfa/bob"),)),
            {},
            False,
            Outcome.MFA_DEVICE_NOT_ALLOWED,
        ),
        ("in the password's grace", user(3), {}, False, Outcome.IN_GRACE),
        ("exempt", user(30), {"ExemptUsers": "bob"}, False, Outcome.NOT_NON_COMPLIANT),
        ("no console password", user(None), {}, False, Outcome.NOT_NON_COMPLIANT),
        ("deleted", None, {}, False, Outcome.USER_GONE),
        ("deleted mid-check", MissingUser("AIDAEXAMPLE000000001", "bob", "gone"), {}, False, Outcome.USER_GONE),
        ("enforcement off", user(30), {"Enforcement": "off"}, False, Outcome.ENFORCEMENT_OFF),
    ],
)
def test_remediation_acts_only_on_a_user_whose_enforcement_grace_has_ended(case, facts, parameters, act, outcome):
    assessment = assess(facts, policy(**parameters), NOW, enforcement_started=LONG_AGO)
    assert (assessment.act, assessment.outcome) == (act, outcome), case


@pytest.mark.parametrize(
    ("case", "grace_days", "password_age", "started_days_ago", "ends_in_days"),
    [
        ("old password, enforcement starts now", 14, 400, 0, 14),
        ("no grace period: still 14 days from the start", 0, 400, 0, 14),
        ("a long grace period counts from the start too", 30, 400, 0, 30),
        ("a new password's grace ends later than the start's", 14, 0, 10, 14),
        ("the start's grace ended long ago", 14, 20, 100, -6),
    ],
)
def test_enforcement_grace_ends_at_the_latest_of_the_passwords_and_the_starts(
    case, grace_days, password_age, started_days_ago, ends_in_days
):
    ends = enforcement_grace_end(
        policy(GracePeriodDays=str(grace_days)),
        NOW - timedelta(days=password_age),
        NOW - timedelta(days=started_days_ago),
    )
    assert ends == NOW + timedelta(days=ends_in_days), case


def test_a_re_created_password_is_judged_by_the_first_ones_date():
    recreated = user(1)  # the rule itself calls this user in grace again
    assessment = assess(recreated, policy(), NOW, enforcement_started=LONG_AGO, password_first_seen=LONG_AGO)
    assert assessment.act


@pytest.mark.parametrize(
    ("days_left", "stage"),
    [(30, "start"), (14.5, "start"), (14, "14"), (10, "14"), (7, "7"), (4, "7"), (3, "3"), (0.5, "1"), (0, None)],
)
def test_notice_stage_is_the_start_then_each_reminder(days_left, stage):
    assert notice_stage(NOW + timedelta(days=days_left), NOW) == stage
