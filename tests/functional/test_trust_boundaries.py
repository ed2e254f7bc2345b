"""Trust boundaries: the rule acts only for the account it was invoked for, and, deployed for an
organization, only for its members; rdklib and the rule read the parameters alike."""

import json
import logging

import boto3
import pytest
from console_mfa.boundaries import _memberships
from console_mfa.exceptions import AccountMismatchError, InvalidEventError, InvalidParameterError
from IAM_USER_CONSOLE_MFA import lambda_handler

from mfa_audit.emulation.events import LambdaContext, change_event, scheduled_event
from mfa_audit.emulation.services import ApiCallCounter
from mfa_audit.templates import Template

HOME = "123456789012"
OTHER = "222222222222"
THIRD = "333333333333"


@pytest.fixture(autouse=True)
def forget_memberships():
    _memberships.clear()
    yield
    _memberships.clear()


# --- the account read is the event's account ---


def test_an_event_for_another_account_with_the_functions_own_role_fails_naming_both_and_reads_nothing(config, add_user):
    add_user("home-user", password=True)
    event = scheduled_event({"AssumeRoleMode": "false"}, account_id=OTHER)
    with ApiCallCounter() as counter, pytest.raises(AccountMismatchError) as raised:
        lambda_handler(event, LambdaContext(account_id=HOME))
    assert OTHER in str(raised.value) and HOME in str(raised.value)
    assert config.put_calls == []
    assert counter.of_service("iam") == 0 and counter.of_service("config") == 0


def test_an_event_whose_role_lives_in_another_account_fails_naming_both(config):
    event = scheduled_event({"ExecutionRoleName": "mfa-rule-reader"}, account_id=OTHER)
    # The Config role named in the event belongs to a third account, so rdklib's role would too.
    event["executionRoleArn"] = (
        f"arn:aws:iam::{THIRD}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"
    )
    with ApiCallCounter() as counter, pytest.raises(AccountMismatchError) as raised:
        lambda_handler(event, LambdaContext(account_id=HOME))
    assert OTHER in str(raised.value) and THIRD in str(raised.value)
    assert config.put_calls == []
    assert counter.of_service("iam") == 0


def test_without_a_lambda_context_one_sts_call_tells_the_account(config, add_user):
    add_user("home-user", password=True)
    with ApiCallCounter() as counter, pytest.raises(AccountMismatchError):
        lambda_handler(scheduled_event({"AssumeRoleMode": "false"}, account_id=OTHER), None)
    assert counter.calls["sts:GetCallerIdentity"] == 1
    assert config.put_calls == []


def test_the_own_account_is_read_from_the_context_at_no_cost(config, add_user):
    add_user("home-user", password=True)
    with ApiCallCounter() as counter:
        lambda_handler(scheduled_event({"AssumeRoleMode": "false"}), LambdaContext(account_id=HOME))
    assert counter.calls["sts:GetCallerIdentity"] == 0
    assert len(config.sent) == 1


def test_an_event_without_an_account_id_is_refused(config):
    event = scheduled_event()
    del event["accountId"]
    with pytest.raises(InvalidEventError, match="accountId"):
        lambda_handler(event, LambdaContext())
    assert config.put_calls == []


# --- organization membership ---


@pytest.fixture
def organization(aws, monkeypatch):
    organizations = boto3.client("organizations", region_name="us-east-1")
    organization_id = organizations.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    member = organizations.create_account(AccountName="member", Email="member@example.com")["CreateAccountStatus"]
    monkeypatch.setenv("ORGANIZATION_ID", organization_id)
    return organization_id, member["AccountId"]


def test_an_outsiders_event_is_refused_before_any_sts_call_and_logged_for_the_metric(organization, config, caplog):
    outsider = "999999999999"
    event = scheduled_event({"ExecutionRoleName": "iam-user-console-mfa-reader"}, account_id=outsider)
    with ApiCallCounter() as counter, caplog.at_level(logging.WARNING, logger="console_mfa"):
        summary = lambda_handler(event, LambdaContext(account_id=HOME))
    assert summary["refused"] == outsider
    assert counter.of_service("sts") == 0 and counter.of_service("iam") == 0
    assert counter.calls["organizations:DescribeAccount"] == 1
    assert config.put_calls == []
    (line,) = [json.loads(r.getMessage()) for r in caplog.records if "refused" in r.getMessage()]
    assert line["outcome"] == "refused" and line["account"] == outsider
    # The organization stack's metric filter counts exactly these lines.
    stack = Template.load("organization.yaml").resolve(
        {
            "CodeBucket": "b",
            "OrganizationId": organization[0],
            "MemberRoleTemplateUrl": "https://b.s3.amazonaws.com/m.yaml",
            "DeploymentOrganizationalUnitIds": "r-ab12",
        }
    )
    pattern = stack.resources["RefusedOutsideAccountsMetric"]["Properties"]["FilterPattern"]
    assert pattern in json.dumps(line)


