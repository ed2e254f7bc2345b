"""What the mfa-audit report tests share: aggregator answers (botocore Stubber, real service model) and the
emulated demo organization."""

import json
import re
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.stub import Stubber

from mfa_audit.org_report import exemption_query, gather_report

AGGREGATOR = "organization"
A, B, C = "111111111111", "222222222222", "333333333333"
ORG_RULE = "OrgConfigRule-IAM_USER_CONSOLE_MFA-abc123"
WHEN = datetime(2026, 11, 28, tzinfo=timezone.utc)


def _result(account, user_id, kind, annotation=None):
    result = {
        "EvaluationResultIdentifier": {
            "EvaluationResultQualifier": {
                "ConfigRuleName": ORG_RULE,
                "ResourceType": "AWS::IAM::User",
                "ResourceId": user_id,
            }
        },
        "ComplianceType": kind,
        "ResultRecordedTime": WHEN,
        "ConfigRuleInvokedTime": WHEN,
        "AccountId": account,
        "AwsRegion": "us-east-1",
    }
    if annotation:
        result["Annotation"] = annotation
    return result


def stub_aggregator(config):
    stub = Stubber(config)
    base = {"ConfigurationAggregatorName": AGGREGATOR}
    stub.add_response(
        "describe_configuration_aggregator_sources_status",
        {
            "AggregatedSourceStatusList": [
                {
                    "SourceId": "o-exampleorgid1",
                    "SourceType": "ORGANIZATION",
                    "AwsRegion": "us-east-1",
                    "LastUpdateStatus": "SUCCEEDED",
                },
                {"SourceId": A, "SourceType": "ACCOUNT", "AwsRegion": "us-east-1", "LastUpdateStatus": "SUCCEEDED"},
            ],
            "NextToken": "sources-2",
        },
        base,
    )
    stub.add_response(
        "describe_configuration_aggregator_sources_status",
        {
            "AggregatedSourceStatusList": [
                {"SourceId": B, "SourceType": "ACCOUNT", "AwsRegion": "us-east-1", "LastUpdateStatus": "SUCCEEDED"},
                {
                    "SourceId": C,
                    "SourceType": "ACCOUNT",
                    "AwsRegion": "us-east-1",
                    "LastUpdateStatus": "FAILED",
                    "LastErrorCode": "AccessDenied",
                    "LastErrorMessage": "Config is not enabled in this account",
                },
            ]
        },
        {**base, "NextToken": "sources-2"},
    )
    stub.add_response(
        "describe_aggregate_compliance_by_config_rules",
        {
            "AggregateComplianceByConfigRules": [
                {
                    "ConfigRuleName": "some-other-rule",
                    "Compliance": {"ComplianceType": "COMPLIANT"},
                    "AccountId": A,
                    "AwsRegion": "us-east-1",
                },
            ],
            "NextToken": "rules-2",
        },
        base,
    )
    stub.add_response(
        "describe_aggregate_compliance_by_config_rules",
        {
            "AggregateComplianceByConfigRules": [
                {
                    "ConfigRuleName": ORG_RULE,
                    "Compliance": {"ComplianceType": "NON_COMPLIANT"},
                    "AccountId": A,
                    "AwsRegion": "us-east-1",
                },
            ]
        },
        {**base, "NextToken": "rules-2"},
    )
    resources = {**base, "ResourceType": "AWS::IAM::User"}
    stub.add_response(
        "list_aggregate_discovered_resources",
        {
            "ResourceIdentifiers": [
                {
                    "SourceAccountId": A,
                    "SourceRegion": "us-east-1",
                    "ResourceId": "AIDAUSER000000000001",
                    "ResourceType": "AWS::IAM::User",
                    "ResourceName": "alice",
                },
                {
                    "SourceAccountId": A,
                    "SourceRegion": "us-east-1",
                    "ResourceId": "AIDAUSER000000000002",
                    "ResourceType": "AWS::IAM::User",
                    "ResourceName": "bob",
                },
            ],
            "NextToken": "names-2",
        },
        resources,
    )
    stub.add_response(
        "list_aggregate_discovered_resources",
        {
            "ResourceIdentifiers": [
                {
                    "SourceAccountId": A,
                    "SourceRegion": "us-east-1",
                    "ResourceId": "AIDAUSER000000000003",
                    "ResourceType": "AWS::IAM::User",
                    "ResourceName": "carol",
                },
            ]
        },
        {**resources, "NextToken": "names-2"},
    )
    details = {**base, "ConfigRuleName": ORG_RULE, "AccountId": A, "AwsRegion": "us-east-1"}
    stub.add_response(
        "get_aggregate_compliance_details_by_config_rule",
        {
            "AggregateEvaluationResults": [
                _result(A, "AIDAUSER000000000001", "COMPLIANT"),
                _result(
                    A,
                    "AIDAUSER000000000002",
                    "NON_COMPLIANT",
                    "Console password but no allowed MFA device (found: none)",
                ),
            ],
            "NextToken": "details-2",
        },
        details,
    )
    stub.add_response(
        "get_aggregate_compliance_details_by_config_rule",
        {
            "AggregateEvaluationResults": [
                # The aggregator API returns COMPLIANT and NON_COMPLIANT results only.
                _result(
                    A,
                    "AIDAUSER000000000004",
                    "NON_COMPLIANT",
                    "No allowed MFA device (found: sms | <script>alert(1)</script>; allowed: fido)",
                ),
            ]
        },
        {**details, "NextToken": "details-2"},
    )
    today = datetime.now(timezone.utc).date()

    def tagged(user_id, name, tags):
        pairs = [{"key": key, "value": value} for key, value in tags.items()]
        return json.dumps({"accountId": A, "resourceId": user_id, "resourceName": name, "tags": pairs})

    stub.add_response(
        "select_aggregate_resource_config",
        {
            "Results": [
                tagged(
                    "AIDAUSER000000000005",
                    "dave",
                    {
                        "mfa-exempt-until": f"{today + timedelta(days=5)}",
                        "mfa-exempt-owner": "secops",
                        "mfa-exempt-reason": "vendor migration",
                    },
                ),
                tagged("AIDAUSER000000000006", "erin", {"mfa-exempt-until": f"{today - timedelta(days=1)}"}),
            ]
        },
        {**base, "Expression": exemption_query("mfa-exempt-until")},
    )
    return stub


@pytest.fixture(name="report")
def fixture_report(aws):
    config = boto3.client("config", region_name="us-east-1")
    with stub_aggregator(config) as stub:
        gathered = gather_report(config, AGGREGATOR, "IAM_USER_CONSOLE_MFA")
        stub.assert_no_pending_responses()
    return gathered


@pytest.fixture(name="demo", scope="module")
def fixture_demo(tmp_path_factory):
    from mfa_audit.emulation.organization import demo_report

    report = demo_report()
    report.tool_version = "test"
    return report


def _words(output_format, text):
    """The text a reader sees: without HTML's tags, or Markdown's escapes."""
    if output_format == "html":
        return re.sub(r"<[^>]+>", "", text)
    return text.replace("\\", "") if output_format == "markdown" else text
