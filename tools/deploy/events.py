"""Re-evaluation on IAM change: the event path's stacks (iam-events.yaml, and its forwarder in us-east-1), on or off.

Example::

    EventStacks("iam-user-console-mfa", "eu-west-1").described()
    # "iam-user-console-mfa-events in eu-west-1 and iam-user-console-mfa-events-forwarder in us-east-1"
"""

from __future__ import annotations

from dataclasses import dataclass

from mfa_audit.templates import (
    ALARM_TOPIC_PARAMETER,
    CONFIG_RULE_NAME,
    EVENTS_SWITCH,
    IAM_EVENTS_FORWARDER_TEMPLATE,
    IAM_EVENTS_TEMPLATE,
    TEMPLATE_DIRECTORY,
    Template,
)
from tools.deploy.artifacts import UploadedObject, code_parameters, verify_function_code
from tools.deploy.aws import DeployError
from tools.deploy.changesets import current_stack, stack_outputs
from tools.deploy.run import Run

# IAM's events reach EventBridge only on this Region's default bus (the aws partition).
IAM_EVENTS_REGION = "us-east-1"


def events_wanted(
    flag: bool | None, given: dict[str, str], deployed_rule: dict[str, str], deployed_events: dict[str, str]
) -> bool:
    """--events / --no-events; else ReevaluateOnIamChange given; else as deployed (the rule's stack, then the
    event stack); else on. A plain redeploy never turns the event path back on, or off, by itself."""
    if flag is not None:
        if EVENTS_SWITCH in given:
            raise DeployError(f"{EVENTS_SWITCH} is given both as a flag (--events / --no-events) and as a parameter")
        return flag
    for source in (given, deployed_rule, deployed_events):
        if EVENTS_SWITCH in source:
            value = source[EVENTS_SWITCH].strip().lower()
            if value not in ("true", "false"):
                raise DeployError(f"{EVENTS_SWITCH} {source[EVENTS_SWITCH]!r} is not true or false")
            return value == "true"
    return True


def switch(on: bool) -> str:
    return "true" if on else "false"


def with_events_switch(template: str, parameters: dict[str, str], on: bool) -> dict[str, str]:
    """``parameters`` with ReevaluateOnIamChange set, when ``template`` declares it (a rule template without the
    parameter just does not get it)."""
    if EVENTS_SWITCH not in Template.from_text(template).declared_parameters():
        return parameters
    return {**parameters, EVENTS_SWITCH: switch(on)}


@dataclass(frozen=True)
class EventStacks:
    """The event path's stacks, named after the rule's stack (the doctor's --events-stack default is the event
    stack's name): iam-events.yaml in the rule's Region, its forwarder in us-east-1 when that is another Region."""

    rule_stack: str
    region: str

    @property
    def events(self) -> str:
        return f"{self.rule_stack}-events"

    @property
    def forwarder(self) -> str:
        return f"{self.rule_stack}-events-forwarder"

    @property
    def needs_forwarder(self) -> bool:
        return self.region != IAM_EVENTS_REGION

    def described(self) -> str:
        forwarder = f" and {self.forwarder} in {IAM_EVENTS_REGION}" if self.needs_forwarder else ""
        return f"{self.events} in {self.region}{forwarder}"


def deploy_event_stack(
    run: Run,
    stacks: EventStacks,
    code: UploadedObject,
    on: bool,
    *,
    alarm_topic: str,
    rule_name: str | None = None,
    organization_id: str = "",
) -> dict[str, str]:
    """iam-events.yaml in the rule's Region, from the rule's zip; returns its outputs ({} when there is none).

    Off: a stack deployed before is switched off (its event rule and queue reader disabled, nothing invoked or
    billed) and none is created.
    """
    cloudformation = run.client("cloudformation", stacks.region)
    if not on and current_stack(cloudformation, stacks.events) is None:
        return {}
    parameters = {
        **code_parameters(code),
        ALARM_TOPIC_PARAMETER: alarm_topic,
        "OrganizationId": organization_id,
        EVENTS_SWITCH: switch(on),
    }
    if rule_name is not None:
        parameters[CONFIG_RULE_NAME] = rule_name
    done = run.deploy(stacks.region, stacks.events, (TEMPLATE_DIRECTORY / IAM_EVENTS_TEMPLATE).read_text(), parameters)
    verify_function_code(cloudformation, run.client("lambda", stacks.region), done.stack, code)
    run.say(
        f"stack {stacks.events} in {stacks.region}: {done.status} (re-evaluation on IAM change "
        f"{'on' if on else 'off'}; its function runs the local zip)"
    )
    return stack_outputs(cloudformation, done.stack)


def deploy_forwarder(run: Run, stacks: EventStacks, on: bool, target_bus: str) -> None:
    """iam-events-forwarder.yaml in us-east-1 (only when the rule's Region is another), to ``target_bus``.

    Off: a forwarder deployed before is switched off, and none is created."""
    if not stacks.needs_forwarder:
        return
    if not on and current_stack(run.client("cloudformation", IAM_EVENTS_REGION), stacks.forwarder) is None:
        return
    parameters = {EVENTS_SWITCH: switch(on)}
    if target_bus:
        parameters["TargetEventBusArn"] = target_bus
    done = run.deploy(
        IAM_EVENTS_REGION,
        stacks.forwarder,
        (TEMPLATE_DIRECTORY / IAM_EVENTS_FORWARDER_TEMPLATE).read_text(),
        parameters,
    )
    run.say(
        f"stack {stacks.forwarder} in {IAM_EVENTS_REGION}: {done.status} (forwards IAM changes to "
        f"{target_bus or 'the bus it was given before'}; {'on' if on else 'off'})"
    )
