"""Exemptions that end: the exemption tag, row by row, and ExemptUsers' path entries."""

from datetime import datetime, timezone

import pytest
from console_mfa.exceptions import InvalidParameterError
from console_mfa.facts import MfaDevice, UserFacts
from console_mfa.policy import parse_rule_parameters
from console_mfa.verdict import (
    ComplianceType,
    FactsRecord,
    Reason,
    active_exemption,
    decide,
    needs_tags,
    parse_annotation,
)

NOW = datetime(2026, 12, 6, 15, 30, tzinfo=timezone.utc)
CREATED = datetime(2025, 1, 1, tzinfo=timezone.utc)
POLICY = parse_rule_parameters({})


def _user(tags=None, devices=(), password=True, arn="arn:aws:iam::123456789012:user/bob", name="bob"):
    return UserFacts(name, "AIDAEXAMPLEUSERID0001", arn, CREATED if password else None, devices, tags=tags)


def _tagged(value, key="mfa-exempt-until", **others):
    return _user(tags=((key, value), *others.items()))


def test_a_day_within_the_limit_exempts_and_names_the_day():
    verdict = decide(_tagged("2027-01-31"), POLICY, NOW)
    assert (verdict.compliance_type, verdict.reason) == (ComplianceType.NOT_APPLICABLE, Reason.EXEMPTION_TAG)
    assert "through 2027-01-31 (UTC)" in verdict.annotation
    assert "mfa-exempt-until" in verdict.annotation


def test_the_last_day_itself_still_exempts_until_its_end():
    last_moment = datetime(2026, 12, 6, 23, 59, 59, tzinfo=timezone.utc)
    assert decide(_tagged("2026-12-06"), POLICY, last_moment).reason is Reason.EXEMPTION_TAG


def test_the_day_after_the_last_day_is_non_compliant_and_says_the_day_passed():
    verdict = decide(_tagged("2026-12-05"), POLICY, NOW)
    assert verdict.compliance_type is ComplianceType.NON_COMPLIANT
    assert "mfa-exempt-until exempts nobody: its last day, 2026-12-05, has passed" in verdict.annotation


def test_a_day_beyond_max_exemption_days_is_not_honoured():
    policy = parse_rule_parameters({"MaxExemptionDays": "30"})
    assert decide(_tagged("2027-01-05"), policy, NOW).reason is Reason.EXEMPTION_TAG  # 30 days ahead
    verdict = decide(_tagged("2027-01-06"), policy, NOW)
    assert verdict.compliance_type is ComplianceType.NON_COMPLIANT
    assert "more than MaxExemptionDays (30) ahead" in verdict.annotation


@pytest.mark.parametrize(
    "value", ["31/12/2026", "2026-12-31T00:00:00Z", "2026-13-01", "2026-02-30", "soon", "2026-1-5", " 2026-12-31"]
)
def test_a_value_that_is_not_a_day_is_not_honoured(value):
    verdict = decide(_tagged(value), POLICY, NOW)
    assert verdict.compliance_type is ComplianceType.NON_COMPLIANT
    assert "its value is not a day written YYYY-MM-DD" in verdict.annotation


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_value_is_not_honoured(value):
    verdict = decide(_tagged(value), POLICY, NOW)
    assert verdict.compliance_type is ComplianceType.NON_COMPLIANT
    assert "its value is empty" in verdict.annotation


def test_the_parameter_naming_another_key_reads_that_key_only():
    policy = parse_rule_parameters({"ExemptionTag": "BreakGlassUntil"})
    assert decide(_tagged("2027-01-01", key="BreakGlassUntil"), policy, NOW).reason is Reason.EXEMPTION_TAG
    assert decide(_tagged("2027-01-01"), policy, NOW).reason is Reason.NO_ALLOWED_MFA
    assert policy.exemption_owner_tag == "BreakGlassUntil-owner"


def test_an_exemption_tag_changes_nothing_for_a_user_with_mfa_or_without_a_password():
    with_mfa = _user(tags=(("mfa-exempt-until", "2027-01-01"),), devices=(MfaDevice("GAKT00000001"),))
    assert decide(with_mfa, POLICY, NOW).reason is Reason.MFA_PRESENT
    no_password = _user(tags=(("mfa-exempt-until", "2027-01-01"),), password=False)
    assert decide(no_password, POLICY, NOW).reason is Reason.NO_CONSOLE_PASSWORD


def test_tags_are_needed_only_for_a_user_otherwise_non_compliant():
    assert needs_tags(_user(), POLICY, NOW)
    assert not needs_tags(_user(devices=(MfaDevice("GAKT00000001"),)), POLICY, NOW)
    assert not needs_tags(_user(password=False), POLICY, NOW)
    assert not needs_tags(_user(tags=()), POLICY, NOW)  # already read
    in_grace = UserFacts("bob", "AIDAEXAMPLEUSERID0001", "arn:aws:iam::123456789012:user/bob", NOW, ())
    assert not needs_tags(in_grace, parse_rule_parameters({"GracePeriodDays": "7"}), NOW)


