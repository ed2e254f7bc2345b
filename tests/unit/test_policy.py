"""Rule parameters: every bad value is refused with a message naming the parameter."""

import pytest
from console_mfa.exceptions import InvalidParameterError
from console_mfa.facts import SELECTABLE_MFA_TYPES, MfaType
from console_mfa.policy import parse_rule_parameters


def test_defaults_when_no_parameters():
    policy = parse_rule_parameters({})
    assert policy.grace_period_days == 0
    assert policy.allowed_mfa_types == SELECTABLE_MFA_TYPES
    assert policy.exempt_users == frozenset()


def test_blank_values_count_as_not_set():
    policy = parse_rule_parameters({"ExemptUsers": "", "GracePeriodDays": " ", "AllowedMfaTypes": ""})
    assert policy == parse_rule_parameters({})


def test_values_are_trimmed_and_case_folded():
    policy = parse_rule_parameters({"AllowedMfaTypes": " FIDO , Hardware ", "GracePeriodDays": " 14 "})
    assert policy.allowed_mfa_types == {MfaType.FIDO, MfaType.HARDWARE}
    assert policy.grace_period_days == 14


def test_rdklib_parameters_are_handed_on_as_validated():
    policy = parse_rule_parameters(
        {"ExecutionRoleName": " config-rule-reader ", "ExecutionRoleRegion": "us-east-1", "AssumeRoleMode": " False "}
    )
    assert dict(policy.role_parameters) == {
        "ExecutionRoleName": "config-rule-reader",
        "ExecutionRoleRegion": "us-east-1",
        "AssumeRoleMode": "false",
    }


@pytest.mark.parametrize(
    ("item", "user_ids", "arns", "names"),
    [
        ("AIDAEXAMPLEUSERID0001", {"AIDAEXAMPLEUSERID0001"}, set(), set()),
        ("arn:aws:iam::123456789012:user/ops/Bob", set(), {"arn:aws:iam::123456789012:user/ops/bob"}, set()),
        ("Bob", set(), set(), {"bob"}),
        ("aidaexampleuserid0001", set(), set(), {"aidaexampleuserid0001"}),  # not UserId-shaped: a name
    ],
)
def test_each_exempt_item_is_read_by_its_form(item, user_ids, arns, names):
    policy = parse_rule_parameters({"ExemptUsers": item})
    assert (policy.exempt_user_ids, policy.exempt_arns, policy.exempt_names) == (user_ids, arns, names)


BAD = [
    ({"GracePeriod": "7"}, "GracePeriod", "unknown parameter"),
    ({"GracePeriodDays": "-1"}, "GracePeriodDays", "whole number from 0 to 365"),
    ({"GracePeriodDays": "seven"}, "GracePeriodDays", "whole number"),
    ({"GracePeriodDays": "1.5"}, "GracePeriodDays", "whole number"),
    ({"GracePeriodDays": "366"}, "GracePeriodDays", "0 to 365"),
    ({"GracePeriodDays": "٣"}, "GracePeriodDays", "whole number"),
    ({"GracePeriodDays": 7}, "GracePeriodDays", "must be a string"),
    ({"AllowedMfaTypes": "sms"}, "AllowedMfaTypes", "fido, hardware, virtual"),
    ({"AllowedMfaTypes": "fido,,virtual"}, "AllowedMfaTypes", "empty item"),
    ({"AllowedMfaTypes": "fido,"}, "AllowedMfaTypes", "empty item"),
    ({"ExemptUsers": "alice,,bob"}, "ExemptUsers", "empty item"),
    ({"ExemptUsers": "bad name!"}, "ExemptUsers", "not an IAM user name"),
    ({"ExemptUsers": "u" * 65}, "ExemptUsers", "not an IAM user name"),
    ({"ExemptUsers": "bo\nb"}, "ExemptUsers", "not an IAM user name"),
    ({"GracePeriodDays": "9" * 5000}, "GracePeriodDays", "whole number from 0 to 365"),
    ({"ExecutionRoleName": "bad role!"}, "ExecutionRoleName", "role name"),
    ({"ExecutionRoleName": "reader\nx"}, "ExecutionRoleName", "role name"),
    ({"ExecutionRoleRegion": "mars"}, "ExecutionRoleRegion", "Region"),
    ({"AssumeRoleMode": "maybe"}, "AssumeRoleMode", "true or false"),
]


@pytest.mark.parametrize("parameters, name, message", BAD, ids=[f"{b[1]}={list(b[0].values())[0]!r}" for b in BAD])
def test_bad_parameter_is_refused_with_its_name(parameters, name, message):
    with pytest.raises(InvalidParameterError) as raised:
        parse_rule_parameters(parameters)
    assert raised.value.parameter == name
    assert name in str(raised.value)
    assert message in str(raised.value)
