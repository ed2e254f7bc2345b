"""Deploy the rule: upload the Lambda zip, then create or update the stack through a change set.

    python -m tools.deploy --bucket my-artifacts --region us-east-1 [--stack iam-user-console-mfa]
        [--parameter GracePeriodDays=14 --parameter AlarmEmail=secops@example.com ...] [--yes]
    python -m tools.deploy --organization --bucket my-artifacts --region us-east-1 [--parameter ...] [--yes]
    python -m tools.deploy --member-role --region us-east-1 --parameter FunctionRoleArn=arn:... [--yes]

Like ``aws cloudformation deploy``, every stack parameter not given keeps its current value
(new parameters take their default), so a plain code update never resets an exemption. Before
anything changes it prints the change set: parameters and resources. It applies without asking
with ``--yes`` or when ``CI=true``; otherwise it asks on a terminal, and refuses without one.

``--organization`` reads AWS Organizations to fill ``OrganizationId``, ``CallAs`` (SELF from the
management account, DELEGATED_ADMIN from a delegated administrator), ``DeploymentOrganizationalUnitIds``
(the root, unless given or deployed before) and ``AccountsWithoutMemberRole`` (the accounts the member
role will not reach, which the organization rule must leave out). ``--member-role`` deploys
``member-role.yaml`` into the current account: the management account, when the organization stack
was deployed from a delegated administrator.

Re-evaluation on IAM change (docs/freshness-and-cost.md), on unless ``--no-events``: after the rule's
stack, ``iam-events.yaml`` as ``<stack>-events`` in ``--region`` (the same zip, key and pinned version; the
rule's name and alarm topic from the rule stack's outputs) and, when ``--region`` is not us-east-1 (the only
Region IAM's events reach), ``iam-events-forwarder.yaml`` as ``<stack>-events-forwarder`` in us-east-1. With
``--organization`` the event stack comes first (with the organization's bus policy), and the organization
stack gets its role for the member role's re-evaluation role and a StackSet of forwarders for every account.
``--no-events`` passes ``ReevaluateOnIamChange=false`` (to every template that declares it), creates no event
stack and switches off those deployed before; neither flag: as deployed before. ``--wait-minutes`` is one
budget for all the stacks of a run.

Enforcement (docs/enforcement-organization.md): ``--enforcement off|manual|automatic`` (with
``--max-enforcements-per-day`` and, for the account stack, ``--notice-sender``) sets the stack's
Enforcement parameters. Enforcement other than off without AlarmEmail or AlarmTopicArn (given, or
kept from the deployed stack) is refused before anything is uploaded or changed. Which route gives
which: the account stack enforces in its account; ``--organization`` with Enforcement off deploys
the organization Config rule, which cannot have a remediation; ``--organization`` with manual or
automatic deploys, in this order, the organization stack (its enforcement function, and the
member-role StackSet, which puts the ForceMfa group, the automation document and its roles into
every account under fixed names) and then the organization conformance pack
(``conformance-pack.yaml``, the rule with its remediation) to every account the member role
reached. Turning the organization route's enforcement off again is refused while the pack exists:
delete the pack first (the tool prints the command), then run again.

Parameters also come from the environment variable ``MFA_DEPLOY_PARAMS`` (what ``make deploy
PARAMS="..."`` passes, so that nothing in a value reaches a shell): ``Key=value`` words separated by
spaces, where a word that does not start with ``Name=`` continues the previous value, so
``ExemptUsers=alice, bob GracePeriodDays=7`` is two parameters. Quote as in a shell a value that
itself contains `` Name=``: ``ExemptUsers='alice, x=y'``.

Integrity: every S3 call names the bucket's expected owner (the caller's account unless
``--bucket-owner``); the zip and the member-role template go under keys holding their SHA-256, and
the zip's object version is pinned in the stack when the bucket is versioned. After deploying, the
function's CodeSha256 and the StackSet's template are compared with the local files; a mismatch
fails (exit 2).

Waiting: the tool follows the stack until CloudFormation finishes, printing its events and the
member-role StackSet's accounts (succeeded, failed, pending); after ``--wait-minutes`` it stops
following, says what is still running and how to follow it, and exits 3. A run that is refused or
fails before executing deletes the change set, and the stack too when it created it (a stack
in REVIEW_IN_PROGRESS holds no resources).

Deploy in the Region where AWS Config records global resources (IAM). Uses the standard boto3
credential chain (AWS_PROFILE, AWS_ENDPOINT_URL, ...).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import os
import re
import secrets
import shlex
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import boto3
import yaml
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from botocore.parsers import ResponseParserError

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "cloudformation" / "rule.yaml"
ORGANIZATION_TEMPLATE = ROOT / "cloudformation" / "organization.yaml"
MEMBER_ROLE_TEMPLATE = ROOT / "cloudformation" / "member-role.yaml"
CONFORMANCE_PACK_TEMPLATE = ROOT / "cloudformation" / "conformance-pack.yaml"
IAM_EVENTS_TEMPLATE = ROOT / "cloudformation" / "iam-events.yaml"
IAM_EVENTS_FORWARDER_TEMPLATE = ROOT / "cloudformation" / "iam-events-forwarder.yaml"
# IAM's events reach EventBridge only on this Region's default bus (the aws partition).
IAM_EVENTS_REGION = "us-east-1"
# The event path's switch, on its stacks and (where the template declares it) on the rule's.
EVENTS_SWITCH = "ReevaluateOnIamChange"
CONFORMANCE_PACK_NAME = "iam-user-console-mfa"
# AWS Config takes only a literal ARN for the remediation's role (no intrinsic function), and uses its
# name in every account; the template carries this placeholder account, replaced by the deploying one.
PACK_ROLE_PLACEHOLDER = "arn:aws:iam::000000000000:role/"
# The organization stack's parameters the pack's copy of the rule takes as well.
PACK_RULE_PARAMETERS = (
    "ExemptUsers",
    "ExemptionTag",
    "MaxExemptionDays",
    "GracePeriodDays",
    "AllowedMfaTypes",
    "ReconfirmDays",
    "MaximumExecutionFrequency",
    "Enforcement",
)
ENFORCEMENT_MODES = ("off", "manual", "automatic")
DEFAULT_ZIP = ROOT / "dist" / "IAM_USER_CONSOLE_MFA.zip"
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
# CloudFormation's limit on one parameter value.
PARAMETER_VALUE_LIMIT = 4096
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
PARAMS_ENVIRONMENT = "MFA_DEPLOY_PARAMS"
# A word of MFA_DEPLOY_PARAMS that starts a parameter: CloudFormation parameter names are alphanumeric.
PARAMETER_START = re.compile(r"^[A-Za-z0-9]+=")
DEFAULT_WAIT_MINUTES = 360
# Exit status when CloudFormation is still working as the tool stops following it.
EXIT_STILL_RUNNING = 3


class DeployError(Exception):
    """The deployment cannot go ahead; the message says why and what to do."""


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


@dataclass(frozen=True)
class UploadedObject:
    """An object this run put in S3: where, which version (None: the bucket is not versioned), what bytes."""

    bucket: str
    key: str
    version_id: str | None
    sha256: bytes

    def url(self, region: str) -> str:
        return f"https://{self.bucket}.s3.{region}.amazonaws.com/{self.key}"

    @property
    def lambda_code_sha256(self) -> str:
        """The content's SHA-256 as Lambda reports it (CodeSha256: base64, not hex)."""
        return base64.b64encode(self.sha256).decode()


