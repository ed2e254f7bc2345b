"""Trust boundaries: the rule reads and reports only for the account it was invoked for, and, deployed
for an organization, only for accounts of that organization.

Two checks, both before any IAM read or result is sent:

* the account whose IAM the credentials read must be the event's ``accountId``;
* with ``ORGANIZATION_ID`` set (the organization stack sets it), the event's account must be a member,
  asked of AWS Organizations before any role is assumed.

Example::

    organization_id = organization_id_from(os.environ)       # None without ORGANIZATION_ID
    membership_of(organization_id).require_member(organizations_client, "111122223333")  # raises for an outsider
    require_same_account("111122223333", account_read_by(clients, context))
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from botocore.client import BaseClient

from .aws import AwsClients, call
from .exceptions import AccountMismatchError, AccountOutsideOrganizationError, AwsCallError, InvalidParameterError
from .identifiers import ORGANIZATION_ID, account_of, function_arn

# How long a membership answer is trusted. Accounts join and leave rarely; an outsider's
# repeated events then cost one Organizations call per window, not one per event.
MEMBER_TTL_SECONDS = 3600.0
OUTSIDER_TTL_SECONDS = 300.0
# Set by the organization stacks: events for accounts outside this organization are refused.
ORGANIZATION_VARIABLE = "ORGANIZATION_ID"


def account_read_by(clients: AwsClients, context: Any) -> str:
    """The account whose IAM these clients read, at most one call to find out.

    An assumed role's account is in its ARN; the function's own account is in its ARN in the
    Lambda context; only without either (a local run) is STS asked.
    """
    account = account_of(clients.assumed_role_arn) or account_of(function_arn(context))
    return account or call(clients.client("sts"), "GetCallerIdentity")["Account"]


def require_same_account(event_account: str, read_account: str) -> None:
    if event_account != read_account:
        raise AccountMismatchError(
            f"the event is for account {event_account}, but the rule's credentials read account {read_account}; "
            "nothing was read or reported. Evaluate another account through ExecutionRoleName (a role in that "
            "account), not with the function's own role."
        )


class OrganizationMembership:
    """Whether an account belongs to the organization, from organizations:DescribeAccount, cached briefly."""

    def __init__(self, organization_id: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.organization_id = organization_id
        self._clock = clock
        self._answers: dict[str, tuple[bool, float]] = {}

    def is_member(self, organizations: BaseClient, account_id: str) -> bool:
        cached = self._answers.get(account_id)
        if cached and self._clock() < cached[1]:
            return cached[0]
        try:
            account = call(organizations, "DescribeAccount", AccountId=account_id)["Account"]
        except AwsCallError as error:
            if error.code != "AccountNotFoundException":
                raise
            member = False
        else:
            # The account's ARN names its organization: arn:aws:organizations::<management>:account/o-.../<id>
            member = f"/{self.organization_id}/" in account.get("Arn", "")
        ttl = MEMBER_TTL_SECONDS if member else OUTSIDER_TTL_SECONDS
        self._answers[account_id] = (member, self._clock() + ttl)
        return member

    def require_member(self, organizations: BaseClient, account_id: str) -> None:
        if not self.is_member(organizations, account_id):
            raise AccountOutsideOrganizationError(
                f"account {account_id} is not a member of organization {self.organization_id}; refused before "
                "assuming any role. Its AWS Config is invoking this function: see the README on outside invocations."
            )


def organization_id_from(environment: Mapping[str, str]) -> str | None:
    """The organization the function serves (``ORGANIZATION_ID``), validated; ``None`` when it serves one account."""
    organization_id = environment.get(ORGANIZATION_VARIABLE, "").strip()
    if not organization_id:
        return None
    if not ORGANIZATION_ID.fullmatch(organization_id):
        raise InvalidParameterError(
            f"{ORGANIZATION_VARIABLE} (environment)", f"{organization_id[:40]!r} is not an organization id"
        )
    return organization_id


# Kept across invocations of a warm function, so members cost one Organizations call an hour.
_memberships: dict[str, OrganizationMembership] = {}


def membership_of(organization_id: str) -> OrganizationMembership:
    """The organization's membership answers, one cache per organization for the life of the container."""
    return _memberships.setdefault(organization_id, OrganizationMembership(organization_id))
