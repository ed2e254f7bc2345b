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

Enforcement (docs/enforcement-organization.md): ``--enforcement off|manual|automatic`` (with
``--max-enforcements-per-day`` and, for the account stack, ``--notice-days``) sets the stack's
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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
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
CONFORMANCE_PACK_NAME = "iam-user-console-mfa"
# AWS Config takes only a literal ARN for the remediation's role (no intrinsic function), and uses its
# name in every account; the template carries this placeholder account, replaced by the deploying one.
PACK_ROLE_PLACEHOLDER = "arn:aws:iam::000000000000:role/"
# The organization stack's parameters the pack's copy of the rule takes as well.
PACK_RULE_PARAMETERS = (
    "ExemptUsers",
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

    def line(self, name: str) -> str:
        operation = f" (operation {self.operation})" if self.operation else ""
        other = f", {self.other} cancelled or skipped" if self.other else ""
        total = self.succeeded + len(self.failed) + self.pending + self.other
        return (
            f"  member role StackSet {name}{operation}: of {total} accounts, {self.succeeded} succeeded, "
            f"{len(self.failed)} failed, {self.pending} pending{other}"
        )


@dataclass(frozen=True)
class StackSetWatch:
    """Which StackSet to report on while the stack deploys it, and as whom (CallAs)."""

    name: str
    call_as: str

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
    stack_set: StackSetWatch | None = None,
    seen: set[str] | None = None,
) -> str:
    """Print the stack's events (and the StackSet's accounts) as they come, until the stack stops moving.

    Returns the final status; raises StillRunning, naming the commands to follow it, after the timeout.
    """
    seen = set() if seen is None else seen
    started = waiting.clock()
    last_progress = ""
    while True:
        status = _stack_status(cloudformation, planned.stack_id) or "DELETE_COMPLETE"
        for event in new_events(cloudformation, planned.stack_id, seen):
            seen.add(event["EventId"])
            say(_event_line(event))
        if stack_set is not None:
            try:
                progress = stack_set.progress(cloudformation)
            except ClientError as error:
                # Progress is a courtesy: a caller who may not list instances still gets the stack followed.
                say(f"  (cannot read the StackSet's progress, following the stack only: {_error_line(error)})")
                stack_set, progress = None, None
            line = progress.line(stack_set.name) if progress and stack_set else ""
            if line and line != last_progress:
                say(line)
                last_progress = line
        # Right after execution a new stack can still read REVIEW_IN_PROGRESS: that, too, is still moving.
        if not status.endswith("_IN_PROGRESS"):
            return status
        elapsed = waiting.clock() - started
        if elapsed >= waiting.timeout_seconds:
            follow = [f"aws cloudformation describe-stack-events --stack-name {planned.stack} --region {region}"]
            if stack_set is not None:
                follow.append(stack_set.follow_command(region))
            raise StillRunning(
                f"stopped waiting after {elapsed / 60:.0f} minutes: stack {planned.stack} is still {status} "
                f"and CloudFormation carries on; follow it with: {' ; '.join(follow)}"
            )
        waiting.sleep(waiting.poll_seconds)


