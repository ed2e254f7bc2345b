"""Tests `rdk test-local` runs: the handler on real Config change events, IAM and Config answered by
botocore's Stubber (checked against the service models), so they need no AWS account and no moto.

    cd rules && rdk test-local IAM_USER_CONSOLE_MFA

The full suite (every case, the periodic sweep, faults) lives in the repository's tests/ and runs with
`make test`. This file is not packed into the Lambda zip.
"""

import json
import unittest
import unittest.mock
from datetime import datetime, timezone

import boto3
from botocore.stub import Stubber
from console_mfa.aws import AwsClients
from console_mfa.exceptions import InvalidParameterError
from IAM_USER_CONSOLE_MFA import lambda_handler

ACCOUNT = "123456789012"
USER_ID = "AIDAEXAMPLEUSER00001"
ARN = f"arn:aws:iam::{ACCOUNT}:user/bob"
CREATED = datetime(2024, 1, 1, tzinfo=timezone.utc)
# The run's clock: a change-triggered result is ordered at the moment before its IAM read, not at the
# configuration item's capture time (Config may deliver an item days late).
NOW = datetime(2026, 11, 29, 8, 5, tzinfo=timezone.utc)


class LambdaContext:
    """What the handler reads of Lambda's context: the function's ARN names its account."""

    invoked_function_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:iam-user-console-mfa"

    def get_remaining_time_in_millis(self):
        return 900_000


def change_event(status="OK", parameters=None):
    item = {
        "configurationItemCaptureTime": "2026-11-29T08:00:00.000Z",
        "configurationItemStatus": status,
        "resourceType": "AWS::IAM::User",
        "resourceId": USER_ID,
        "resourceName": "bob",
        "ARN": ARN,
        "awsAccountId": ACCOUNT,
    }
    return {
        "invokingEvent": json.dumps({"configurationItem": item, "messageType": "ConfigurationItemChangeNotification"}),
        "ruleParameters": json.dumps({"AssumeRoleMode": "false", **(parameters or {})}),
        "resultToken": "TESTMODE",
        "eventLeftScope": False,
        "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/config-role",
        "configRuleName": "IAM_USER_CONSOLE_MFA",
        "accountId": ACCOUNT,
    }


class ConsoleMfaRuleTest(unittest.TestCase):
    def setUp(self):
        session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1")
        self.clients = AwsClients.from_session(session, "us-east-1")
        self.iam = Stubber(self.clients.iam)
        self.config = Stubber(self.clients.config)
        self.sent = []

    def run_rule(self, event):
        self.iam.activate()
        self.config.activate()
        return lambda_handler(event, LambdaContext(), make_clients=lambda _: self.clients, clock=lambda: NOW)

    def user_exists(self, password, devices=()):
        user = {"Path": "/", "UserName": "bob", "UserId": USER_ID, "Arn": ARN, "CreateDate": CREATED}
        self.iam.add_response("get_user", {"User": user}, {"UserName": "bob"})
        if not password:
            self.iam.add_client_error("get_login_profile", "NoSuchEntity", http_status_code=404)
            return
        self.iam.add_response(
            "get_login_profile", {"LoginProfile": {"UserName": "bob", "CreateDate": CREATED}}, {"UserName": "bob"}
        )
        listed = [{"UserName": "bob", "SerialNumber": serial, "EnableDate": CREATED} for serial in devices]
        self.iam.add_response("list_mfa_devices", {"MFADevices": listed, "IsTruncated": False}, {"UserName": "bob"})

    def user_has_no_tags(self):
        # Read only for a user who would otherwise be NON_COMPLIANT: an exemption tag could change the verdict.
        self.iam.add_response("list_user_tags", {"Tags": [], "IsTruncated": False})

    def expect_evaluation(self, compliance_type):
        # A change-triggered run first reads what Config holds for the user (here: nothing), then sends.
        self.config.add_response(
            "get_compliance_details_by_resource",
            {"EvaluationResults": []},
            {
                "ResourceType": "AWS::IAM::User",
                "ResourceId": USER_ID,
                "ComplianceTypes": ["COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE"],
            },
        )
        self.config.add_response(
            "put_evaluations",
            {"FailedEvaluations": []},
            {
                "Evaluations": [
                    {
                        "ComplianceResourceType": "AWS::IAM::User",
                        "ComplianceResourceId": USER_ID,
                        "ComplianceType": compliance_type,
                        "Annotation": unittest.mock.ANY,
                        "OrderingTimestamp": NOW.isoformat(),
                    }
                ],
                "ResultToken": "TESTMODE",
                "TestMode": True,
            },
        )

    def test_console_password_without_mfa_is_non_compliant(self):
        self.user_exists(password=True)
        self.user_has_no_tags()
        self.expect_evaluation("NON_COMPLIANT")
        self.assertEqual(self.run_rule(change_event())["compliance"], {"NON_COMPLIANT": 1})
        self.config.assert_no_pending_responses()

    def test_console_password_with_virtual_mfa_is_compliant(self):
        self.user_exists(password=True, devices=[f"arn:aws:iam::{ACCOUNT}:mfa/bob"])
        self.expect_evaluation("COMPLIANT")
        self.assertEqual(self.run_rule(change_event())["compliance"], {"COMPLIANT": 1})

    def test_console_password_with_only_sms_mfa_is_non_compliant(self):
        self.user_exists(password=True, devices=[f"arn:aws:iam::{ACCOUNT}:sms-mfa/bob"])
        self.user_has_no_tags()
        self.expect_evaluation("NON_COMPLIANT")
        self.assertEqual(self.run_rule(change_event())["compliance"], {"NON_COMPLIANT": 1})

    def test_no_console_password_is_not_applicable(self):
        self.user_exists(password=False)
        self.expect_evaluation("NOT_APPLICABLE")
        self.assertEqual(self.run_rule(change_event())["compliance"], {"NOT_APPLICABLE": 1})

    def test_deleted_user_is_not_applicable_without_reading_iam(self):
        self.expect_evaluation("NOT_APPLICABLE")
        self.assertEqual(self.run_rule(change_event(status="ResourceDeleted"))["compliance"], {"NOT_APPLICABLE": 1})
        self.iam.assert_no_pending_responses()

    def test_a_bad_parameter_fails_and_reports_nothing(self):
        with self.assertRaises(InvalidParameterError) as raised:
            self.run_rule(change_event(parameters={"GracePeriodDays": "-1"}))
        self.assertEqual(raised.exception.parameter, "GracePeriodDays")


if __name__ == "__main__":
    unittest.main()
