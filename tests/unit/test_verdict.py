"""The verdict for one user: one row per case of the README's table."""

from datetime import datetime, timedelta, timezone

import pytest
from console_mfa.facts import MfaDevice, UserFacts
from console_mfa.policy import parse_rule_parameters
from console_mfa.verdict import ANNOTATION_LIMIT, ComplianceType, Reason, decide

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
ACCOUNT = "123456789012"
VIRTUAL = f"arn:aws:iam::{ACCOUNT}:mfa/bob"
FIDO = f"arn:aws:iam::{ACCOUNT}:u2f/user/bob/fidosecuritykey1-ABCDEF"
SMS = f"arn:aws:iam::{ACCOUNT}:sms-mfa/bob"
HARDWARE = "GAKT12345678"


def user(password_age_days=None, *serials, name="bob", user_id="AIDAEXAMPLEUSERID0001"):
    created = None if password_age_days is None else NOW - timedelta(days=password_age_days)
    return UserFacts(
        user_name=name,
        user_id=user_id,
        arn=f"arn:aws:iam::{ACCOUNT}:user/{name}",
        login_profile_created=created,
        mfa_devices=tuple(MfaDevice(serial) for serial in serials),
    )


CASES = [
    # (case, user, rule parameters, expected result, expected reason, annotation must contain)
    ("no console password", user(None), {}, "NOT_APPLICABLE", Reason.NO_CONSOLE_PASSWORD, "No console password"),
    (
        "no console password, has MFA",
        user(None, VIRTUAL),
        {},
        "NOT_APPLICABLE",
        Reason.NO_CONSOLE_PASSWORD,
        "No console password",
    ),
    ("password and virtual MFA", user(100, VIRTUAL), {}, "COMPLIANT", Reason.MFA_PRESENT, "virtual"),
    ("password and hardware TOTP", user(100, HARDWARE), {}, "COMPLIANT", Reason.MFA_PRESENT, "hardware"),
    ("password and FIDO key", user(100, FIDO), {}, "COMPLIANT", Reason.MFA_PRESENT, "fido"),
    ("password and no MFA", user(100), {}, "NON_COMPLIANT", Reason.NO_ALLOWED_MFA, "found: none"),
    ("password and SMS MFA only", user(100, SMS), {}, "NON_COMPLIANT", Reason.NO_ALLOWED_MFA, "found: sms"),
    ("password, SMS and FIDO", user(100, SMS, FIDO), {}, "COMPLIANT", Reason.MFA_PRESENT, "fido"),
    (
        "unrecognised ARN device is not MFA",
        user(100, f"arn:aws:iam::{ACCOUNT}:thing/x"),
        {},
        "NON_COMPLIANT",
        Reason.NO_ALLOWED_MFA,
        "unrecognised",
    ),
    (
        "FIDO only allowed, virtual found",
        user(100, VIRTUAL),
        {"AllowedMfaTypes": "fido"},
        "NON_COMPLIANT",
        Reason.NO_ALLOWED_MFA,
        "allowed: fido",
    ),
    (
        "FIDO only allowed, FIDO found",
        user(100, VIRTUAL, FIDO),
        {"AllowedMfaTypes": "fido"},
        "COMPLIANT",
        Reason.MFA_PRESENT,
        "fido",
    ),
    (
        "hardware or FIDO allowed, hardware found",
        user(100, HARDWARE),
        {"AllowedMfaTypes": "hardware,fido"},
        "COMPLIANT",
        Reason.MFA_PRESENT,
        "hardware",
    ),
    (
        "inside grace period",
        user(
            3,
        ),
        {"GracePeriodDays": "7"},
        "COMPLIANT",
        Reason.GRACE_PERIOD,
        "ends 2026-12-02 12:00 UTC",
    ),
    ("grace period over", user(8), {"GracePeriodDays": "7"}, "NON_COMPLIANT", Reason.NO_ALLOWED_MFA, "found: none"),
    (
        "grace period ends exactly now",
        user(7),
        {"GracePeriodDays": "7"},
        "NON_COMPLIANT",
        Reason.NO_ALLOWED_MFA,
        "found: none",
    ),
    ("grace period zero (default)", user(0), {}, "NON_COMPLIANT", Reason.NO_ALLOWED_MFA, "found: none"),
    (
        "grace period with only SMS",
        user(1, SMS),
        {"GracePeriodDays": "7"},
        "COMPLIANT",
        Reason.GRACE_PERIOD,
        "found: sms",
    ),
    ("exempt by name", user(100), {"ExemptUsers": "alice,bob"}, "NOT_APPLICABLE", Reason.EXEMPT, "ExemptUsers"),
    (
        "exempt by name, other case",
        user(100, name="Bob"),
        {"ExemptUsers": "BOB"},
        "NOT_APPLICABLE",
        Reason.EXEMPT,
        "ExemptUsers",
    ),
    (
        "exempt by UserId",
        user(100),
        {"ExemptUsers": "AIDAEXAMPLEUSERID0001"},
        "NOT_APPLICABLE",
        Reason.EXEMPT,
        "ExemptUsers",
    ),
    (
        "exempt by ARN",
        user(100),
        {"ExemptUsers": f"arn:aws:iam::{ACCOUNT}:user/bob"},
        "NOT_APPLICABLE",
        Reason.EXEMPT,
        "ExemptUsers",
    ),
    ("other users exempt", user(100), {"ExemptUsers": "alice"}, "NON_COMPLIANT", Reason.NO_ALLOWED_MFA, "found: none"),
]


