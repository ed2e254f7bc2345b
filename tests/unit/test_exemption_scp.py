"""The service control policy that keeps the exemption tags to named approvers, evaluated as IAM would.

An SCP only filters: a request passes when the SCPs allow it (here AWS's default FullAWSAccess) and none denies it.
"""

import json
from pathlib import Path

import pytest

from mfa_audit.emulation.iam_policy import ALLOW, EXPLICIT_DENY, decision

SCP = json.loads((Path(__file__).resolve().parents[2] / "policies" / "exemption-tags-scp.json").read_text())
FULL_AWS_ACCESS = {"Effect": "Allow", "Action": "*", "Resource": "*"}
STATEMENTS = [FULL_AWS_ACCESS, *SCP["Statement"]]
USER = "arn:aws:iam::123456789012:user/vendor"
APPROVER = "arn:aws:iam::123456789012:role/mfa-exemption-approver"
DEVELOPER = "arn:aws:iam::123456789012:role/developer"


def _tag_user(principal, keys):
    return decision(STATEMENTS, "iam:TagUser", USER, {"aws:PrincipalArn": principal, "aws:RequestTagKeys": keys})


def _untag_user(principal, keys):
    return decision(STATEMENTS, "iam:UntagUser", USER, {"aws:PrincipalArn": principal, "aws:TagKeys": keys})


@pytest.mark.parametrize("key", ["mfa-exempt-until", "mfa-exempt-owner", "mfa-exempt-reason"])
def test_anyone_but_an_approver_is_denied_setting_an_exemption_tag(key):
    assert _tag_user(DEVELOPER, ["team", key]) == EXPLICIT_DENY
    assert _tag_user(APPROVER, ["team", key]) == ALLOW


def test_an_approver_role_of_that_name_in_any_account_may_set_them():
    assert _tag_user("arn:aws:iam::210987654321:role/mfa-exemption-approver", ["mfa-exempt-until"]) == ALLOW


def test_anyone_but_an_approver_is_denied_removing_an_exemption_tag():
    assert _untag_user(DEVELOPER, ["mfa-exempt-until"]) == EXPLICIT_DENY
    assert _untag_user(APPROVER, ["mfa-exempt-until"]) == ALLOW


def test_other_tags_are_left_to_the_accounts_own_policies():
    assert _tag_user(DEVELOPER, ["team", "cost-centre"]) == ALLOW
    assert _untag_user(DEVELOPER, ["team"]) == ALLOW


def test_a_user_cannot_be_created_already_exempt_except_by_an_approver():
    context = {"aws:PrincipalArn": DEVELOPER, "aws:RequestTagKeys": ["mfa-exempt-until"]}
    assert decision(STATEMENTS, "iam:CreateUser", USER, context) == EXPLICIT_DENY
    assert decision(STATEMENTS, "iam:CreateUser", USER, {"aws:PrincipalArn": DEVELOPER}) == ALLOW


def test_the_policy_fits_the_service_control_policy_size_limit():
    # AWS Organizations caps an SCP at 5,120 characters.
    assert len(json.dumps(SCP, separators=(",", ":"))) <= 5120
