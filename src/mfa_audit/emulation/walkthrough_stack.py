"""The account stack's enforcement pieces for the walk-through, as cloudformation/rule.yaml defines them.

The ForceMfa group and its policy, the ledger table, the operators' topic (whose e-mail subscription is a
queue here), the kill switch, SES's verified sender and the enforcement document, created in moto from
the template's own properties.

Example::

    stack = create_stack_pieces()
    stack.group_name       # "iam-user-console-mfa-ForceMfa"
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console_mfa.exceptions import RuleError

from mfa_audit.emulation.account import DEFAULT_ACCOUNT_ID

# The account stack's template, in a source checkout (src/mfa_audit/emulation/ -> the repository).
TEMPLATE = Path(__file__).resolve().parents[3] / "cloudformation" / "rule.yaml"
# The deploy tool's default stack name: the group is <stack>-ForceMfa.
STACK_NAME = "iam-user-console-mfa"
NOTICE_SENDER = "mfa-notices@example.com"


# --- the account stack's enforcement pieces, as rule.yaml defines them ---


def _template_loader() -> type:
    import yaml

    class TemplateLoader(yaml.SafeLoader):
        """CloudFormation's YAML: the short forms (!Sub, !Ref, !GetAtt ...) read as their long forms."""

    def intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
        name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if suffix == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    TemplateLoader.add_multi_constructor("!", intrinsic)
    return TemplateLoader


_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def _resolved(value: Any, pseudo: Mapping[str, str], where: str) -> Any:
    """``value`` with every ``Fn::Sub`` of pseudo parameters evaluated; any other function is refused."""
    if isinstance(value, list):
        return [_resolved(item, pseudo, where) for item in value]
    if not isinstance(value, dict):
        return value
    if list(value) == ["Fn::Sub"] and isinstance(value["Fn::Sub"], str):

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):  # ${!literal} is the literal ${literal} (an IAM policy variable)
                return "${" + name[1:] + "}"
            if name not in pseudo:
                raise RuleError(f"{TEMPLATE}: {where} uses ${{{name}}}, which the walk-through cannot resolve")
            return pseudo[name]

        return _SUB_VARIABLE.sub(substitute, value["Fn::Sub"])
    functions = [key for key in value if key == "Ref" or key.startswith("Fn::")]
    if functions:
        raise RuleError(f"{TEMPLATE}: {where} uses {functions[0]}, which the walk-through cannot resolve")
    return {key: _resolved(item, pseudo, where) for key, item in value.items()}


@dataclass(frozen=True)
class StackPieces:
    """What the enforcement needs from the account stack, read from rule.yaml and created in moto."""

    group_name: str
    ledger_table: str
    topic_arn: str
    inbox_url: str
    switch_parameter: str
    # The SSM document Config's remediation runs, and the name CloudFormation would give it.
    document: Mapping[str, Any]
    document_name: str = f"{STACK_NAME}-EnforcementDocument-EMULATED"


def _template_resources() -> dict[str, Any]:
    import yaml

    try:
        text = TEMPLATE.read_text()
    except OSError as error:
        raise RuleError(
            f"the walk-through builds the account stack's ForceMfa group, its policy and the ledger table from "
            f"{TEMPLATE}, which cannot be read ({error.strerror}): run it from a source checkout"
        ) from error
    # A SafeLoader: it builds plain values only.
    body = yaml.load(text, Loader=_template_loader())  # noqa: S506  # nosec B506
    return body["Resources"]


def template_parameter_default(name: str) -> str:
    import yaml

    body = yaml.load(TEMPLATE.read_text(), Loader=_template_loader())  # noqa: S506  # nosec B506
    return str(body["Parameters"][name]["Default"])


def create_stack_pieces(account_id: str = DEFAULT_ACCOUNT_ID) -> StackPieces:
    """The ForceMfa group with its policy, the ledger table and the operators' topic, as rule.yaml has them."""
    import boto3

    resources = _template_resources()
    pseudo = {"AWS::Partition": "aws", "AWS::AccountId": account_id, "AWS::StackName": STACK_NAME}

    def properties(name: str) -> dict[str, Any]:
        return _resolved(resources[name]["Properties"], pseudo, f"{name}.Properties")

    iam, dynamodb = boto3.client("iam"), boto3.client("dynamodb")
    sns, sqs = boto3.client("sns"), boto3.client("sqs")

    policy = properties("ForceMfaPolicy")
    policy_arn = iam.create_policy(
        PolicyName=f"{STACK_NAME}-ForceMfaPolicy",
        Description=policy["Description"],
        PolicyDocument=json.dumps(policy["PolicyDocument"]),
    )["Policy"]["Arn"]
    group = _resolved(resources["ForceMfaGroup"]["Properties"]["GroupName"], pseudo, "ForceMfaGroup.GroupName")
    iam.create_group(GroupName=group)
    iam.attach_group_policy(GroupName=group, PolicyArn=policy_arn)

    # The table's shape; its encryption (the stack's KMS key) is not emulated.
    ledger_shape = ("AttributeDefinitions", "KeySchema", "BillingMode", "TimeToLiveSpecification")
    ledger = {key: resources["EnforcementLedger"]["Properties"][key] for key in ledger_shape}
    table = f"{STACK_NAME}-EnforcementLedger"
    dynamodb.create_table(
        TableName=table,
        AttributeDefinitions=ledger["AttributeDefinitions"],
        KeySchema=ledger["KeySchema"],
        BillingMode=ledger["BillingMode"],
    )
    dynamodb.update_time_to_live(TableName=table, TimeToLiveSpecification=ledger["TimeToLiveSpecification"])

    # The topic's email subscription, emulated: a queue the walk-through reads the messages from.
    display_name = resources["AlarmTopic"]["Properties"]["DisplayName"]
    topic_arn = sns.create_topic(Name=f"{STACK_NAME}-AlarmTopic", Attributes={"DisplayName": display_name})["TopicArn"]
    inbox = sqs.create_queue(QueueName="operators-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=inbox_arn)

    switch = properties("EnforcementSwitch")
    boto3.client("ssm").put_parameter(Name=switch["Name"], Value=switch["Value"], Type=switch["Type"])
    # The stack's NoticeSender, verified in SES as the docs require.
    boto3.client("ses").verify_email_identity(EmailAddress=NOTICE_SENDER)
    document = _resolved(
        resources["EnforcementDocument"]["Properties"]["Content"], pseudo, "EnforcementDocument.Properties.Content"
    )
    return StackPieces(group, table, topic_arn, inbox, switch["Name"], document)
