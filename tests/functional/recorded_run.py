"""Drive every code path of the rule once and record the AWS actions it calls.

Least-privilege and read-only checks compare against this recording, so the list of
actions is derived from what the code does, never written down by hand.
"""

from datetime import timedelta

import boto3
from IAM_USER_CONSOLE_MFA import lambda_handler

from mfa_audit.emulation.account import SeedUser, create_user
from mfa_audit.emulation.events import RULE_NAME, LambdaContext, change_event, scheduled_event
from mfa_audit.emulation.services import ApiCallCounter, EmulatedConfig, FrozenCredentialReport

MEMBER_ACCOUNT = "222222222222"


def record_every_path(cloudtrail, monkeypatch):
    """Run change, oversized, periodic live, periodic bulk, clean-up and cross-account paths."""
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    iam = boto3.client("iam", region_name="us-east-1")
    users = [
        create_user(iam, SeedUser(f"user{n}", n % 2 == 0, ("virtual", "fido", "hardware", "sms")[n % 4 :][:1]))
        for n in range(8)
    ]
    # SMS only: NON_COMPLIANT, so its exemption tags are read (ListUserTags).
    users.append(create_user(iam, SeedUser("user8", True, ("sms",))))
    cloudtrail.age_history(timedelta(days=1))
    with FrozenCredentialReport() as report, EmulatedConfig(RULE_NAME) as config, ApiCallCounter() as counter:
        report.generate_now()
        iam.create_login_profile(UserName="user1", Password="Emulated-Passw0rd!")  # a change after the report
        config.results["AIDAGONEUSER000000000"] = {  # a deleted user's old result, to be cleared
            "ComplianceResourceId": "AIDAGONEUSER000000000",
            "ComplianceResourceType": "AWS::IAM::User",
            "ComplianceType": "NON_COMPLIANT",
        }
        lambda_handler(change_event(users[0]), LambdaContext())
        lambda_handler(change_event(users[1], oversized=True), LambdaContext())
        for strategy in ("live", "bulk"):
            monkeypatch.setenv("SWEEP_STRATEGY", strategy)
            lambda_handler(scheduled_event(), LambdaContext())
        lambda_handler(
            scheduled_event({"ExecutionRoleName": "mfa-rule-reader"}, account_id=MEMBER_ACCOUNT), LambdaContext()
        )
    return counter.calls
