"""The account stack's enforcement pieces, created in moto as ``cloudformation/rule.yaml`` defines them.

moto's CloudFormation cannot create the ForceMfa group, so this reads the template with
:mod:`mfa_audit.templates` and creates, under the names a stack would give them: the ForceMfa group and
its policy, the ledger table, the operators' topic, whose email subscription is a queue here (so the
messages can be read back), the kill switch, SES's verified sender (the stack's NoticeSender) and the
enforcement document.

Example::

    with mock_aws():
        pieces = create_stack_pieces()
        pieces.group_name            # "iam-user-console-mfa-ForceMfa"
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from console_mfa.exceptions import RuleError

from mfa_audit.emulation.account import DEFAULT_ACCOUNT_ID
from mfa_audit.templates import (
    ALARM_TOPIC,
    ENFORCEMENT_DOCUMENT,
    ENFORCEMENT_LEDGER,
    ENFORCEMENT_SWITCH,
    FORCE_MFA_GROUP,
    FORCE_MFA_POLICY,
    RULE_TEMPLATE,
    Template,
    TemplateError,
)

# The deploy tool's default stack name: the group is <stack>-ForceMfa.
STACK_NAME = "iam-user-console-mfa"
NOTICE_SENDER = "mfa-notices@example.com"


@dataclass(frozen=True)
class StackPieces:
    """What the enforcement needs from the account stack, read from rule.yaml and created in moto."""

    group_name: str
    ledger_table: str
    topic_arn: str
    inbox_url: str
    switch_parameter: str
    # The stack's parameters with their defaults (UserGuideUrl, NoticeContact ...), as rule.yaml declares them.
    defaults: Mapping[str, str | None]
    # The SSM document Config's remediation runs, and the name CloudFormation would give it.
    document: Mapping[str, Any]
    document_name: str = f"{STACK_NAME}-{ENFORCEMENT_DOCUMENT}-EMULATED"


def create_stack_pieces(account_id: str = DEFAULT_ACCOUNT_ID, stack_name: str = STACK_NAME) -> StackPieces:
    """The ForceMfa group with its policy, the ledger table, the operators' topic, the kill switch and the verified
    sender, as rule.yaml has them."""
    import boto3

    try:
        template = Template.load(RULE_TEMPLATE)
    except TemplateError as error:
        raise RuleError(
            f"the walk-through builds the account stack's ForceMfa group, its policy and the ledger table from "
            f"{RULE_TEMPLATE}: {error}"
        ) from error
    pseudo = {"AWS::Partition": "aws", "AWS::AccountId": account_id, "AWS::StackName": stack_name}

    def resolved(node: Any, where: str) -> Any:
        try:
            return template.resolve_strictly(node, pseudo, where)
        except TemplateError as error:
            raise RuleError(f"{error} (by the walk-through)") from error

    def properties(name: str) -> dict[str, Any]:
        return resolved(template.resources[name]["Properties"], f"{name}.Properties")

    iam, dynamodb = boto3.client("iam"), boto3.client("dynamodb")
    sns, sqs = boto3.client("sns"), boto3.client("sqs")

    policy = properties(FORCE_MFA_POLICY)
    policy_arn = iam.create_policy(
        PolicyName=f"{stack_name}-{FORCE_MFA_POLICY}",
        Description=policy["Description"],
        PolicyDocument=json.dumps(policy["PolicyDocument"]),
    )["Policy"]["Arn"]
    group = resolved(template.resources[FORCE_MFA_GROUP]["Properties"]["GroupName"], f"{FORCE_MFA_GROUP}.GroupName")
    iam.create_group(GroupName=group)
    iam.attach_group_policy(GroupName=group, PolicyArn=policy_arn)

    # The table's shape; its encryption (the stack's KMS key) is not emulated.
    ledger_shape = ("AttributeDefinitions", "KeySchema", "BillingMode", "TimeToLiveSpecification")
    ledger = {key: template.resources[ENFORCEMENT_LEDGER]["Properties"][key] for key in ledger_shape}
    table = f"{stack_name}-{ENFORCEMENT_LEDGER}"
    dynamodb.create_table(
        TableName=table,
        AttributeDefinitions=ledger["AttributeDefinitions"],
        KeySchema=ledger["KeySchema"],
        BillingMode=ledger["BillingMode"],
    )
    dynamodb.update_time_to_live(TableName=table, TimeToLiveSpecification=ledger["TimeToLiveSpecification"])

    # The topic's email subscription, emulated: a queue the walk-through reads the messages from.
    display_name = template.resources[ALARM_TOPIC]["Properties"]["DisplayName"]
    topic_arn = sns.create_topic(Name=f"{stack_name}-{ALARM_TOPIC}", Attributes={"DisplayName": display_name})[
        "TopicArn"
    ]
    inbox = sqs.create_queue(QueueName="operators-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=inbox_arn)
    switch = properties(ENFORCEMENT_SWITCH)
    boto3.client("ssm").put_parameter(Name=switch["Name"], Value=switch["Value"], Type=switch["Type"])
    # The stack's NoticeSender, verified in SES as the docs require.
    boto3.client("ses").verify_email_identity(EmailAddress=NOTICE_SENDER)
    content = f"{ENFORCEMENT_DOCUMENT}.Properties.Content"
    document = resolved(template.resources[ENFORCEMENT_DOCUMENT]["Properties"]["Content"], content)
    return StackPieces(group, table, topic_arn, inbox, switch["Name"], template.declared_parameters(), document)
