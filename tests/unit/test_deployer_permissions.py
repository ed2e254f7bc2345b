"""docs/deployer-permissions.md: its example policy covers every AWS operation the deploy tool calls (read from
the tool's code) and what CloudFormation calls to create, update and delete each resource type of the
templates the tool deploys (the resource providers' own lists, as cfn-lint ships them)."""

from __future__ import annotations

import ast
import json
import re
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path

import botocore.session
import cfnlint
from botocore import xform_name

from mfa_audit.templates import Template

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "deployer-permissions.md"
# The services the deploy tool has clients for.
SERVICES = ("cloudformation", "config", "lambda", "organizations", "s3", "sts")
# The templates a deployment creates through CloudFormation with the deployer's credentials.
TEMPLATES = (
    "rule.yaml",
    "organization.yaml",
    "member-role.yaml",
    "iam-events.yaml",
    "iam-events-forwarder.yaml",
    "aggregator.yaml",
)
# Resource providers also list what they call only for properties these templates never set: a function in a
# VPC or with a file system (ec2, elasticfilesystem, s3files), a table or log group streaming to Kinesis.
NOT_SET_HERE = {"ec2", "elasticfilesystem", "s3files", "kinesis", "firehose"}
IAM_ACTION = re.compile(r"[a-z0-9-]+:[A-Za-z0-9]+")


@cache
def _operations() -> dict[str, list[str]]:
    """snake_case name -> the IAM actions (prefix:Operation) of that name in SERVICES."""
    session = botocore.session.get_session()
    found: dict[str, list[str]] = {}
    for service in SERVICES:
        model = session.get_service_model(service)
        prefix = model.metadata.get("signingName", service)
        for operation in model.operation_names:
            found.setdefault(xform_name(operation), []).append(f"{prefix}:{operation}")
    return found


def _resolve(name: str, receiver: ast.expr) -> list[str]:
    """The action a call of ``name`` on ``receiver`` makes: the client's service, named by its variable."""
    candidates = _operations()[name]
    text = ast.unparse(receiver)
    named = [action for action in candidates if action.split(":")[0] in text]
    return named or candidates


def deploy_tool_actions() -> set[str]:
    """Every AWS operation the deploy tool's code calls: client methods, paginators, and operation names passed
    to a helper beside the client."""
    files = [path for path in (ROOT / "tools").rglob("*.py") if "deploy" in path.relative_to(ROOT / "tools").as_posix()]
    assert files
    actions: set[str] = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            if isinstance(node.func, ast.Attribute):
                name = node.func.attr
                if name in ("get_paginator", "get_waiter") and node.args and isinstance(node.args[0], ast.Constant):
                    actions.update(_resolve(node.args[0].value, node.func.value))
                elif name in _operations():
                    actions.update(_resolve(name, node.func.value))
            for argument in node.args[1:]:
                if isinstance(argument, ast.Constant) and argument.value in _operations():
                    actions.update(_resolve(argument.value, node.args[0]))
    return actions


@cache
def _providers() -> dict[str, str]:
    schemas = Path(cfnlint.__file__).parent / "data" / "schemas"
    return json.loads((schemas / "providers" / "us-east-1.json").read_text())


def resource_actions(resource_type: str) -> set[str]:
    """What CloudFormation's resource provider calls to create, update and delete a resource of this type."""
    schemas = Path(cfnlint.__file__).parent / "data" / "schemas" / "resources"
    handlers = json.loads((schemas / f"{_providers()[resource_type]}.json").read_text()).get("handlers", {})
    return {
        action
        for step in ("create", "update", "delete")
        for action in handlers.get(step, {}).get("permissions", [])
        if IAM_ACTION.fullmatch(action) and action.split(":")[0] not in NOT_SET_HERE
    }


def resource_types() -> set[str]:
    return {
        resource["Type"]
        for name in TEMPLATES
        for resource in Template.load(name).body["Resources"].values()
        if resource["Type"].startswith("AWS::")
    }


def example_policy() -> dict[str, list[str]]:
    """The page's example policy: each statement's Sid and its actions."""
    (block,) = re.findall(r"```json\n(.*?)```", PAGE.read_text(), re.DOTALL)
    statements = json.loads(block)["Statement"]
    return {statement["Sid"]: statement["Action"] for statement in statements}


def _uncovered(actions: set[str], patterns: list[str]) -> list[str]:
    # IAM matches actions case-insensitively, with * and ? as wildcards.
    return sorted(a for a in actions if not any(fnmatchcase(a.lower(), p.lower()) for p in patterns))


def test_the_deploy_tool_actions_are_found_in_its_code():
    actions = deploy_tool_actions()
    assert {"cloudformation:CreateChangeSet", "s3:PutObject", "organizations:ListAccounts"} <= actions


def test_the_example_policy_grants_every_operation_the_deploy_tool_calls():
    assert _uncovered(deploy_tool_actions(), example_policy()["DeployTool"]) == []


def test_the_deploy_tool_statement_names_only_operations_the_tool_calls():
    assert sorted(set(example_policy()["DeployTool"]) - deploy_tool_actions()) == []


def test_the_example_policy_grants_what_cloudformation_calls_for_every_resource_of_the_templates():
    needed = set().union(*(resource_actions(resource_type) for resource_type in resource_types()))
    assert len(needed) > 100
    assert _uncovered(needed, example_policy()["StackResources"]) == []


def test_the_page_names_every_resource_type_the_templates_create():
    text = PAGE.read_text()
    assert sorted(t for t in resource_types() if f"`{t}`" not in text) == []


def test_an_operation_left_out_of_the_policy_is_caught():
    assert _uncovered({"cloudformation:CreateChangeSet"}, ["cloudformation:Describe*"]) == [
        "cloudformation:CreateChangeSet"
    ]
