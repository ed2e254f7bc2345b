"""Evaluate a CloudFormation template's intrinsic functions for given parameters, as CloudFormation would.

Tests use it to see what a stack really sends (a rule's InputParameters, a policy's ARNs) for a
parameter set, rather than reading the unresolved template. It covers the functions our templates use.

    template = Template.load("cloudformation/rule.yaml")
    stack = template.resolve({"CodeBucket": "b", "ExemptUsers": ""})
    stack.resources["ConfigRule"]["Properties"]["InputParameters"]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfnlint.decode import decode_str

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "cloudformation"
ACCOUNT_ID = "123456789012"
PSEUDO = {
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::StackName": "console-mfa",
    "AWS::URLSuffix": "amazonaws.com",
}
NO_VALUE = object()
_SUB = re.compile(r"\$\{(!?)([^}]+)\}")


@dataclass
class Stack:
    """A template's resources and outputs with every intrinsic function evaluated."""

    parameters: dict[str, Any]
    conditions: dict[str, bool]
    resources: dict[str, dict[str, Any]]


class Template:
    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    @classmethod
    def load(cls, name: str) -> Template:
        body, errors = decode_str((TEMPLATES / name).read_text())
        assert not errors, errors
        return cls(body)

    @property
    def parameters(self) -> dict[str, dict[str, Any]]:
        return self.body.get("Parameters", {})

    def resolve(self, given: dict[str, str]) -> Stack:
        unknown = set(given) - set(self.parameters)
        assert not unknown, f"not parameters of the template: {unknown}"
        values: dict[str, Any] = {}
        for name, spec in self.parameters.items():
            raw = given.get(name, spec.get("Default"))
            assert raw is not None, f"parameter {name} has no default and was not given"
            raw = str(raw)
            values[name] = [item for item in raw.split(",")] if spec["Type"] == "CommaDelimitedList" else raw
            if raw == "" and spec["Type"] == "CommaDelimitedList":
                values[name] = [""]
        stack = Stack(values, {}, {})
        for name in self.body.get("Conditions", {}):
            self._condition(name, stack)
        for logical_id, resource in self.body["Resources"].items():
            if "Condition" in resource and not stack.conditions[resource["Condition"]]:
                continue
            stack.resources[logical_id] = _strip(self._eval(resource, stack))
        return stack

    def _condition(self, name: str, stack: Stack) -> bool:
        if name not in stack.conditions:
            stack.conditions[name] = bool(self._eval(self.body["Conditions"][name], stack))
        return stack.conditions[name]

    def _eval(self, node: Any, stack: Stack) -> Any:  # noqa: C901 - one branch per intrinsic function
        if isinstance(node, list):
            return [self._eval(item, stack) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((function, argument),) = node.items()
            if function == "Ref":
                if argument == "AWS::NoValue":
                    return NO_VALUE
                if argument in PSEUDO:
                    return PSEUDO[argument]
                if argument in stack.parameters:
                    return stack.parameters[argument]
                return f"ref:{argument}"
            if function == "Fn::GetAtt":
                return f"getatt:{'.'.join(argument)}"
            if function == "Fn::If":
                condition, when_true, when_false = argument
                return self._eval(when_true if self._condition(condition, stack) else when_false, stack)
            if function == "Condition":
                return self._condition(argument, stack)
            if function == "Fn::Equals":
                left, right = (self._eval(a, stack) for a in argument)
                return left == right
            if function == "Fn::Not":
                return not self._eval(argument[0], stack)
            if function == "Fn::And":
                return all(self._eval(a, stack) for a in argument)
            if function == "Fn::Or":
                return any(self._eval(a, stack) for a in argument)
            if function == "Fn::Join":
                separator, items = argument
                return separator.join(str(i) for i in self._eval(items, stack))
            if function == "Fn::Split":
                separator, text = argument
                return self._eval(text, stack).split(separator)
            if function == "Fn::Sub":
                return self._sub(argument, stack)
        return {key: self._eval(value, stack) for key, value in node.items()}

    def _sub(self, text: str, stack: Stack) -> str:
        def replace(match: re.Match[str]) -> str:
            if match.group(1):  # ${!Literal} stays ${Literal}
                return "${" + match.group(2) + "}"
            name = match.group(2)
            if "." in name:
                return f"getatt:{name}"
            value = self._eval({"Ref": name}, stack)
            return ",".join(value) if isinstance(value, list) else str(value)

        return _SUB.sub(replace, text)


def _strip(node: Any) -> Any:
    """Drop AWS::NoValue, as CloudFormation does."""
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if v is not NO_VALUE}
    if isinstance(node, list):
        return [_strip(v) for v in node if v is not NO_VALUE]
    return node