def test_a_members_event_is_evaluated_and_membership_is_asked_once_per_hour(organization, config):
    organization_id, member = organization
    event = scheduled_event({"ExecutionRoleName": "iam-user-console-mfa-reader"}, account_id=member)
    with ApiCallCounter() as counter:
        lambda_handler(event, LambdaContext(account_id=HOME))
        lambda_handler(event, LambdaContext(account_id=HOME))
    assert counter.calls["organizations:DescribeAccount"] == 1
    assert counter.calls["sts:AssumeRole"] == 2
    # What the function calls with its own role is what the organization stack grants it (besides logs and the queue).
    own_actions = {"organizations:DescribeAccount", "sts:AssumeRole"}
    assert own_actions <= set(counter.calls)
    statements = Template.load("organization.yaml").body["Resources"]["FunctionRole"]["Properties"]["Policies"][0]
    granted = {s["Action"] for s in statements["PolicyDocument"]["Statement"] if isinstance(s["Action"], str)}
    assert granted - {"sqs:SendMessage"} == own_actions


def test_the_management_account_itself_is_a_member(organization, config, add_user):
    add_user("management-user", password=True)
    event = scheduled_event({"ExecutionRoleName": "iam-user-console-mfa-reader"}, account_id=HOME)
    lambda_handler(event, LambdaContext(account_id=HOME))
    assert len(config.sent) == 1


def test_a_malformed_organization_id_in_the_environment_fails(aws, monkeypatch, config):
    monkeypatch.setenv("ORGANIZATION_ID", "not-an-org")
    with pytest.raises(Exception, match="ORGANIZATION_ID"):
        lambda_handler(scheduled_event(), LambdaContext())
    assert config.put_calls == []


# --- rdklib reads the parameters the rule validated ---


def test_padded_assume_role_mode_false_uses_the_functions_own_credentials(config, add_user):
    home = add_user("home-user", password=True)
    with ApiCallCounter() as counter:
        lambda_handler(scheduled_event({"AssumeRoleMode": " FALSE "}), LambdaContext(account_id=HOME))
    assert counter.calls["sts:AssumeRole"] == 0
    assert [e["ComplianceResourceId"] for e in config.sent] == [home["UserId"]]


def test_padded_execution_role_name_is_assumed_trimmed(config):
    member_event = scheduled_event({"ExecutionRoleName": "  mfa-rule-reader "}, account_id=HOME)
    with ApiCallCounter() as counter:
        lambda_handler(member_event, LambdaContext(account_id=HOME))
    assert counter.calls["sts:AssumeRole"] == 1


# --- exemptions by form, and input bounds ---


def test_a_user_named_like_an_exempt_user_id_is_still_evaluated(config, add_user):
    impostor = add_user("AIDAEXAMPLEUSERID0001", password=True)
    assert impostor["UserId"] != "AIDAEXAMPLEUSERID0001"
    lambda_handler(scheduled_event({"ExemptUsers": "AIDAEXAMPLEUSERID0001"}), LambdaContext(account_id=HOME))
    assert [(e["ComplianceResourceId"], e["ComplianceType"]) for e in config.sent] == [
        (impostor["UserId"], "NON_COMPLIANT")
    ]


def test_a_resource_name_with_a_trailing_newline_is_refused(config, add_user):
    user = add_user("bob", password=True)
    with pytest.raises(InvalidEventError, match="resourceName"):
        lambda_handler(change_event({**user, "UserName": "bob\n"}), LambdaContext(account_id=HOME))
    assert config.put_calls == []


@pytest.mark.parametrize("days", ["9" * 5000, "0" * 40 + "7", "1" * 7])
def test_an_absurd_grace_period_is_a_parameter_error_naming_it(config, days):
    with pytest.raises(InvalidParameterError) as raised:
        lambda_handler(scheduled_event({"GracePeriodDays": days}), LambdaContext(account_id=HOME))
    assert raised.value.parameter == "GracePeriodDays"
    assert len(str(raised.value)) < 200
    assert config.put_calls == []
