"""The account stack with enforcement on creates in emulated CloudFormation, and the zip carries the enforcement code."""

import zipfile
from pathlib import Path

import boto3
import pytest

from tools.deploy.artifacts import upload
from tools.deploy.changesets import deploy
from tools.package_lambda import build

TEMPLATE_TEXT = (Path(__file__).resolve().parents[2] / "cloudformation" / "rule.yaml").read_text()


def test_zip_carries_the_enforcement_handler(tmp_path):
    build(tmp_path / "rule.zip")
    names = zipfile.ZipFile(tmp_path / "rule.zip").namelist()
    assert {"enforcement_handler.py", "console_mfa/enforcement.py", "console_mfa/enforcement_ledger.py"} <= set(names)


# moto's CloudFormation skips AWS::Config::* (the rule and its remediation); the rest must create.
@pytest.mark.filterwarnings("ignore:Tried to parse AWS::")
def test_stack_with_automatic_enforcement_creates_in_emulated_cloudformation(aws, tmp_path):
    build(tmp_path / "rule.zip")
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="rule-artifacts")
    key = upload(s3, "rule-artifacts", tmp_path / "rule.zip", expected_owner="123456789012").key
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    parameters = {
        "CodeBucket": "rule-artifacts",
        "CodeKey": key,
        "GracePeriodDays": "14",
        "Enforcement": "automatic",
        "AlarmEmail": "secops@example.com",
        "MaxEnforcementsPerDay": "3",
    }
    assert deploy(cloudformation, "console-mfa", TEMPLATE_TEXT, parameters) == "CREATE_COMPLETE"
    function = boto3.client("lambda", region_name="us-east-1").get_function(FunctionName="console-mfa-enforce-mfa")
    configuration = function["Configuration"]
    assert configuration["Handler"] == "enforcement_handler.handler"
    variables = configuration["Environment"]["Variables"]
    assert variables["FORCE_MFA_GROUP"] == "console-mfa-ForceMfa"
    assert str(variables["MAX_ENFORCEMENTS_PER_DAY"]) == "3"  # moto keeps the number; CloudFormation a string
    assert variables["OPERATORS_TOPIC_ARN"].startswith("arn:aws:sns:us-east-1:123456789012:")
    # (moto's CloudFormation does not create AWS::IAM::Group in IAM; tests/unit/test_enforcement_template.py checks it.)
    ledger = boto3.client("dynamodb", region_name="us-east-1").describe_table(TableName=variables["LEDGER_TABLE"])
    assert ledger["Table"]["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    documents = boto3.client("ssm", region_name="us-east-1").list_documents(
        Filters=[{"Key": "DocumentType", "Values": ["Automation"]}, {"Key": "Owner", "Values": ["Self"]}]
    )["DocumentIdentifiers"]
    assert len(documents) == 1

    # mfa-audit enforcement finds the kill switch through the stack's outputs, and pauses it.
    from mfa_audit import cli

    assert cli.main(["enforcement", "pause", "--stack", "console-mfa", "--quiet"]) == 0
    switch = boto3.client("ssm", region_name="us-east-1").get_parameter(Name="/console-mfa/enforcement-switch")
    assert switch["Parameter"]["Value"] == "paused"
    assert cli.main(["enforcement", "status", "--stack", "console-mfa", "--quiet"]) == 0
