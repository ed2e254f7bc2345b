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

Deploy in the Region where AWS Config records global resources (IAM). Uses the standard boto3
credential chain (AWS_PROFILE, AWS_ENDPOINT_URL, ...).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import yaml
from botocore.exceptions import BotoCoreError, ClientError, WaiterError

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "cloudformation" / "rule.yaml"
ORGANIZATION_TEMPLATE = ROOT / "cloudformation" / "organization.yaml"
MEMBER_ROLE_TEMPLATE = ROOT / "cloudformation" / "member-role.yaml"
DEFAULT_ZIP = ROOT / "dist" / "IAM_USER_CONSOLE_MFA.zip"
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
# CloudFormation's limit on one parameter value.
PARAMETER_VALUE_LIMIT = 4096
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")


class DeployError(Exception):
    """The deployment cannot go ahead; the message says why and what to do."""


@dataclass
class Plan:
    """A change set, created but not executed, and what it would change."""

    stack: str
    change_set_id: str
    creates_stack: bool
    parameter_changes: list[str] = field(default_factory=list)
    resource_changes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        verb = "create" if self.creates_stack else "update"
        lines = [f"Change set for stack {self.stack} ({verb}):", "  parameters:"]
        lines += [f"    {line}" for line in self.parameter_changes] or ["    (none changed)"]
        lines.append("  resources:")
        lines += [f"    {line}" for line in self.resource_changes] or ["    (none changed)"]
        return "\n".join(lines)


def upload(s3: Any, bucket: str, path: Path) -> str:
    """Upload under a key that holds the content's SHA-256, so a new build always changes the key."""
    content = path.read_bytes()
    key = f"iam-user-console-mfa/{path.stem}-{hashlib.sha256(content).hexdigest()[:16]}{path.suffix}"
    s3.put_object(Bucket=bucket, Key=key, Body=content)
    return key


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


def plan(cloudformation: Any, stack: str, template: str, given: dict[str, str]) -> Plan | None:
    """Create a change set and describe it; None when it would change nothing."""
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
    change_set_id = created["Id"]
    # A failed change set also ends the wait; the description below says whether it failed, and why.
    with contextlib.suppress(WaiterError):
        cloudformation.get_waiter("change_set_create_complete").wait(
            ChangeSetName=change_set_id, WaiterConfig={"Delay": 5, "MaxAttempts": 120}
        )
    description = cloudformation.describe_change_set(ChangeSetName=change_set_id)
    if description["Status"] == "FAILED":
        reason = description.get("StatusReason", "")
        cloudformation.delete_change_set(ChangeSetName=change_set_id)
        if any(marker in reason for marker in NO_CHANGES):
            return None
        raise DeployError(f"CloudFormation refused the change set: {reason}")
    after = {p["ParameterKey"]: p.get("ParameterValue", "") for p in description.get("Parameters", [])}
    return Plan(
        stack=stack,
        change_set_id=change_set_id,
        creates_stack=existing is None,
        parameter_changes=_parameter_changes(before, after),
        resource_changes=_resource_changes(description.get("Changes", [])),
    )


def apply(cloudformation: Any, planned: Plan) -> str:
    """Execute the change set and wait for the stack; return its final status."""
    cloudformation.execute_change_set(ChangeSetName=planned.change_set_id)
    waiter = "stack_create_complete" if planned.creates_stack else "stack_update_complete"
    try:
        cloudformation.get_waiter(waiter).wait(StackName=planned.stack, WaiterConfig={"Delay": 10, "MaxAttempts": 360})
    except WaiterError as error:
        raise DeployError(
            f"stack {planned.stack} did not complete ({error}); its events say why: "
            f"aws cloudformation describe-stack-events --stack-name {planned.stack}"
        ) from error
    return cloudformation.describe_stacks(StackName=planned.stack)["Stacks"][0]["StackStatus"]


def deploy(
    cloudformation: Any,
    stack: str,
    template: str,
    given: dict[str, str],
    confirm: Callable[[Plan], bool] = lambda _: True,
    say: Callable[[str], None] = print,
) -> str:
    """Plan, show, confirm, apply. Returns the stack status, UNCHANGED, or raises DeployError."""
    planned = plan(cloudformation, stack, template, given)
    if planned is None:
        return "UNCHANGED"
    say(planned.describe())
    try:
        confirmed = confirm(planned)
    except BaseException:
        cloudformation.delete_change_set(ChangeSetName=planned.change_set_id)
        raise
    if not confirmed:
        cloudformation.delete_change_set(ChangeSetName=planned.change_set_id)
        raise DeployError("nothing was changed (not confirmed); run again with --yes to apply without asking")
    return apply(cloudformation, planned)


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


def _confirmation(assume_yes: bool) -> Callable[[Plan], bool]:
    def confirm(_: Plan) -> bool:
        if assume_yes or os.environ.get("CI", "").lower() == "true":
            return True
        if not sys.stdin.isatty():
            raise DeployError("no terminal to confirm on: nothing was changed; run again with --yes to apply")
        return input("Apply this change set? [y/N] ").strip().lower() in ("y", "yes")

    return confirm


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Deploy the IAM_USER_CONSOLE_MFA rule (change set, settings kept).")
    parser.add_argument("--bucket", help="S3 bucket for the Lambda zip (in --region); not needed with --member-role")
    parser.add_argument("--region", required=True, help="the Region where Config records IAM")
    parser.add_argument("--stack", help="stack name (default: iam-user-console-mfa, or ...-member-role)")
    parser.add_argument("--zip", type=Path, default=DEFAULT_ZIP)
    parser.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--yes", action="store_true", help="apply the change set without asking (also when CI=true)")
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
    args = parser.parse_args(argv)
    session = boto3.Session(region_name=args.region)
    stack = args.stack or ("iam-user-console-mfa-member-role" if args.member_role else "iam-user-console-mfa")
    try:
        given = _parameters(args.parameter)
        cloudformation = session.client("cloudformation")
        confirm = _confirmation(args.yes)
        if args.member_role:
            status = deploy(cloudformation, stack, MEMBER_ROLE_TEMPLATE.read_text(), given, confirm)
            print(f"stack {stack} in {args.region}: {status}")
            return 0
        if not args.bucket:
            raise DeployError("--bucket is required (the S3 bucket for the Lambda zip)")
        if not args.zip.exists():
            raise DeployError(f"{args.zip} not found; run 'make package' first")
        s3 = session.client("s3")
        key = upload(s3, args.bucket, args.zip)
        parameters = {"CodeBucket": args.bucket, "CodeKey": key}
        template = TEMPLATE
        if args.organization:
            template = ORGANIZATION_TEMPLATE
            role_key = upload(s3, args.bucket, MEMBER_ROLE_TEMPLATE)
            parameters["MemberRoleTemplateUrl"] = f"https://{args.bucket}.s3.{args.region}.amazonaws.com/{role_key}"
            organizations = session.client("organizations")
            organization = read_organization(organizations, session.client("sts"))
            current = stack_parameters(current_stack(cloudformation, stack))
            parameters.update(given)
            parameters.update(
                organization_parameters(organizations, organization, given, current, args.management_account_has_role)
            )
        else:
            parameters.update(given)
        status = deploy(cloudformation, stack, template.read_text(), parameters, confirm)
    except DeployError as error:
        print(f"deploy: {error}", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError) as error:
        print(f"deploy: {error}", file=sys.stderr)
        return 2
    print(f"stack {stack} in {args.region}: {status} (code s3://{args.bucket}/{key})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