@pytest.mark.parametrize(
    "case, facts, parameters, expected, reason, annotation_part", CASES, ids=[case[0] for case in CASES]
)
def test_verdict(case, facts, parameters, expected, reason, annotation_part):
    verdict = decide(facts, parse_rule_parameters(parameters), NOW)
    assert verdict.compliance_type == ComplianceType(expected)
    assert verdict.reason == reason
    assert annotation_part in verdict.annotation
    assert len(verdict.annotation) <= ANNOTATION_LIMIT


def test_non_compliant_annotation_says_what_to_do():
    annotation = decide(user(100, SMS), parse_rule_parameters({}), NOW).annotation
    assert "allowed: fido, hardware, virtual" in annotation
    assert "Enable an allowed MFA device" in annotation


def test_annotation_fits_for_64_character_name_and_8_devices():
    long_name = "u" * 64
    serials = [f"arn:aws:iam::{ACCOUNT}:u2f/user/{long_name}/fidosecuritykey{i}-{'X' * 40}" for i in range(4)]
    serials += [f"arn:aws:iam::{ACCOUNT}:sms-mfa/{long_name}{i}" for i in range(2)]
    serials += [f"arn:aws:iam::{ACCOUNT}:thing/{long_name}{i}" for i in range(2)]
    for parameters in ({}, {"AllowedMfaTypes": "virtual"}, {"AllowedMfaTypes": "virtual", "GracePeriodDays": "365"}):
        facts = user(1, *serials, name=long_name)
        assert len(decide(facts, parse_rule_parameters(parameters), NOW).annotation) <= ANNOTATION_LIMIT


def test_one_allowed_device_among_eight_is_enough():
    serials = [SMS] * 7 + [HARDWARE]
    assert decide(user(100, *serials), parse_rule_parameters({}), NOW).compliance_type == ComplianceType.COMPLIANT


def test_unverified_device_counts_only_when_every_type_is_allowed():
    from console_mfa.facts import MfaType

    facts = UserFacts(
        "bob",
        "AIDAEXAMPLEUSERID0001",
        f"arn:aws:iam::{ACCOUNT}:user/bob",
        NOW - timedelta(days=100),
        (MfaDevice("(credential report)", MfaType.UNVERIFIED),),
    )
    assert decide(facts, parse_rule_parameters({}), NOW).compliance_type == ComplianceType.COMPLIANT
    restricted = parse_rule_parameters({"AllowedMfaTypes": "fido,virtual"})
    assert decide(facts, restricted, NOW).compliance_type == ComplianceType.NON_COMPLIANT