def content_key(path: Path) -> str:
    """The S3 key for a file: its name and its content's full SHA-256."""
    return f"iam-user-console-mfa/{path.stem}-{hashlib.sha256(path.read_bytes()).hexdigest()}{path.suffix}"


def upload(s3: Any, bucket: str, path: Path, expected_owner: str) -> UploadedObject:
    """Upload under a key that holds the content's full SHA-256, into a bucket that must belong to ``expected_owner``.

    The key changes with every new build (so CloudFormation sees a change) and names the bytes it
    should hold; S3 refuses the upload when the bucket belongs to another account.
    """
    content = path.read_bytes()
    digest = hashlib.sha256(content)
    key = content_key(path)
    written = s3.put_object(Bucket=bucket, Key=key, Body=content, ExpectedBucketOwner=expected_owner)
    return UploadedObject(bucket, key, written.get("VersionId"), digest.digest())


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


class _TemplateLoader(yaml.SafeLoader):
    """Reads a CloudFormation template's YAML, its short-form functions (!Ref, !Sub, ...) as plain values."""


_TemplateLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def declared_parameters(template: str) -> dict[str, str | None]:
    """Each parameter the template declares, with its default (None: it has none)."""
    # _TemplateLoader is a SafeLoader: it builds plain values only.
    declared = (yaml.load(template, Loader=_TemplateLoader) or {}).get("Parameters", {})  # noqa: S506  # nosec B506
    return {name: None if "Default" not in spec else str(spec["Default"]) for name, spec in declared.items()}


def _stack_status(cloudformation: Any, stack_id: str) -> str | None:
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
    if planned.created_stack and _stack_status(cloudformation, planned.stack_id) == "REVIEW_IN_PROGRESS":
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
    declared = declared_parameters(template)
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
    stack_existed = existing is not None or _stack_status(cloudformation, stack) is not None
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


class StillRunning(DeployError):
    """CloudFormation is still working when the tool stops following it."""


@dataclass
class StackSetProgress:
    """The member-role StackSet's instances, counted by what happened in each account."""

    operation: str = ""
    succeeded: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    pending: int = 0
    other: int = 0

    def line(self, name: str, what: str = "member role") -> str:
        operation = f" (operation {self.operation})" if self.operation else ""
        other = f", {self.other} cancelled or skipped" if self.other else ""
        total = self.succeeded + len(self.failed) + self.pending + self.other
        return (
            f"  {what} StackSet {name}{operation}: of {total} accounts, {self.succeeded} succeeded, "
            f"{len(self.failed)} failed, {self.pending} pending{other}"
        )


