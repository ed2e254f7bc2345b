"""The project's CloudFormation templates: where they are, the names more than one reader relies on, and one reader.

The deploy tool (``tools/deploy``), the doctor, ``mfa-audit demo --walkthrough`` and the tests read the
same templates. The names they share (parameters, outputs, logical ids, a metric) are defined here once,
so that a rename in a template breaks one line, not four rooms. The reader loads a template with
CloudFormation's short forms (``!Ref``, ``!Sub``, ``!GetAtt`` ...) as their long forms, and evaluates the
intrinsic functions the templates use for a given parameter set, as CloudFormation would.

Not in the Lambda zip (it packs the rule folder only). PyYAML is imported only when a template is read,
so the doctor can use the names without it.

Example::

    template = Template.load(RULE_TEMPLATE)
    template.declared_parameters()[EVENTS_SWITCH]            # 'true' (its default)
    stack = template.resolve({"CodeBucket": "b", "CodeKey": "k"})
    stack.resources["ConfigRule"]["Properties"]["InputParameters"]
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# In a source checkout (src/mfa_audit/ -> the repository); the templates are not installed with the package.
TEMPLATE_DIRECTORY = Path(__file__).resolve().parents[2] / "cloudformation"

# --- the templates ---
RULE_TEMPLATE = "rule.yaml"
ORGANIZATION_TEMPLATE = "organization.yaml"
MEMBER_ROLE_TEMPLATE = "member-role.yaml"
CONFORMANCE_PACK_TEMPLATE = "conformance-pack.yaml"
IAM_EVENTS_TEMPLATE = "iam-events.yaml"
IAM_EVENTS_FORWARDER_TEMPLATE = "iam-events-forwarder.yaml"

# --- parameters read by more than one room ---
# The event path's switch: on the event stacks and on the rule templates that decide the triggers by it.
EVENTS_SWITCH = "ReevaluateOnIamChange"
ENFORCEMENT = "Enforcement"
ENFORCEMENT_MODES = ("off", "manual", "automatic")
CODE_BUCKET, CODE_KEY, CODE_OBJECT_VERSION = "CodeBucket", "CodeKey", "CodeObjectVersion"
ALARM_EMAIL, ALARM_TOPIC_PARAMETER = "AlarmEmail", "AlarmTopicArn"
GRACE_PERIOD_DAYS, NOTICE_SENDER, MAX_ENFORCEMENTS_PER_DAY = "GracePeriodDays", "NoticeSender", "MaxEnforcementsPerDay"

# --- stack outputs ---
FUNCTION_ARN = "FunctionArn"
FUNCTION_ROLE_ARN = "FunctionRoleArn"
CONFIG_RULE_NAME = "ConfigRuleName"
ALARM_TOPIC_ARN = "AlarmTopicArn"
FAILED_INVOCATIONS_QUEUE_URL = "FailedInvocationsQueueUrl"
ENFORCEMENT_FUNCTION_ARN = "EnforcementFunctionArn"
EVENT_BUS_ARN = "EventBusArn"

# --- rule.yaml's enforcement resources (logical ids) and the metric its alarm watches ---
FORCE_MFA_GROUP = "ForceMfaGroup"
FORCE_MFA_POLICY = "ForceMfaPolicy"
ENFORCEMENT_LEDGER = "EnforcementLedger"
ENFORCEMENT_SWITCH = "EnforcementSwitch"
ENFORCEMENT_DOCUMENT = "EnforcementDocument"
ALARM_TOPIC = "AlarmTopic"
ENFORCEMENTS_HELD_BACK_METRIC = ("IAM_USER_CONSOLE_MFA", "EnforcementsHeldBack")

# Pseudo parameters for an example account; ``resolve(..., pseudo=...)`` overrides any of them.
EXAMPLE_ACCOUNT_ID = "123456789012"
PSEUDO_PARAMETERS = {
    "AWS::AccountId": EXAMPLE_ACCOUNT_ID,
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::StackName": "console-mfa",
    "AWS::URLSuffix": "amazonaws.com",
}
NO_VALUE = object()
_SUB_VARIABLE = re.compile(r"\$\{(!?)([^}]+)\}")
# Short forms that are not Fn::<name>.
_PLAIN_TAGS = ("Ref", "Condition")


class TemplateError(ValueError):
    """A template that cannot be read or evaluated as asked; the message names the template and the place."""


def load_body(text: str) -> dict[str, Any]:
    """A template's YAML (or JSON) as plain values, every short form in its long form.

    >>> load_body("Value: !GetAtt Topic.TopicName")
    {'Value': {'Fn::GetAtt': ['Topic', 'TopicName']}}
    """
    import yaml

    class TemplateLoader(yaml.SafeLoader):
        """CloudFormation's YAML: ``!Sub x`` is ``{"Fn::Sub": x}``, ``!Ref x`` is ``{"Ref": x}``."""

    def intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
        name = suffix if suffix in _PLAIN_TAGS else f"Fn::{suffix}"
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
    # A SafeLoader: it builds plain values only.
    return yaml.load(text, Loader=TemplateLoader) or {}  # noqa: S506  # nosec B506