def test_the_active_exemption_carries_owner_and_reason():
    user = _user(
        tags=(
            ("mfa-exempt-until", "2027-01-31"),
            ("mfa-exempt-owner", "alice@example.com"),
            ("mfa-exempt-reason", "vendor migration"),
        )
    )
    exemption = active_exemption(user, POLICY, NOW)
    assert (str(exemption.last_day), exemption.owner, exemption.reason) == (
        "2027-01-31",
        "alice@example.com",
        "vendor migration",
    )
    assert active_exemption(_tagged("2026-01-01"), POLICY, NOW) is None


@pytest.mark.parametrize("value", ["2027-01-31", "2026-01-01", "", "not a date", None])
def test_the_facts_record_carries_the_tag_state_and_reads_back_to_the_same_verdict(value):
    user = _user(tags=() if value is None else (("mfa-exempt-until", value),))
    verdict = decide(user, POLICY, NOW)
    record = parse_annotation(verdict.annotation).facts
    assert record == FactsRecord.of(user)
    again = record.user_facts(user.user_name, user.user_id, user.arn)
    assert decide(again, POLICY, NOW) == verdict


def test_a_record_read_back_under_another_exemption_tag_gives_another_annotation():
    verdict = decide(_tagged("2027-01-31"), POLICY, NOW)
    record = parse_annotation(verdict.annotation).facts
    other = parse_rule_parameters({"ExemptionTag": "other-until"})
    again = record.user_facts("bob", "AIDAEXAMPLEUSERID0001", "arn:aws:iam::123456789012:user/bob", "other-until")
    assert decide(again, other, NOW).annotation != verdict.annotation


def test_a_record_without_tags_keeps_its_old_form():
    verdict = decide(_user(), POLICY, NOW)
    assert " ex=" not in verdict.annotation
    assert parse_annotation(verdict.annotation).facts.exemption is None


# --- ExemptUsers by path ---


@pytest.mark.parametrize(
    ("entry", "arn", "exempt"),
    [
        ("arn:aws:iam::123456789012:user/breakglass/*", "arn:aws:iam::123456789012:user/breakglass/bob", True),
        ("arn:aws:iam::123456789012:user/breakglass/*", "arn:aws:iam::123456789012:user/breakglass/eu/bob", True),
        ("arn:aws:iam::123456789012:user/breakglass/eu/*", "arn:aws:iam::123456789012:user/breakglass/eu/bob", True),
        ("arn:aws:iam::123456789012:user/breakglass/eu/*", "arn:aws:iam::123456789012:user/breakglass/bob", False),
        ("arn:aws:iam::123456789012:user/breakglass/*", "arn:aws:iam::123456789012:user/breakglass-old/bob", False),
        ("arn:aws:iam::123456789012:user/breakglass/*", "arn:aws:iam::123456789012:user/bob", False),
        ("arn:aws:iam::123456789012:user/breakglass/*", "arn:aws:iam::210987654321:user/breakglass/bob", False),
        ("arn:aws:iam::*:user/breakglass/*", "arn:aws:iam::210987654321:user/breakglass/bob", True),
        ("arn:aws:iam::*:user/breakglass/*", "arn:aws-cn:iam::210987654321:user/breakglass/bob", False),
    ],
    ids=[
        "direct",
        "nested",
        "nested-entry",
        "above-the-nested-entry",
        "look-alike",
        "root-path",
        "other-account",
        "any-account",
        "other-partition",
    ],
)
def test_a_path_entry_exempts_the_users_under_that_path_and_nobody_else(entry, arn, exempt):
    policy = parse_rule_parameters({"ExemptUsers": entry})
    verdict = decide(_user(arn=arn), policy, NOW)
    assert (verdict.reason is Reason.EXEMPT) == exempt


def test_a_path_entry_is_shown_as_given_in_the_parameters():
    entry = "arn:aws:iam::*:user/breakglass/*"
    assert parse_rule_parameters({"ExemptUsers": entry}).as_rule_parameters()["ExemptUsers"] == entry


@pytest.mark.parametrize(
    ("parameters", "name"),
    [
        ({"ExemptUsers": "arn:aws:iam::123456789012:user/*"}, "ExemptUsers"),
        ({"ExemptUsers": "arn:aws:iam::123456789012:user/breakglass*"}, "ExemptUsers"),
        ({"ExemptionTag": "aws:exempt"}, "ExemptionTag"),
        ({"ExemptionTag": "bad\nkey"}, "ExemptionTag"),
        ({"ExemptionTag": "k" * 129}, "ExemptionTag"),
        ({"MaxExemptionDays": "0"}, "MaxExemptionDays"),
        ({"MaxExemptionDays": "366"}, "MaxExemptionDays"),
    ],
)
def test_a_bad_exemption_parameter_is_refused_with_its_name(parameters, name):
    with pytest.raises(InvalidParameterError) as raised:
        parse_rule_parameters(parameters)
    assert raised.value.parameter == name
