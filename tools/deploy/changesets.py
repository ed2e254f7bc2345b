"""Change sets: create one for a stack, show what it changes, execute it and follow the stack to its end.

Like ``aws cloudformation deploy``, every parameter not given keeps the stack's current value. ``Run`` holds what
every stack of one run shares is :class:`tools.deploy.run.Run`.

Example::

    deploy(boto3.client("cloudformation"), "console-mfa", template_text, {"CodeBucket": "b"})  # "CREATE_COMPLETE"
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mfa_audit.templates import Template
from tools.deploy.aws import DeployError, StillRunning, error_line
from tools.deploy.stacksets import StackSetWatch

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]


# CloudFormation's limit on one parameter value.
PARAMETER_VALUE_LIMIT = 4096


NO_CHANGES = ("didn't contain changes", "No updates are to be performed")


DEFAULT_WAIT_MINUTES = 360


@dataclass
class Plan:
    """A change set, created but not executed, and what it would change."""

    stack: str
    change_set_id: str
    creates_stack: bool
    stack_id: str = ""
    # True when the stack did not exist before this run: only then may the run delete it.
    created_stack: bool = False
    parameter_changes: list[str] = field(default_factory=list)
    resource_changes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        verb = "create" if self.creates_stack else "update"
        lines = [f"Change set for stack {self.stack} ({verb}):", "  parameters:"]
        lines += [f"    {line}" for line in self.parameter_changes] or ["    (none changed)"]
        lines.append("  resources:")
        lines += [f"    {line}" for line in self.resource_changes] or ["    (none changed)"]
        return "\n".join(lines)


def current_stack(cloudformation: Any, stack: str) -> dict[str, Any] | None:
    """The stack as it stands, or None when there is none to update."""
    try:
        found = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    status = found["StackStatus"]
    if status == "REVIEW_IN_PROGRESS":  # only an unexecuted change set: still a creation
        return None
    if status == "ROLLBACK_COMPLETE" or status.endswith("_IN_PROGRESS"):
        raise DeployError(
            f"stack {stack} is {status}; "
            + (
                f"delete it (aws cloudformation delete-stack --stack-name {stack}) and deploy again"
                if status == "ROLLBACK_COMPLETE"
                else "wait for it to finish and deploy again"
            )
        )
    return found


def stack_parameters(stack: dict[str, Any] | None) -> dict[str, str]:
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in (stack or {}).get("Parameters", [])}


def parameter_list(
    template_defaults: dict[str, str | None], given: dict[str, str], current: dict[str, str]
) -> list[dict[str, Any]]:
    """Given values; for the rest, the current value where the stack has one, else the template's default.

    Defaults are spelled out rather than left implicit, so the change set lists every value the
    stack will hold (CloudFormation resolves an omitted parameter to the same default).
    """
    parameters: list[dict[str, Any]] = []
    for key, default in sorted(template_defaults.items()):
        if key in given:
            parameters.append({"ParameterKey": key, "ParameterValue": given[key]})
        elif key in current:
            parameters.append({"ParameterKey": key, "UsePreviousValue": True})
        elif default is not None:
            parameters.append({"ParameterKey": key, "ParameterValue": default})
    return parameters


def _parameter_changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    changes = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if old is None:
            changes.append(f"{key}: {new!r} (new)")
        elif new is None:
            changes.append(f"{key}: {old!r} (removed)")
        else:
            changes.append(f"{key}: {old!r} -> {new!r}")
    return changes


def _resource_changes(changes: list[dict[str, Any]]) -> list[str]:
    lines = []
    for change in changes:
        resource = change.get("ResourceChange", {})
        replacement = resource.get("Replacement")
        suffix = f" (replacement: {replacement})" if replacement and resource.get("Action") == "Modify" else ""
        lines.append(
            f"{resource.get('Action', '?')} {resource.get('LogicalResourceId', '?')} "
            f"[{resource.get('ResourceType', '?')}]{suffix}"
        )
    return lines


def stack_status(cloudformation: Any, stack_id: str) -> str | None:
    try:
        return cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise


def discard(cloudformation: Any, planned: Plan) -> None:
    """Delete the change set and, when this run created the stack for it, the stack (REVIEW_IN_PROGRESS, empty)."""
    with contextlib.suppress(ClientError):
        cloudformation.delete_change_set(ChangeSetName=planned.change_set_id)
    if planned.created_stack and stack_status(cloudformation, planned.stack_id) == "REVIEW_IN_PROGRESS":
        cloudformation.delete_stack(StackName=planned.stack_id)


@dataclass
class Waiting:
    """How long to follow CloudFormation, and how (the clock and sleep are injectable for tests)."""

    timeout_seconds: float = DEFAULT_WAIT_MINUTES * 60
    poll_seconds: float = 10
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def left_since(self, started: float) -> Waiting:
        """The time left of this budget since ``started``: one --wait-minutes for all the stacks of a run."""
        return replace(self, timeout_seconds=max(0.0, self.timeout_seconds - (self.clock() - started)))


def _wait_for_change_set(cloudformation: Any, change_set_id: str, waiting: Waiting) -> dict[str, Any]:
    started = waiting.clock()
    while True:
        description = cloudformation.describe_change_set(ChangeSetName=change_set_id)
        if description["Status"] not in ("CREATE_PENDING", "CREATE_IN_PROGRESS"):
            return description
        if waiting.clock() - started >= waiting.timeout_seconds:
            raise DeployError(f"change set {change_set_id} is still {description['Status']}; nothing was changed")
        waiting.sleep(waiting.poll_seconds)


def plan(
    cloudformation: Any, stack: str, template: str, given: dict[str, str], waiting: Waiting | None = None
) -> Plan | None:
    """Create a change set and describe it; None when it would change nothing."""
    waiting = waiting or Waiting()
    cloudformation.validate_template(TemplateBody=template)
    declared = Template.from_text(template).declared_parameters()
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise DeployError(
            f"not a parameter of this template: {', '.join(unknown)}; it has {', '.join(sorted(declared))}"
        )
    for key, value in given.items():
        if len(value) > PARAMETER_VALUE_LIMIT:
            raise DeployError(
                f"parameter {key} is {len(value)} characters; CloudFormation takes {PARAMETER_VALUE_LIMIT}"
            )
    existing = current_stack(cloudformation, stack)
    # A stack left in REVIEW_IN_PROGRESS by someone else is reused as CloudFormation allows, never deleted.
    stack_existed = existing is not None or stack_status(cloudformation, stack) is not None
    before = stack_parameters(existing)
    try:
        created = cloudformation.create_change_set(
            StackName=stack,
            ChangeSetName=f"deploy-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(4)}",
            ChangeSetType="UPDATE" if existing else "CREATE",
            TemplateBody=template,
            Parameters=parameter_list(declared, given, before),
            Capabilities=CAPABILITIES,
        )
    except ClientError as error:
        # CloudFormation usually reports "no changes" as a FAILED change set (below), some endpoints at once.
        if any(marker in str(error) for marker in NO_CHANGES):
            return None
        raise
    planned = Plan(
        stack=stack,
        change_set_id=created["Id"],
        # The stack's id, not its name: a name can stand for an older stack in REVIEW_IN_PROGRESS.
        stack_id=created.get("StackId") or stack,
        creates_stack=existing is None,
        created_stack=not stack_existed,
    )
    try:
        description = _wait_for_change_set(cloudformation, planned.change_set_id, waiting)
        if description["Status"] == "FAILED":
            reason = description.get("StatusReason", "")
            if any(marker in reason for marker in NO_CHANGES):
                discard(cloudformation, planned)
                return None
            raise DeployError(f"CloudFormation refused the change set: {reason}")
    except BaseException:
        discard(cloudformation, planned)
        raise
    after = {p["ParameterKey"]: p.get("ParameterValue", "") for p in description.get("Parameters", [])}
    planned.parameter_changes = _parameter_changes(before, after)
    planned.resource_changes = _resource_changes(description.get("Changes", []))
    return planned


def _event_line(event: dict[str, Any]) -> str:
    when = event.get("Timestamp")
    stamp = when.strftime("%H:%M:%S") if hasattr(when, "strftime") else str(when or "")
    reason = event.get("ResourceStatusReason")
    return f"  {stamp} {event.get('LogicalResourceId', '?')} {event.get('ResourceStatus', '?')}" + (
        f": {reason}" if reason else ""
    )


def new_events(cloudformation: Any, stack_id: str, seen: set[str]) -> list[dict[str, Any]]:
    """Events not seen before, oldest first; reads pages only until it meets one already seen."""
    fresh: list[dict[str, Any]] = []
    for page in cloudformation.get_paginator("describe_stack_events").paginate(StackName=stack_id):
        for event in page["StackEvents"]:  # newest first
            if event["EventId"] in seen:
                return list(reversed(fresh))
            fresh.append(event)
    return list(reversed(fresh))


def follow_stack(
    cloudformation: Any,
    planned: Plan,
    region: str,
    waiting: Waiting,
    say: Callable[[str], None] = print,
    stack_set: StackSetWatch | Sequence[StackSetWatch] | None = None,
    seen: set[str] | None = None,
) -> str:
    """Print the stack's events (and its StackSets' accounts) as they come, until the stack stops moving.

    Returns the final status; raises StillRunning, naming the commands to follow it, after the timeout.
    """
    seen = set() if seen is None else seen
    watches = _watches(stack_set)
    started = waiting.clock()
    last_progress: dict[str, str] = {}
    while True:
        status = stack_status(cloudformation, planned.stack_id) or "DELETE_COMPLETE"
        for event in new_events(cloudformation, planned.stack_id, seen):
            seen.add(event["EventId"])
            say(_event_line(event))
        for watch in list(watches):
            try:
                progress = watch.progress(cloudformation)
            except ClientError as error:
                # Progress is a courtesy: a caller who may not list instances still gets the stack followed.
                say(f"  (cannot read the StackSet's progress, following the stack only: {error_line(error)})")
                watches = []
                break
            line = progress.line(watch.name, watch.what) if progress else ""
            if line and line != last_progress.get(watch.name):
                say(line)
                last_progress[watch.name] = line
        # Right after execution a new stack can still read REVIEW_IN_PROGRESS: that, too, is still moving.
        if not status.endswith("_IN_PROGRESS"):
            return status
        elapsed = waiting.clock() - started
        if elapsed >= waiting.timeout_seconds:
            follow = [f"aws cloudformation describe-stack-events --stack-name {planned.stack} --region {region}"]
            follow += [watch.follow_command(region) for watch in watches]
            raise StillRunning(
                f"stopped waiting after {elapsed / 60:.0f} minutes: stack {planned.stack} is still {status} "
                f"and CloudFormation carries on; follow it with: {' ; '.join(follow)}"
            )
        waiting.sleep(waiting.poll_seconds)


def _watches(stack_set: StackSetWatch | Sequence[StackSetWatch] | None) -> list[StackSetWatch]:
    if stack_set is None:
        return []
    return [stack_set] if isinstance(stack_set, StackSetWatch) else list(stack_set)


def apply(
    cloudformation: Any,
    planned: Plan,
    region: str = "",
    waiting: Waiting | None = None,
    say: Callable[[str], None] = print,
    stack_set: StackSetWatch | Sequence[StackSetWatch] | None = None,
) -> str:
    """Execute the change set and follow the stack until it finishes; return its final status."""
    waiting = waiting or Waiting()
    seen = {event["EventId"] for event in new_events(cloudformation, planned.stack_id, set())}
    cloudformation.execute_change_set(ChangeSetName=planned.change_set_id)
    status = follow_stack(cloudformation, planned, region, waiting, say, stack_set, seen)
    if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        raise DeployError(
            f"stack {planned.stack} ended {status} (the events above say why): "
            f"aws cloudformation describe-stack-events --stack-name {planned.stack}"
            + (f" --region {region}" if region else "")
        )
    return status


@dataclass(frozen=True)
class Deployment:
    """How a deployment ended, and which stack it was (by id: a name can also stand for a stack in review)."""

    status: str
    stack: str


def deploy_stack(
    cloudformation: Any,
    stack: str,
    template: str,
    given: dict[str, str],
    confirm: Callable[[Plan], bool] = lambda _: True,
    say: Callable[[str], None] = print,
    region: str = "",
    waiting: Waiting | None = None,
    stack_set: StackSetWatch | Sequence[StackSetWatch] | None = None,
) -> Deployment:
    """Plan, show, confirm, apply. Returns the status (UNCHANGED when nothing changes), or raises DeployError."""
    planned = plan(cloudformation, stack, template, given, waiting)
    if planned is None:
        return Deployment("UNCHANGED", stack)
    say(planned.describe())
    try:
        confirmed = confirm(planned)
        if not confirmed:
            raise DeployError("nothing was changed (not confirmed); run again with --yes to apply without asking")
    except BaseException:
        discard(cloudformation, planned)
        raise
    try:
        return Deployment(apply(cloudformation, planned, region, waiting, say, stack_set), planned.stack_id)
    except StillRunning:
        raise
    except BaseException:
        # Only a change set that never started executing leaves the stack in REVIEW_IN_PROGRESS.
        with contextlib.suppress(ClientError, BotoCoreError):
            if stack_status(cloudformation, planned.stack_id) == "REVIEW_IN_PROGRESS":
                discard(cloudformation, planned)
        raise


def deploy(
    cloudformation: Any,
    stack: str,
    template: str,
    given: dict[str, str],
    confirm: Callable[[Plan], bool] = lambda _: True,
    say: Callable[[str], None] = print,
) -> str:
    """deploy_stack's status alone: ``deploy(cloudformation, "console-mfa", template, {"CodeBucket": "b"})``."""
    return deploy_stack(cloudformation, stack, template, given, confirm, say).status


def stack_outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    return {output["OutputKey"]: output.get("OutputValue", "") for output in outputs}


def stack_output(cloudformation: Any, stack: str, name: str) -> str:
    outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    for output in outputs:
        if output["OutputKey"] == name:
            return output["OutputValue"]
    raise DeployError(f"stack {stack} has no output {name}, so the deployed code cannot be verified")