def apply(
    cloudformation: Any,
    planned: Plan,
    region: str = "",
    waiting: Waiting | None = None,
    say: Callable[[str], None] = print,
    stack_set: StackSetWatch | None = None,
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
    stack_set: StackSetWatch | None = None,
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
    given = parameters_from_words(environment) if environment.strip() else {}
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


def verify_stack_set_template(cloudformation: Any, watch: StackSetWatch, expected: str) -> None:
    """The StackSet must hold the local member-role.yaml, byte for byte."""
    try:
        held = cloudformation.describe_stack_set(StackSetName=watch.name, CallAs=watch.call_as)["StackSet"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "StackSetNotFoundException":
            raise DeployError(f"StackSet {watch.name} not found, so its template cannot be verified") from error
        raise
    if held.get("TemplateBody") != expected:
        raise DeployError(
            f"StackSet {watch.name} holds a template that is not the local {MEMBER_ROLE_TEMPLATE.name}: the uploaded "
            "copy was changed after this upload; do not trust this deployment, check who can write to the bucket"
        )


def report_stack_set(cloudformation: Any, watch: StackSetWatch, region: str, say: Callable[[str], None]) -> set[str]:
    """Say in how many accounts the member role is deployed, and name each account where it failed (stderr).

    Returns the accounts where it failed."""
    progress = watch.progress(cloudformation)
    if progress is None:
        return set()
    say(progress.line(watch.name).strip())
    shown = sorted(progress.failed.items())
    for account, reason in shown[:20]:
        print(f"deploy: warning: member role not deployed in account {account}: {reason}", file=sys.stderr)
    if len(shown) > 20:
        print(f"deploy: warning: ... and {len(shown) - 20} more accounts", file=sys.stderr)
    if shown:
        print(
            "deploy: warning: the rule fails in those accounts until the role is there; fix the cause and run "
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
        "NoticeDays": args.notice_days,
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
    inputs = {"FunctionArn": function_arn, "ExecutionRoleName": parameters["MemberRoleName"]}
    inputs |= {key: parameters[key] for key in PACK_RULE_PARAMETERS if parameters.get(key, "").strip()}
    request: dict[str, Any] = {
        "OrganizationConformancePackName": CONFORMANCE_PACK_NAME,
        "TemplateBody": conformance_pack_body(CONFORMANCE_PACK_TEMPLATE.read_text(), function_arn),
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
    parser.add_argument("--notice-days", type=int, metavar="DAYS", help="the account stack's NoticeDays")
    args = parser.parse_args(argv)
    if args.bucket_owner is not None and not re.fullmatch(r"\d{12}", args.bucket_owner):
        parser.error(f"--bucket-owner takes a 12-digit account ID, got {args.bucket_owner!r}")
    stack = args.stack or ("iam-user-console-mfa-member-role" if args.member_role else "iam-user-console-mfa")
    waiting = Waiting(timeout_seconds=args.wait_minutes * 60)
    try:
        given = _given_parameters(args.parameter, os.environ.get(PARAMS_ENVIRONMENT, ""))
        given.update(enforcement_flags(args, given))
        if args.member_role and "Enforcement" in given:
            raise DeployError("--member-role takes no Enforcement: the organization stack passes it to the StackSet")
        session = boto3.Session(region_name=args.region)
        cloudformation = session.client("cloudformation")
        confirm = _confirmation(args.yes)
        if args.member_role:
            template = MEMBER_ROLE_TEMPLATE.read_text()
            done = deploy_stack(cloudformation, stack, template, given, confirm, region=args.region, waiting=waiting)
            print(f"stack {stack} in {args.region}: {done.status}")
            return 0
        if not args.bucket:
            raise DeployError("--bucket is required (the S3 bucket for the Lambda zip)")
        if not args.zip.exists():
            raise DeployError(f"{args.zip} not found; run 'make package' first")
        sts = session.client("sts")
        caller = sts.get_caller_identity()["Account"]
        bucket_owner = args.bucket_owner or caller
        s3 = session.client("s3")
        deployed = stack_parameters(current_stack(cloudformation, stack))
        require_operators_topic(given, deployed)
        enforcement = given.get("Enforcement", deployed.get("Enforcement", "off")).strip()
        config = session.client("config")
        turning_off = args.organization and enforcement == "off" and deployed.get("Enforcement", "off") != "off"
        if turning_off and conformance_pack_exists(config):
            raise DeployError(
                f"Enforcement=off brings back the organization rule, but the organization conformance pack "
                f"{CONFORMANCE_PACK_NAME} still carries the rule and its remediation: delete it first (aws "
                "configservice delete-organization-conformance-pack --organization-conformance-pack-name "
                f"{CONFORMANCE_PACK_NAME}), wait until it is gone, and run again; nothing was changed"
            )
        if deployed.get("CodeKey") == content_key(args.zip) and deployed.get("CodeObjectVersion"):
            # The same zip, pinned before: uploading again would only make a new version and a needless update.
            digest = hashlib.sha256(args.zip.read_bytes()).digest()
            code = UploadedObject(args.bucket, deployed["CodeKey"], deployed["CodeObjectVersion"], digest)
        else:
            code = upload(s3, args.bucket, args.zip, bucket_owner)
        # Always given, so an earlier run's version never sticks to a new key.
        parameters = {"CodeBucket": args.bucket, "CodeKey": code.key, "CodeObjectVersion": code.version_id or ""}
        template = TEMPLATE
        watch = None
        if args.organization:
            template = ORGANIZATION_TEMPLATE
            role_template = upload(s3, args.bucket, MEMBER_ROLE_TEMPLATE, bucket_owner)
            parameters["MemberRoleTemplateUrl"] = role_template.url(args.region)
            organizations = session.client("organizations")
            organization = read_organization(organizations, sts)
            current = stack_parameters(current_stack(cloudformation, stack))
            parameters.update(given)
            parameters.update(
                organization_parameters(organizations, organization, given, current, args.management_account_has_role)
            )
            watch = StackSetWatch(f"{stack}-member-role", organization.call_as)
            print(
                "route: "
                + (
                    "the organization Config rule, without enforcement (AWS has no organization remediation)"
                    if enforcement == "off"
                    else f"the organization conformance pack with the rule and its remediation (Enforcement="
                    f"{enforcement}): first this stack and its StackSet (the member resources), then the pack"
                )
            )
        else:
            parameters.update(given)
        done = deploy_stack(
            cloudformation,
            stack,
            template.read_text(),
            parameters,
            confirm,
            region=args.region,
            waiting=waiting,
            stack_set=watch,
        )
        function = verify_function_code(cloudformation, session.client("lambda"), done.stack, code)
        print(f"function {function} runs the local zip (CodeSha256 {code.lambda_code_sha256})")
        if watch is not None:
            verify_stack_set_template(cloudformation, watch, MEMBER_ROLE_TEMPLATE.read_text())
            failed = report_stack_set(cloudformation, watch, args.region, print)
            if enforcement != "off":
                # Only after the StackSet finished: the pack's remediation needs the member resources there.
                merged = {**deployed, **parameters}
                excluded = account_ids(merged.get("ExcludedAccounts", ""))
                excluded |= account_ids(merged.get("AccountsWithoutMemberRole", "")) | failed
                merged["Enforcement"] = enforcement
                merged.setdefault("MemberRoleName", "iam-user-console-mfa-reader")
                deploy_conformance_pack(config, function, merged, excluded)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
