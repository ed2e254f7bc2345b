"""StackSets a stack deploys: their accounts' progress while it runs, then their template and failures checked.

Example::

    watch = StackSetWatch("iam-user-console-mfa-member-role", "SELF")
    watch.progress(cloudformation).line(watch.name)   # "  member role StackSet ...: of 3 accounts, 3 succeeded, ..."
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from mfa_audit.templates import MEMBER_ROLE_TEMPLATE, TEMPLATE_DIRECTORY
from tools.deploy.aws import DeployError, all_pages


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
    template: Path = TEMPLATE_DIRECTORY / MEMBER_ROLE_TEMPLATE
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
            instances = all_pages(
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