@dataclass
class Stack:
    """A template's parameter values, conditions and resources with every intrinsic function evaluated.

    A resource's own attributes are placeholders: ``Ref`` to a resource is ``ref:<id>``, ``Fn::GetAtt`` is
    ``getatt:<id>.<attribute>`` (what only CloudFormation knows after creating it).
    """

    parameters: dict[str, Any]
    conditions: dict[str, bool] = field(default_factory=dict)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)


class Template:
    """One template's body, read once; ask it for its parameters, or resolve it for a parameter set."""

    def __init__(self, body: Mapping[str, Any], source: str = "template") -> None:
        self.body = body
        self.source = source

    @classmethod
    def load(cls, name: str | Path) -> Template:
        """A template by its name in ``cloudformation/`` (``"rule.yaml"``), or by its path."""
        path = TEMPLATE_DIRECTORY / name
        try:
            text = path.read_text()
        except OSError as error:
            raise TemplateError(f"{path} cannot be read ({error.strerror}): run this from a source checkout") from error
        return cls.from_text(text, path.name)

    @classmethod
    def from_text(cls, text: str, source: str = "template") -> Template:
        return cls(load_body(text), source)

    @property
    def parameters(self) -> dict[str, dict[str, Any]]:
        return self.body.get("Parameters") or {}

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.body.get("Resources") or {}

    def declared_parameters(self) -> dict[str, str | None]:
        """Each parameter the template declares, with its default (None: it has none)."""
        return {name: None if "Default" not in spec else str(spec["Default"]) for name, spec in self.parameters.items()}

    def resolve(self, given: Mapping[str, str], pseudo: Mapping[str, str] | None = None) -> Stack:
        """Every resource (whose condition holds) with its functions evaluated for ``given`` and the defaults."""
        unknown = set(given) - set(self.parameters)
        if unknown:
            raise TemplateError(f"{self.source}: not parameters of the template: {sorted(unknown)}")
        missing = [name for name, spec in self.parameters.items() if name not in given and "Default" not in spec]
        if missing:
            raise TemplateError(f"{self.source}: parameters without a default and not given: {missing}")
        evaluation = _Evaluation(self, self._values(given), {**PSEUDO_PARAMETERS, **(pseudo or {})}, strict=False)
        for name in self.body.get("Conditions", {}):
            evaluation.condition(name)
        for logical_id, resource in self.resources.items():
            if "Condition" in resource and not evaluation.condition(resource["Condition"]):
                continue
            evaluation.stack.resources[logical_id] = _without_no_value(evaluation.evaluate(resource))
        return evaluation.stack

    def rule_holds(self, name: str, given: Mapping[str, str]) -> bool:
        """Whether the template's ``Rules`` entry ``name`` lets CloudFormation go ahead with ``given``: its
        ``RuleCondition`` does not apply, or every one of its ``Assertions`` holds."""
        rule = self.body["Rules"][name]
        evaluation = _Evaluation(self, self.resolve(given).parameters, PSEUDO_PARAMETERS, strict=False)
        applies = "RuleCondition" not in rule or evaluation.evaluate(rule["RuleCondition"])
        return not applies or all(evaluation.evaluate(assertion["Assert"]) for assertion in rule["Assertions"])

    def resolve_strictly(
        self, node: Any, pseudo: Mapping[str, str], where: str, given: Mapping[str, str] | None = None
    ) -> Any:
        """``node`` (part of this template) evaluated from pseudo parameters, ``given`` and the defaults alone.

        For a reader that creates the resources itself (the walk-through): a ``Ref`` to a resource, a
        ``Fn::GetAtt`` or a parameter without a value cannot be known there, and is refused naming ``where``.
        """
        pseudo = {**PSEUDO_PARAMETERS, **pseudo}
        evaluation = _Evaluation(self, self._values(given or {}), pseudo, strict=True, where=where)
        return _without_no_value(evaluation.evaluate(node))

    def _values(self, given: Mapping[str, str]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, spec in self.parameters.items():
            raw = given.get(name, spec.get("Default"))
            if raw is None:
                continue
            raw = str(raw)
            values[name] = raw.split(",") if spec.get("Type") == "CommaDelimitedList" else raw
        return values


class _Evaluation:
    """One evaluation of a template's functions: its parameter values, pseudo parameters and conditions."""

    def __init__(
        self, template: Template, values: dict[str, Any], pseudo: Mapping[str, str], *, strict: bool, where: str = ""
    ) -> None:
        self.template, self.pseudo, self.strict, self.where = template, pseudo, strict, where
        self.stack = Stack(values)

    def refuse(self, what: str) -> Any:
        raise TemplateError(f"{self.template.source}: {self.where} uses {what}, which cannot be resolved here")

    def condition(self, name: str) -> bool:
        conditions = self.stack.conditions
        if name not in conditions:
            conditions[name] = bool(self.evaluate(self.template.body["Conditions"][name]))
        return conditions[name]

    def evaluate(self, node: Any) -> Any:  # noqa: C901 - one branch per intrinsic function
        if isinstance(node, list):
            return [self.evaluate(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((function, argument),) = node.items()
            if function == "Ref":
                return self.reference(argument)
            if function == "Fn::GetAtt":
                return self.refuse(f"Fn::GetAtt {argument}") if self.strict else f"getatt:{'.'.join(argument)}"
            if function == "Fn::If":
                condition, when_true, when_false = argument
                return self.evaluate(when_true if self.condition(condition) else when_false)
            if function == "Condition":
                return self.condition(argument)
            if function == "Fn::Equals":
                left, right = (self.evaluate(a) for a in argument)
                return left == right
            if function == "Fn::Not":
                return not self.evaluate(argument[0])
            if function == "Fn::And":
                return all(self.evaluate(a) for a in argument)
            if function == "Fn::Or":
                return any(self.evaluate(a) for a in argument)
            if function == "Fn::Join":
                separator, items = argument
                return separator.join(str(i) for i in self.evaluate(items))
            if function == "Fn::Split":
                separator, text = argument
                return self.evaluate(text).split(separator)
            if function == "Fn::Sub" and isinstance(argument, str):
                return self.substitute(argument)
            if function.startswith("Fn::"):
                return self.refuse(function) if self.strict else {function: self.evaluate(argument)}
        return {key: self.evaluate(value) for key, value in node.items()}

    def reference(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.stack.parameters:
            return self.stack.parameters[name]
        return self.refuse(f"Ref {name}") if self.strict else f"ref:{name}"

    def substitute(self, text: str) -> str:
        def value(match: re.Match[str]) -> str:
            if match.group(1):  # ${!Literal} stays ${Literal} (an IAM policy variable)
                return "${" + match.group(2) + "}"
            name = match.group(2)
            if "." in name:
                return self.refuse(f"${{{name}}}") if self.strict else f"getatt:{name}"
            found = self.reference(name)
            return ",".join(found) if isinstance(found, list) else str(found)

        return _SUB_VARIABLE.sub(value, text)


def _without_no_value(node: Any) -> Any:
    """Drop AWS::NoValue, as CloudFormation does."""
    if isinstance(node, dict):
        return {k: _without_no_value(v) for k, v in node.items() if v is not NO_VALUE}
    if isinstance(node, list):
        return [_without_no_value(v) for v in node if v is not NO_VALUE]
    return node
