"""What the rule says about enforcement, and whom the remediation may act on: pure, one case per row."""

from datetime import datetime, timedelta, timezone

import pytest
from console_mfa.enforcement import Outcome, assess, notice_due
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
        ("only SMS", user(30, (MfaDevice("arn:aws:iam::123456789012:sms-mfa/bob"),)), {}, True, None),
        ("in grace", user(3), {}, False, Outcome.NOT_NON_COMPLIANT),
        ("exempt", user(30), {"ExemptUsers": "bob"}, False, Outcome.NOT_NON_COMPLIANT),
        ("no console password", user(None), {}, False, Outcome.NOT_NON_COMPLIANT),
        ("deleted", None, {}, False, Outcome.USER_GONE),
        ("deleted mid-check", MissingUser("AIDAEXAMPLE000000001", "bob", "gone"), {}, False, Outcome.USER_GONE),
        ("enforcement off", user(30), {"Enforcement": "off"}, False, Outcome.ENFORCEMENT_OFF),
    ],
)
def test_remediation_acts_only_on_a_user_non_compliant_now(case, facts, parameters, act, outcome):
    assessment = assess(facts, policy(**parameters), NOW)
    assert (assessment.act, assessment.outcome) == (act, outcome), case


@pytest.mark.parametrize(
    ("case", "facts", "notice_days", "due"),
    [
        ("grace ends in 4 days, notice 7", user(10), 7, True),
        ("grace ends in 4 days, notice 3", user(10), 3, False),
        ("grace ends in 13 days", user(1), 7, False),
        ("grace over", user(30), 7, False),
        ("has MFA", user(10, (MfaDevice("GAKT1"),)), 7, False),
    ],
)
def test_notice_is_due_for_users_in_grace_that_ends_within_notice_days(case, facts, notice_days, due):
    assert (notice_due(facts, policy(), NOW, notice_days) is not None) == due, case
