"""The rule evaluates another account by assuming a role there, as rdklib's ExecutionRoleName does."""

import boto3
from IAM_USER_CONSOLE_MFA import lambda_handler

from mfa_audit.emulation.account import SeedUser, create_user
from mfa_audit.emulation.events import scheduled_event

MEMBER_ACCOUNT = "222222222222"


def member_iam():
    credentials = boto3.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{MEMBER_ACCOUNT}:role/OrganizationAccountAccessRole", RoleSessionName="test-setup"
    )["Credentials"]
    return boto3.client(
        "iam",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def test_execution_role_name_evaluates_the_member_accounts_users_only(config, add_user):
    add_user("home-account-user", password=True)
    member = member_iam()
    member_user = create_user(member, SeedUser("member-user", console_password=True, devices=("fido",)))
    assert member_user["Arn"].split(":")[4] == MEMBER_ACCOUNT

    event = scheduled_event({"ExecutionRoleName": "mfa-rule-reader"}, account_id=MEMBER_ACCOUNT)
    lambda_handler(event, None)

    assert [(e["ComplianceResourceId"], e["ComplianceType"]) for e in config.sent] == [
        (member_user["UserId"], "COMPLIANT")
    ]


def test_assume_role_mode_false_uses_the_functions_own_credentials(config, add_user):
    home = add_user("home-account-user", password=True)
    lambda_handler(scheduled_event({"AssumeRoleMode": "false"}), None)
    assert [e["ComplianceResourceId"] for e in config.sent] == [home["UserId"]]
