"""The account stack's enforcement resources in moto, with the function's environment read from rule.yaml.

The template names the table, the topic and the kill switch by reference; each is created here and its
name put where the template's reference was, so a variable renamed or dropped in the template fails the
tests that drive the function.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3

from mfa_audit.templates import Template

SENDER = "mfa-notices@example.com"
# CloudFormation names the document <stack>-EnforcementDocument-<suffix>; the function's environment holds it.
DOCUMENT_NAME = "console-mfa-EnforcementDocument-Q2ExAmPlE"
LEDGER = "console-mfa-EnforcementLedger"
STACK_PARAMETERS = {
    "CodeBucket": "artifacts",
    "Enforcement": "automatic",
    "GracePeriodDays": "14",
    "AlarmEmail": "secops@example.com",
    "NoticeSender": SENDER,
}


@dataclass
class EnforcementStack:
    """What a test reads back: the operators' topic (through a queue), the group, the e-mails SES sent."""

    environment: dict[str, str]
    resources: dict[str, dict[str, Any]]
    queue_url: str

    @property
    def group(self) -> str:
        return self.environment["FORCE_MFA_GROUP"]

    def operator_messages(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs", region_name="us-east-1")
        received = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
        for message in received:
            sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return [json.loads(m["Body"]) for m in received]

    def set_switch(self, value: str) -> None:
        boto3.client("ssm", region_name="us-east-1").put_parameter(
            Name=self.environment["ENFORCEMENT_SWITCH_PARAMETER"], Value=value, Type="String", Overwrite=True
        )


def deploy_enforcement(monkeypatch: Any, iam: Any, **parameters: str) -> EnforcementStack:
    """Create the stack's ForceMfa group, ledger, topic and kill switch; set the function's environment."""
    stack = Template.load("rule.yaml").resolve({**STACK_PARAMETERS, **parameters})
    variables = dict(stack.resources["EnforcementFunction"]["Properties"]["Environment"]["Variables"])
    iam.create_group(GroupName=variables["FORCE_MFA_GROUP"])
    ledger = LEDGER
    key = stack.resources["EnforcementLedger"]["Properties"]["KeySchema"]
    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName=ledger,
        AttributeDefinitions=stack.resources["EnforcementLedger"]["Properties"]["AttributeDefinitions"],
        KeySchema=key,
        BillingMode="PAY_PER_REQUEST",
    )
    switch = stack.resources["EnforcementSwitch"]["Properties"]
    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name=switch["Name"], Value=switch["Value"], Type=switch["Type"]
    )
    sns = boto3.client("sns", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    topic = sns.create_topic(Name="operators")["TopicArn"]
    queue = sqs.create_queue(QueueName="operators-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    if variables.get("NOTICE_SENDER"):
        boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress=variables["NOTICE_SENDER"])
    created = {
        "ref:EnforcementLedger": ledger,
        "ref:AlarmTopic": topic,
        "ref:EnforcementSwitch": switch["Name"],
        "ref:EnforcementDocument": DOCUMENT_NAME,
    }
    for name, value in variables.items():
        variables[name] = created.get(str(value), str(value))
        assert not variables[name].startswith(("ref:", "getatt:")), f"{name} refers to {value}, not created here"
        monkeypatch.setenv(name, variables[name])
    return EnforcementStack(variables, stack.resources, queue)


def sent_emails() -> list[dict[str, Any]]:
    """Every e-mail moto's SES accepted: To, Subject, Body."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return [
        {"To": list(message.destinations["ToAddresses"]), "Subject": message.subject, "Body": message.body}
        for message in ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    ]


def actions_called(records: Any) -> set[str]:
    """The API actions the enforcement function's log lines (its ``apiCalls``) say it called, as IAM names them."""
    called: set[str] = set()
    for record in records:
        if record.name == "console_mfa.enforcement" and "apiCalls" in record.getMessage():
            called |= set(json.loads(record.getMessage())["apiCalls"])
    # CloudWatch signs as "monitoring"; Lambda's own context names the account, so no STS call there.
    return {c.replace("monitoring:", "cloudwatch:") for c in called} - {"sts:GetCallerIdentity"}


def actions_granted_to_call(role: dict[str, Any]) -> set[str]:
    """The actions the function's role grants, less those used on its behalf rather than called by its code."""
    granted: set[str] = set()
    for policy in role["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            action = statement["Action"]
            granted |= {action} if isinstance(action, str) else set(action)
    # Lambda writes the logs; KMS is used on the function's behalf by SNS (the encrypted topic) and DynamoDB (the ledger).
    used_on_its_behalf = {"logs:CreateLogStream", "logs:PutLogEvents"}
    used_on_its_behalf |= {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKey*"}
    return granted - used_on_its_behalf
