"""The annotation's format and its reader (console_mfa.verdict): each reads what the other writes."""

from datetime import datetime, timedelta, timezone

from console_mfa.facts import MfaDevice, MfaType, UserFacts
from console_mfa.policy import Policy, parse_rule_parameters
from console_mfa.verdict import (
    ANNOTATION_LIMIT,
    RECORD_MAX_LENGTH,
    FactsRecord,
    decide,
    human_text,
    parse_annotation,
    verdict_for_missing_user,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from mfa_audit.formats._organization import found_and_allowed
from tests.unit.test_verdict_properties import NOW, policies, users

SMS = "arn:aws:iam::123456789012:sms-mfa/bob"


def _bob(created=NOW - timedelta(days=400), devices=(), from_report=False):
    return UserFacts("bob", "AIDABOB", "arn:aws:iam::123456789012:user/bob", created, devices, from_report)


@settings(max_examples=400, derandomize=True, deadline=None)
@given(st.data(), st.booleans())
def test_the_record_in_any_annotation_gives_back_the_facts_it_was_decided_from(data, from_report):
    user = data.draw(users())
    user = UserFacts(user.user_name, user.user_id, user.arn, user.login_profile_created, user.mfa_devices, from_report)
    policy = data.draw(policies(user))
    verdict = decide(user, policy, NOW)
    facts = parse_annotation(verdict.annotation).facts
    assert facts == FactsRecord.of(user)
    assert facts.mfa_types == {d.mfa_type for d in user.mfa_devices}
    assert facts.from_credential_report is from_report
    if user.login_profile_created is None:
        assert facts.login_profile_created is None
    else:
        assert timedelta(0) <= user.login_profile_created - facts.login_profile_created < timedelta(seconds=1)
    assert len(verdict.annotation) <= ANNOTATION_LIMIT


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.data())
def test_facts_read_back_from_an_annotation_are_decided_the_same_again(data):
    user = data.draw(users())
    policy = data.draw(policies(user))
    verdict = decide(user, policy, NOW)
    again = parse_annotation(verdict.annotation).facts.user_facts(user.user_name, user.user_id, user.arn)
    assert decide(again, policy, NOW) == verdict


def test_a_long_text_is_cut_so_the_record_survives():
    from console_mfa.policy import Enforcement

    kinds = (MfaType.SMS, MfaType.UNRECOGNISED, MfaType.UNVERIFIED, MfaType.HARDWARE, MfaType.VIRTUAL)
    user = _bob(created=NOW - timedelta(days=1), devices=tuple(MfaDevice(k.value, k) for k in kinds))
    policy = Policy(
        grace_period_days=30, allowed_mfa_types=frozenset({MfaType.FIDO}), enforcement=Enforcement.AUTOMATIC
    )
    verdict = decide(user, policy, NOW)
    assert len(verdict.annotation) == ANNOTATION_LIMIT
    assert parse_annotation(verdict.annotation).facts == FactsRecord.of(user)
    # The exemption tag's day (" ex=YYYYMMDD") made it 46; the human text keeps at least 210 characters.
    assert RECORD_MAX_LENGTH < 50


def test_found_and_allowed_are_read_from_a_non_compliant_annotation():
    verdict = decide(_bob(devices=(MfaDevice(SMS),)), parse_rule_parameters({"AllowedMfaTypes": "fido"}), NOW)
    parsed = parse_annotation(verdict.annotation)
    assert (parsed.found, parsed.allowed) == ("sms", "fido")
    assert found_and_allowed(verdict.annotation) == ("sms", "fido")


def test_found_and_allowed_are_dashes_where_the_annotation_names_none():
    verdict = decide(_bob(devices=(MfaDevice("arn:aws:iam::123456789012:mfa/bob"),)), Policy(), NOW)
    assert found_and_allowed(verdict.annotation) == ("-", "-")


def test_an_annotation_without_a_record_has_no_facts_but_still_its_columns():
    old = "Console password but no allowed MFA device (found: none; allowed: fido, hardware, virtual). Enable one."
    parsed = parse_annotation(old)
    assert parsed.facts is None
    assert (parsed.found, parsed.allowed) == ("none", "fido, hardware, virtual")


def test_a_gone_user_annotation_carries_no_facts():
    assert parse_annotation(verdict_for_missing_user("The user no longer exists in IAM.").annotation).facts is None


def test_a_record_from_the_credential_report_is_written_as_lower_bounds():
    user = _bob(devices=(MfaDevice("credential-report", MfaType.UNVERIFIED),), from_report=True)
    annotation = decide(user, Policy(), NOW).annotation
    assert annotation.endswith(f" [v1 pw>={int(user.login_profile_created.timestamp())} mfa>=u]")


def test_a_record_with_an_unknown_letter_is_not_read_as_facts():
    assert parse_annotation("Console password with MFA: virtual. [v1 pw=1767225600 mfa=vq]").facts is None


def test_a_record_mixing_exact_and_bounded_fields_is_not_read_as_facts():
    assert parse_annotation("Console password with MFA: virtual. [v1 pw=1767225600 mfa>=v]").facts is None


def test_the_recorded_time_is_whole_seconds_rounded_down():
    created = datetime(2026, 1, 1, 12, 0, 0, 900000, tzinfo=timezone.utc)
    record = FactsRecord.of(_bob(created=created))
    assert record.login_profile_created == datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.data())
def test_the_human_text_of_any_annotation_has_no_facts_record_and_keeps_the_rest(data):
    user = data.draw(users())
    verdict = decide(user, data.draw(policies(user)), NOW)
    text = human_text(verdict.annotation)
    assert "[v1 " not in text
    assert text.strip() and verdict.annotation.startswith(text)
    assert verdict.annotation[len(text) :] == parse_annotation(verdict.annotation).facts.as_text()


def test_the_human_text_of_an_annotation_without_a_record_is_the_whole_annotation():
    gone = verdict_for_missing_user("The user was deleted. [not a record]")
    assert human_text(gone.annotation) == gone.annotation