@dataclass(frozen=True)
class StackSetWatch:
    """Which StackSet to report on while the stack deploys it, and as whom (CallAs); what it puts into each
    account, from which local template, and what an account it failed in goes without."""

    name: str
    call_as: str
    what: str = "member role"
    template: Path = MEMBER_ROLE_TEMPLATE
    without_it: str = "the rule fails in those accounts until the role is there"

    def follow_command(self, region: str) -> str:
        return (
            f"aws cloudformation list-stack-instances --stack-set-name {self.name} "
            f"--call-as {self.call_as} --region {region}"
        )

    def progress(self, cloudformation: Any) -> StackSetProgress | None:
        """The StackSet's accounts by status; None while CloudFormation has not created the StackSet yet."""
        try:
            operations = cloudformation.list_stack_set_operations(StackSetName=self.name, CallAs=self.call_as)
            instances = _all(
                cloudformation, "list_stack_instances", "Summaries", StackSetName=self.name, CallAs=self.call_as
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "StackSetNotFoundException":
                return None
            raise
        progress = StackSetProgress()
        latest = max(operations.get("Summaries", []), key=lambda o: str(o.get("CreationTimestamp", "")), default=None)
        if latest:
            progress.operation = f"{latest.get('Action', '?')} {latest.get('Status', '?')}"
        for instance in instances:
            detailed = instance.get("StackInstanceStatus", {}).get("DetailedStatus") or instance.get("Status", "")
            # DetailedStatus when given; otherwise the instance's Status (CURRENT, OUTDATED, INOPERABLE).
            if detailed in ("SUCCEEDED", "CURRENT"):
                progress.succeeded += 1
            elif detailed in ("FAILED", "INOPERABLE"):
                progress.failed[instance.get("Account", "?")] = instance.get("StatusReason") or detailed
            elif detailed in ("PENDING", "RUNNING", "OUTDATED"):
                progress.pending += 1
            else:
                progress.other += 1
        return progress


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
        status = _stack_status(cloudformation, planned.stack_id) or "DELETE_COMPLETE"
        for event in new_events(cloudformation, planned.stack_id, seen):
            seen.add(event["EventId"])
            say(_event_line(event))
        for watch in list(watches):
            try:
                progress = watch.progress(cloudformation)
            except ClientError as error:
                # Progress is a courtesy: a caller who may not list instances still gets the stack followed.
                say(f"  (cannot read the StackSet's progress, following the stack only: {_error_line(error)})")
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
            if _stack_status(cloudformation, planned.stack_id) == "REVIEW_IN_PROGRESS":
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


# --- the organization ---


@dataclass(frozen=True)
class Organization:
    organization_id: str
    management_account: str
    caller_account: str
    root_id: str
    active_accounts: frozenset[str]

    @property
    def call_as(self) -> str:
        return "SELF" if self.caller_account == self.management_account else "DELEGATED_ADMIN"


def _all(client: Any, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
    return [item for page in client.get_paginator(operation).paginate(**params) for item in page[key]]


def read_organization(organizations: Any, sts: Any) -> Organization:
    description = organizations.describe_organization()["Organization"]
    return Organization(
        organization_id=description["Id"],
        management_account=description["MasterAccountId"],
        caller_account=sts.get_caller_identity()["Account"],
        root_id=_all(organizations, "list_roots", "Roots")[0]["Id"],
        active_accounts=frozenset(
            a["Id"] for a in _all(organizations, "list_accounts", "Accounts") if a.get("Status", "ACTIVE") == "ACTIVE"
        ),
    )


def accounts_under(organizations: Any, parent_ids: Iterable[str]) -> set[str]:
    """Every account in the given roots or OUs, nested OUs included."""
    found: set[str] = set()
    pending = list(parent_ids)
    while pending:
        parent = pending.pop()
        found |= {a["Id"] for a in _all(organizations, "list_accounts_for_parent", "Accounts", ParentId=parent)}
        units = _all(organizations, "list_organizational_units_for_parent", "OrganizationalUnits", ParentId=parent)
        pending += [unit["Id"] for unit in units]
    return found


def _id_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def organization_parameters(
    organizations: Any,
    organization: Organization,
    given: dict[str, str],
    current: dict[str, str],
    management_account_has_role: bool,
    say: Callable[[str], None] = print,
) -> dict[str, str]:
    """The organization stack's parameters that Organizations decides, and which accounts get what."""
    if given.get("CallAs", organization.call_as) != organization.call_as:
        raise DeployError(
            f"CallAs {given['CallAs']} does not match the caller: account {organization.caller_account} must deploy "
            f"as {organization.call_as} (the management account is {organization.management_account})"
        )
    if given.get("OrganizationId", organization.organization_id) != organization.organization_id:
        raise DeployError(
            f"OrganizationId {given['OrganizationId']} is not this account's organization "
            f"({organization.organization_id})"
        )
    targets = _id_list(
        given.get("DeploymentOrganizationalUnitIds") or current.get("DeploymentOrganizationalUnitIds") or ""
    )
    targets = targets or [organization.root_id]
    own_exclusions = set(_id_list(given.get("ExcludedAccounts", current.get("ExcludedAccounts", ""))))
    # A service-managed StackSet never deploys to the management account.
    reached = accounts_under(organizations, targets) - {organization.management_account}
    if organization.call_as == "SELF" or management_account_has_role:
        reached.add(organization.management_account)
    without_role = sorted(organization.active_accounts - reached - own_exclusions)
    say(
        f"Organization {organization.organization_id}: deploying as {organization.call_as} "
        f"from {organization.caller_account} (management account {organization.management_account})."
    )
    say(f"  member role by StackSet: every account in {', '.join(targets)}, present and future")
    if organization.call_as == "SELF":
        say(f"  member role in the management account {organization.management_account}: created by this stack")
    elif management_account_has_role:
        say(
            f"  member role in the management account {organization.management_account}: "
            "deployed separately (--management-account-has-role)"
        )
    say(f"  rule left out of (your ExcludedAccounts): {', '.join(sorted(own_exclusions)) or 'none'}")
    say(f"  rule left out of (no member role there): {', '.join(without_role) or 'none'}")
    if organization.management_account in without_role:
        say(
            "    the management account: deploy member-role.yaml there (python -m tools.deploy --member-role, with its "
            "credentials) and run again with --management-account-has-role"
        )
    return {
        "OrganizationId": organization.organization_id,
        "CallAs": organization.call_as,
        "DeploymentOrganizationalUnitIds": ",".join(targets),
        "AccountsWithoutMemberRole": ",".join(without_role),
    }


def _parameters(pairs: list[str]) -> dict[str, str]:
    parameters = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise DeployError(f"--parameter takes KEY=VALUE, got {pair!r}")
        parameters[key] = value
    return parameters


def parameters_from_words(text: str, source: str = PARAMS_ENVIRONMENT) -> dict[str, str]:
    """``Key=value`` words; a word that does not start with ``Name=`` continues the previous value.

    >>> parameters_from_words("ExemptUsers=alice, bob GracePeriodDays=7")
    {'ExemptUsers': 'alice, bob', 'GracePeriodDays': '7'}

    Words are split as a shell would (quotes group, nothing is run or expanded), so a value that
    itself holds `` Name=`` is quoted: ``ExemptUsers='alice, x=y'``.
    """
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise DeployError(f"{source}: {error} in {text!r}") from error
    parameters: dict[str, str] = {}
    key = ""
    for word in words:
        if PARAMETER_START.match(word):
            key, _, value = word.partition("=")
            if key in parameters:
                raise DeployError(f"{source}: {key} is given twice")
            parameters[key] = value
        elif not key:
            raise DeployError(f"{source}: expected Key=Value, got {word!r} first")
        else:
            parameters[key] = f"{parameters[key]} {word}" if parameters[key] else word
    return parameters


def _given_parameters(pairs: list[str], environment: str) -> dict[str, str]:
    # Errors name what the user typed: make's PARAMS when make ran the tool (make sets MAKELEVEL).
    source = "PARAMS" if "MAKELEVEL" in os.environ else PARAMS_ENVIRONMENT
    given = parameters_from_words(environment, source) if environment.strip() else {}
    for key, value in _parameters(pairs).items():
        if key in given:
            raise DeployError(f"{key} is given both in {PARAMS_ENVIRONMENT} and as --parameter")
        given[key] = value
    return given


def _confirmation(assume_yes: bool) -> Callable[[Plan], bool]:
    def confirm(_: Plan) -> bool:
        if assume_yes or os.environ.get("CI", "").lower() == "true":
            return True
        if not sys.stdin.isatty():
            raise DeployError("no terminal to confirm on: nothing was changed; run again with --yes to apply")
        return input("Apply this change set? [y/N] ").strip().lower() in ("y", "yes")

    return confirm


# --- after deploying: is what runs what was built? ---


def _stack_output(cloudformation: Any, stack: str, name: str) -> str:
    outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    for output in outputs:
        if output["OutputKey"] == name:
            return output["OutputValue"]
    raise DeployError(f"stack {stack} has no output {name}, so the deployed code cannot be verified")


# Outputs naming a function built from the zip; only FunctionArn is always there.
OPTIONAL_FUNCTION_OUTPUTS = ("EnforcementFunctionArn",)


def verify_function_code(cloudformation: Any, lambda_client: Any, stack: str, uploaded: UploadedObject) -> str:
    """Each function the stack built from the zip must report the local zip's CodeSha256; returns FunctionArn."""
    function = _stack_output(cloudformation, stack, "FunctionArn")
    outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    others = [o["OutputValue"] for o in outputs if o["OutputKey"] in OPTIONAL_FUNCTION_OUTPUTS and o.get("OutputValue")]
    for checked in [function, *others]:
        running = lambda_client.get_function_configuration(FunctionName=checked)["CodeSha256"]
        if running != uploaded.lambda_code_sha256:
            raise DeployError(
                f"function {checked} runs code with SHA-256 {running}, not the local zip's "
                f"{uploaded.lambda_code_sha256}: s3://{uploaded.bucket}/{uploaded.key} was changed after this upload; "
                "do not trust this deployment, check who can write to the bucket, and deploy again"
            )
    return function


def verify_stack_set_template(cloudformation: Any, watch: StackSetWatch, expected: str | None = None) -> None:
    """The StackSet must hold its local template (member-role.yaml, ...), byte for byte."""
    expected = watch.template.read_text() if expected is None else expected
    try:
        held = cloudformation.describe_stack_set(StackSetName=watch.name, CallAs=watch.call_as)["StackSet"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "StackSetNotFoundException":
            raise DeployError(f"StackSet {watch.name} not found, so its template cannot be verified") from error
        raise
    if held.get("TemplateBody") != expected:
        raise DeployError(
            f"StackSet {watch.name} holds a template that is not the local {watch.template.name}: the uploaded "
            "copy was changed after this upload; do not trust this deployment, check who can write to the bucket"
        )


def report_stack_set(cloudformation: Any, watch: StackSetWatch, region: str, say: Callable[[str], None]) -> set[str]:
    """Say in how many accounts the StackSet deployed, and name each account where it failed (stderr).

    Returns the accounts where it failed."""
    progress = watch.progress(cloudformation)
    if progress is None:
        return set()
    say(progress.line(watch.name, watch.what).strip())
    shown = sorted(progress.failed.items())
    for account, reason in shown[:20]:
        print(f"deploy: warning: {watch.what} not deployed in account {account}: {reason}", file=sys.stderr)
    if len(shown) > 20:
        print(f"deploy: warning: ... and {len(shown) - 20} more accounts", file=sys.stderr)
    if shown:
        print(
            f"deploy: warning: {watch.without_it}; fix the cause and run "
            f"again (details: {watch.follow_command(region)})",
            file=sys.stderr,
        )
    return set(progress.failed)


# --- enforcement ---


def enforcement_flags(args: argparse.Namespace, given: dict[str, str]) -> dict[str, str]:
    """The stack parameters the --enforcement flags set; a parameter set both ways is refused."""
    flags = {
        "Enforcement": args.enforcement,
        "MaxEnforcementsPerDay": args.max_enforcements_per_day,
        "NoticeSender": args.notice_sender,
    }
    chosen = {key: str(value) for key, value in flags.items() if value is not None}
    for key in chosen:
        if key in given:
            raise DeployError(f"{key} is given both as a flag and as a parameter")
    return chosen


def require_operators_topic(parameters: dict[str, str], current: dict[str, str]) -> None:
    """Enforcement tells the operators of every action: refuse it without a topic (CloudFormation would too,
    but only after the upload and a change set)."""

    def effective(key: str, default: str = "") -> str:
        return parameters.get(key, current.get(key, default)).strip()

    enforcement = effective("Enforcement", "off")
    if enforcement not in ENFORCEMENT_MODES:
        raise DeployError(f"Enforcement {enforcement!r} is not one of {', '.join(ENFORCEMENT_MODES)}")
    if enforcement != "off" and not effective("AlarmEmail") and not effective("AlarmTopicArn"):
        raise DeployError(
            f"Enforcement={enforcement} needs AlarmEmail or AlarmTopicArn (every enforcement and every user held "
            "back by MaxEnforcementsPerDay goes to that topic); nothing was changed"
        )


def account_ids(value: str) -> set[str]:
    """The account IDs in a CommaDelimitedList parameter, however the endpoint renders the list."""
    return set(re.findall(r"\b\d{12}\b", value))


def conformance_pack_body(template: str, function_arn: str) -> str:
    """The pack template with the remediation role's placeholder account replaced by the deploying account."""
    if PACK_ROLE_PLACEHOLDER not in template:
        raise DeployError(
            f"{CONFORMANCE_PACK_TEMPLATE.name} does not name the remediation role as {PACK_ROLE_PLACEHOLDER}<name>"
        )
    _, partition, _, _, account, *_ = function_arn.split(":")
    return template.replace(PACK_ROLE_PLACEHOLDER, f"arn:{partition}:iam::{account}:role/")


def conformance_pack_exists(config: Any) -> bool:
    try:
        config.describe_organization_conformance_packs(OrganizationConformancePackNames=[CONFORMANCE_PACK_NAME])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NoSuchOrganizationConformancePackException":
            return False
        raise
    return True


def deploy_conformance_pack(
    config: Any,
    function_arn: str,
    parameters: dict[str, str],
    excluded: set[str],
    say: Callable[[str], None] = print,
) -> str:
    """Put the organization conformance pack (the rule and its remediation) to every account not excluded."""
    template = CONFORMANCE_PACK_TEMPLATE.read_text()
    # ReevaluateOnIamChange only where the pack's template has it (it decides the rule's triggers).
    keys = [*PACK_RULE_PARAMETERS, *[key for key in (EVENTS_SWITCH,) if key in declared_parameters(template)]]
    inputs = {"FunctionArn": function_arn, "ExecutionRoleName": parameters["MemberRoleName"]}
    inputs |= {key: parameters[key] for key in keys if parameters.get(key, "").strip()}
    request: dict[str, Any] = {
        "OrganizationConformancePackName": CONFORMANCE_PACK_NAME,
        "TemplateBody": conformance_pack_body(template, function_arn),
        "ConformancePackInputParameters": [
            {"ParameterName": key, "ParameterValue": value} for key, value in inputs.items()
        ],
    }
    if excluded:
        request["ExcludedAccounts"] = sorted(excluded)
    arn = config.put_organization_conformance_pack(**request)["OrganizationConformancePackArn"]
    say(
        f"organization conformance pack {CONFORMANCE_PACK_NAME} (the rule and its remediation, Enforcement="
        f"{inputs['Enforcement']}): {arn}"
    )
    say(f"  left out of: {', '.join(sorted(excluded)) or 'none'}")
    say(
        "  Config deploys it to each account by itself; follow it with: aws configservice get-organization-"
        f"conformance-pack-detailed-status --organization-conformance-pack-name {CONFORMANCE_PACK_NAME}"
    )
    return arn


# --- re-evaluation on IAM change (the event path) ---


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


def _switch(on: bool) -> str:
    return "true" if on else "false"


def with_events_switch(template: str, parameters: dict[str, str], on: bool) -> dict[str, str]:
    """``parameters`` with ReevaluateOnIamChange set, when ``template`` declares it (a rule template without the
    parameter just does not get it)."""
    if EVENTS_SWITCH not in declared_parameters(template):
        return parameters
    return {**parameters, EVENTS_SWITCH: _switch(on)}


def stack_outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    return {output["OutputKey"]: output.get("OutputValue", "") for output in outputs}


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


@dataclass
class Run:
    """What every stack of one run shares: the credentials, the confirmation, one --wait-minutes."""

    session: Any
    confirm: Callable[[Plan], bool]
    waiting: Waiting
    say: Callable[[str], None] = print
    started: float = field(init=False)
    _clients: dict[tuple[str, str], Any] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.started = self.waiting.clock()

    def client(self, service: str, region: str) -> Any:
        if (service, region) not in self._clients:
            self._clients[service, region] = self.session.client(service, region_name=region)
        return self._clients[service, region]

    def deploy(
        self,
        region: str,
        stack: str,
        template: str,
        parameters: dict[str, str],
        stack_set: StackSetWatch | Sequence[StackSetWatch] | None = None,
    ) -> Deployment:
        return deploy_stack(
            self.client("cloudformation", region),
            stack,
            template,
            parameters,
            self.confirm,
            self.say,
            region,
            self.waiting.left_since(self.started),
            stack_set,
        )


@contextlib.contextmanager
def still_to_come(what: str) -> Iterator[None]:
    """A stop on the timeout names what this run had not deployed yet (if anything), so that it is not forgotten."""
    try:
        yield
    except StillRunning as error:
        if not what:
            raise
        raise StillRunning(f"{error}; not deployed yet: {what} (run the tool again once it has finished)") from error


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
        "CodeBucket": code.bucket,
        "CodeKey": code.key,
        "CodeObjectVersion": code.version_id or "",
        "AlarmTopicArn": alarm_topic,
        "OrganizationId": organization_id,
        EVENTS_SWITCH: _switch(on),
    }
    if rule_name is not None:
        parameters["ConfigRuleName"] = rule_name
    done = run.deploy(stacks.region, stacks.events, IAM_EVENTS_TEMPLATE.read_text(), parameters)
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
    parameters = {EVENTS_SWITCH: _switch(on)}
    if target_bus:
        parameters["TargetEventBusArn"] = target_bus
    done = run.deploy(IAM_EVENTS_REGION, stacks.forwarder, IAM_EVENTS_FORWARDER_TEMPLATE.read_text(), parameters)
    run.say(
        f"stack {stacks.forwarder} in {IAM_EVENTS_REGION}: {done.status} (forwards IAM changes to "
        f"{target_bus or 'the bus it was given before'}; {'on' if on else 'off'})"
    )


# --- the routes ---


@dataclass(frozen=True)
class Artifacts:
    """Where this run uploads: a bucket that must belong to ``owner``, in ``region``."""

    s3: Any
    bucket: str
    owner: str
    region: str

    def upload(self, path: Path) -> UploadedObject:
        return upload(self.s3, self.bucket, path, self.owner)

    def template_url(self, path: Path) -> str:
        return self.upload(path).url(self.region)


def code_parameters(code: UploadedObject) -> dict[str, str]:
    # Always given, so an earlier run's version never sticks to a new key.
    return {"CodeBucket": code.bucket, "CodeKey": code.key, "CodeObjectVersion": code.version_id or ""}


def _say_function(run: Run, function: str, code: UploadedObject) -> None:
    run.say(f"function {function} runs the local zip (CodeSha256 {code.lambda_code_sha256})")


def deploy_account_route(
    run: Run, stacks: EventStacks, code: UploadedObject, given: dict[str, str], events_on: bool
) -> Deployment:
    """The rule's stack, then (on) the event path's stacks wired from its outputs, or (off) those switched off."""
    region = stacks.region
    cloudformation = run.client("cloudformation", region)
    template = TEMPLATE.read_text()
    parameters = with_events_switch(template, {**code_parameters(code), **given}, events_on)
    with still_to_come(f"the event path's stacks {stacks.described()}"):
        done = run.deploy(region, stacks.rule_stack, template, parameters)
    _say_function(run, verify_function_code(cloudformation, run.client("lambda", region), done.stack, code), code)
    rule = stack_outputs(cloudformation, done.stack)
    later = f"stack {stacks.forwarder} in {IAM_EVENTS_REGION}" if events_on and stacks.needs_forwarder else ""
    with still_to_come(later):
        events = deploy_event_stack(
            run,
            stacks,
            code,
            events_on,
            alarm_topic=rule.get("AlarmTopicArn", ""),
            # Without the output, iam-events.yaml's default: the rule's fixed name.
            rule_name=rule.get("ConfigRuleName") or None,
        )
    deploy_forwarder(run, stacks, events_on, events.get("EventBusArn", ""))
    return done


def deploy_organization_route(
    run: Run,
    stacks: EventStacks,
    code: UploadedObject,
    given: dict[str, str],
    deployed: dict[str, str],
    artifacts: Artifacts,
    *,
    enforcement: str,
    events_on: bool,
    management_account_has_role: bool,
) -> Deployment:
    """The organization stack (member-role StackSet and, with events on, the forwarders' StackSet) with the event
    stack in this account before it (its bus and role are what the StackSets name), then the conformance pack.

    Off: the organization stack first (its rule gets its change trigger back, the StackSets drop the
    re-evaluation role and the forwarders), then the event path's stacks here are switched off.
    """
    region, stack = stacks.region, stacks.rule_stack
    cloudformation = run.client("cloudformation", region)
    template = ORGANIZATION_TEMPLATE.read_text()
    parameters = {**code_parameters(code), "MemberRoleTemplateUrl": artifacts.template_url(MEMBER_ROLE_TEMPLATE)}
    organizations = run.client("organizations", region)
    organization = read_organization(organizations, run.client("sts", region))
    parameters.update(given)
    parameters.update(
        organization_parameters(organizations, organization, given, deployed, management_account_has_role, run.say)
    )
    watches = [StackSetWatch(f"{stack}-member-role", organization.call_as)]
    run.say(
        "route: "
        + (
            "the organization Config rule, without enforcement (AWS has no organization remediation)"
            if enforcement == "off"
            else f"the organization conformance pack with the rule and its remediation (Enforcement="
            f"{enforcement}): first this stack and its StackSet (the member resources), then the pack"
        )
    )
    existing = current_stack(cloudformation, stack)
    alarm_topic = stack_outputs(cloudformation, stack).get("AlarmTopicArn", "") if existing else ""
    alarm_topic = alarm_topic or given.get("AlarmTopicArn", deployed.get("AlarmTopicArn", ""))
    event_stack = {"alarm_topic": alarm_topic, "organization_id": organization.organization_id}
    declared = declared_parameters(template)
    if events_on:
        with still_to_come(f"stack {stack} in {region}"):
            events = deploy_event_stack(run, stacks, code, True, **event_stack)
            deploy_forwarder(run, stacks, True, events["EventBusArn"])
        parameters["ReevaluationFunctionRoleArn"] = events["FunctionRoleArn"]
        parameters["IamEventsForwarderTemplateUrl"] = artifacts.template_url(IAM_EVENTS_FORWARDER_TEMPLATE)
        watches.append(
            StackSetWatch(
                f"{stack}-iam-events-forwarder",
                organization.call_as,
                "IAM-events forwarder",
                IAM_EVENTS_FORWARDER_TEMPLATE,
                "IAM changes in those accounts wait for the periodic sweep",
            )
        )
    else:
        parameters |= {key: "" for key in ("ReevaluationFunctionRoleArn", "IamEventsForwarderTemplateUrl")}
    parameters = {key: value for key, value in parameters.items() if key in declared or key in given}
    parameters = with_events_switch(template, parameters, events_on)
    with still_to_come("" if events_on else f"switching off the event path's stacks {stacks.described()}, if any"):
        done = run.deploy(region, stack, template, parameters, stack_set=watches)
    function = verify_function_code(cloudformation, run.client("lambda", region), done.stack, code)
    _say_function(run, function, code)
    for watch in watches:
        verify_stack_set_template(cloudformation, watch)
    failed = report_stack_set(cloudformation, watches[0], region, run.say)
    for watch in watches[1:]:
        report_stack_set(cloudformation, watch, region, run.say)
    topic = stack_outputs(cloudformation, done.stack).get("AlarmTopicArn", "")
    if events_on and topic != alarm_topic:
        # A topic this run created (AlarmEmail): the event stack's alarms publish to it too.
        deploy_event_stack(run, stacks, code, True, **{**event_stack, "alarm_topic": topic})
    elif not events_on:
        deploy_event_stack(run, stacks, code, False, **{**event_stack, "alarm_topic": topic})
        deploy_forwarder(run, stacks, False, "")
    if events_on and organization.call_as == "DELEGATED_ADMIN":
        management = organization.management_account
        run.say(
            f"  the management account {management} (no StackSet reaches it): for its IAM changes, deploy there "
            f"member-role.yaml with ReevaluationFunctionRoleArn={parameters['ReevaluationFunctionRoleArn']} and "
            f"iam-events-forwarder.yaml in {IAM_EVENTS_REGION} with TargetEventBusArn="
            f"arn:{function.split(':')[1]}:events:{region}:{organization.caller_account}:event-bus/default"
        )
    if enforcement != "off":
        # Only after the StackSet finished: the pack's remediation needs the member resources there.
        merged = {**deployed, **parameters}
        excluded = account_ids(merged.get("ExcludedAccounts", ""))
        excluded |= account_ids(merged.get("AccountsWithoutMemberRole", "")) | failed
        merged["Enforcement"] = enforcement
        merged[EVENTS_SWITCH] = _switch(events_on)
        merged.setdefault("MemberRoleName", "iam-user-console-mfa-reader")
        deploy_conformance_pack(run.client("config", region), function, merged, excluded, run.say)
    return done


def doctor_command(stacks: EventStacks, organization: bool, events_on: bool) -> str:
    """The doctor's command line for what this run deployed (the event stack by the name the tool gave it)."""
    if organization:
        return f".venv/bin/mfa-audit doctor --organization --stack {stacks.rule_stack} --region {stacks.region}"
    events = f" --events-stack {stacks.events}" if events_on else ""
    return f".venv/bin/mfa-audit doctor --stack {stacks.rule_stack}{events} --region {stacks.region}"


def _error_line(error: BaseException) -> str:
    """One line for an error from AWS or the endpoint, never a traceback or a pasted HTML page."""
    if isinstance(error, NoCredentialsError):
        return (
            "no AWS credentials found (set AWS_PROFILE, run aws sso login, or set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY)"
        )
    if isinstance(error, ResponseParserError):
        return "the AWS endpoint answered with something that is not an AWS response (a server error?); try again"
    return " ".join(str(error).split())[:500]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Deploy the IAM_USER_CONSOLE_MFA rule (change set, settings kept).",
        epilog=f"Parameters are also read from {PARAMS_ENVIRONMENT} (make deploy PARAMS=...): Key=value words; "
        "a word that does not start with Name= continues the previous value. Exit status: 0 deployed, "
        f"2 refused or failed, {EXIT_STILL_RUNNING} still running when the tool stopped waiting.",
    )
    parser.add_argument("--bucket", help="S3 bucket for the Lambda zip (in --region); not needed with --member-role")
    parser.add_argument(
        "--bucket-owner",
        metavar="ACCOUNT_ID",
        help="the account that must own --bucket (default: the caller's account); S3 refuses any other",
    )
    parser.add_argument("--region", required=True, help="the Region where Config records IAM")
    parser.add_argument("--stack", help="stack name (default: iam-user-console-mfa, or ...-member-role)")
    parser.add_argument("--zip", type=Path, default=DEFAULT_ZIP)
    parser.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--yes", action="store_true", help="apply the change set without asking (also when CI=true)")
    parser.add_argument(
        "--wait-minutes",
        type=float,
        default=DEFAULT_WAIT_MINUTES,
        help="how long to follow CloudFormation before saying how to follow it yourself "
        f"(default {DEFAULT_WAIT_MINUTES})",
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--organization", action="store_true", help="deploy organization.yaml (management or delegated-admin account)"
    )
    target.add_argument(
        "--member-role", action="store_true", help="deploy member-role.yaml into this account (the management account)"
    )
    parser.add_argument(
        "--management-account-has-role",
        action="store_true",
        help="with --organization from a delegated administrator: the management account has the member role",
    )
    parser.add_argument(
        "--enforcement",
        choices=ENFORCEMENT_MODES,
        help="put NON_COMPLIANT users into the ForceMfa group: off, manual (Config's Remediate) or automatic; "
        "with --organization, manual or automatic take the organization conformance-pack route",
    )
    parser.add_argument("--max-enforcements-per-day", type=int, metavar="N", help="the stack's MaxEnforcementsPerDay")
    parser.add_argument(
        "--notice-sender",
        metavar="ADDRESS",
        help="the account stack's NoticeSender: the SES-verified address users' MFA notices are sent from",
    )
    parser.add_argument(
        "--events",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="re-evaluation on IAM change: iam-events.yaml in --region, iam-events-forwarder.yaml in us-east-1 when "
        "--region is another (with --organization: also a StackSet of forwarders to every account); --no-events: "
        "none of them, and ReevaluateOnIamChange=false (default: as deployed before; on for a new stack)",
    )
    args = parser.parse_args(argv)
    if args.bucket_owner is not None and not re.fullmatch(r"\d{12}", args.bucket_owner):
        parser.error(f"--bucket-owner takes a 12-digit account ID, got {args.bucket_owner!r}")
    stack = args.stack or ("iam-user-console-mfa-member-role" if args.member_role else "iam-user-console-mfa")
    try:
        given = _given_parameters(args.parameter, os.environ.get(PARAMS_ENVIRONMENT, ""))
        given.update(enforcement_flags(args, given))
        if args.member_role and "Enforcement" in given:
            raise DeployError("--member-role takes no Enforcement: the organization stack passes it to the StackSet")
        if args.member_role and args.events is not None:
            raise DeployError("--member-role takes no --events / --no-events: give it ReevaluationFunctionRoleArn")
        session = boto3.Session(region_name=args.region)
        run = Run(session, _confirmation(args.yes), Waiting(timeout_seconds=args.wait_minutes * 60))
        cloudformation = run.client("cloudformation", args.region)
        if args.member_role:
            done = run.deploy(args.region, stack, MEMBER_ROLE_TEMPLATE.read_text(), given)
            print(f"stack {stack} in {args.region}: {done.status}")
            return 0
        if not args.bucket:
            raise DeployError("--bucket is required (the S3 bucket for the Lambda zip)")
        if not args.zip.exists():
            raise DeployError(f"{args.zip} not found; run 'make package' first")
        caller = run.client("sts", args.region).get_caller_identity()["Account"]
        artifacts = Artifacts(run.client("s3", args.region), args.bucket, args.bucket_owner or caller, args.region)
        deployed = stack_parameters(current_stack(cloudformation, stack))
        require_operators_topic(given, deployed)
        enforcement = given.get("Enforcement", deployed.get("Enforcement", "off")).strip()
        config = run.client("config", args.region)
        turning_off = args.organization and enforcement == "off" and deployed.get("Enforcement", "off") != "off"
        if turning_off and conformance_pack_exists(config):
            raise DeployError(
                f"Enforcement=off brings back the organization rule, but the organization conformance pack "
                f"{CONFORMANCE_PACK_NAME} still carries the rule and its remediation: delete it first (aws "
                "configservice delete-organization-conformance-pack --organization-conformance-pack-name "
                f"{CONFORMANCE_PACK_NAME}), wait until it is gone, and run again; nothing was changed"
            )
        stacks = EventStacks(stack, args.region)
        deployed_events = stack_parameters(current_stack(cloudformation, stacks.events))
        events_on = events_wanted(args.events, given, deployed, deployed_events)
        given.pop(EVENTS_SWITCH, None)
        if args.organization and enforcement != "off" and events_on:
            if args.events:
                raise DeployError(
                    "--events: on the conformance-pack route (Enforcement other than off) the event path cannot start "
                    "the pack's rule (its function finds the organization rule's copies, OrgConfigRule-<name>-*); "
                    "deploy with --no-events; nothing was changed"
                )
            print("event path: off on the conformance-pack route (its function finds only the organization rule)")
            events_on = False
        if deployed.get("CodeKey") == content_key(args.zip) and deployed.get("CodeObjectVersion"):
            # The same zip, pinned before: uploading again would only make a new version and a needless update.
            digest = hashlib.sha256(args.zip.read_bytes()).digest()
            code = UploadedObject(args.bucket, deployed["CodeKey"], deployed["CodeObjectVersion"], digest)
        else:
            code = artifacts.upload(args.zip)
        if args.organization:
            done = deploy_organization_route(
                run,
                stacks,
                code,
                given,
                deployed,
                artifacts,
                enforcement=enforcement,
                events_on=events_on,
                management_account_has_role=args.management_account_has_role,
            )
        else:
            done = deploy_account_route(run, stacks, code, given, events_on)
    except StillRunning as error:
        print(f"deploy: {error}", file=sys.stderr)
        return EXIT_STILL_RUNNING
    except DeployError as error:
        print(f"deploy: {error}", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError, ResponseParserError, OSError) as error:
        print(f"deploy: {_error_line(error)}", file=sys.stderr)
        return 2
    version = f" version {code.version_id}" if code.version_id else ""
    print(f"stack {stack} in {args.region}: {done.status} (code s3://{args.bucket}/{code.key}{version})")
    print(f"check it with: {doctor_command(stacks, args.organization, events_on)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
