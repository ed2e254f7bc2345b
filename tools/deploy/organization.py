"""AWS Organizations, read for the organization stack: who deploys (CallAs), which accounts the member role reaches.

Example::

    organization = read_organization(boto3.client("organizations"), boto3.client("sts"))
    organization.call_as   # "SELF" from the management account, "DELEGATED_ADMIN" elsewhere
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from tools.deploy.aws import DeployError, all_pages


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


def read_organization(organizations: Any, sts: Any) -> Organization:
    description = organizations.describe_organization()["Organization"]
    return Organization(
        organization_id=description["Id"],
        management_account=description["MasterAccountId"],
        caller_account=sts.get_caller_identity()["Account"],
        root_id=all_pages(organizations, "list_roots", "Roots")[0]["Id"],
        active_accounts=frozenset(
            a["Id"]
            for a in all_pages(organizations, "list_accounts", "Accounts")
            if a.get("Status", "ACTIVE") == "ACTIVE"
        ),
    )


def accounts_under(organizations: Any, parent_ids: Iterable[str]) -> set[str]:
    """Every account in the given roots or OUs, nested OUs included."""
    found: set[str] = set()
    pending = list(parent_ids)
    while pending:
        parent = pending.pop()
        found |= {a["Id"] for a in all_pages(organizations, "list_accounts_for_parent", "Accounts", ParentId=parent)}
        units = all_pages(organizations, "list_organizational_units_for_parent", "OrganizationalUnits", ParentId=parent)
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


def account_ids(value: str) -> set[str]:
    """The account IDs in a CommaDelimitedList parameter, however the endpoint renders the list."""
    return set(re.findall(r"\b\d{12}\b", value))
