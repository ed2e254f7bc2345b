"""Operating a deployed enforcement: its kill switch, its state, and undoing what it did.

The stack (rule.yaml or organization.yaml) names its kill switch and ledger in its outputs
(``EnforcementSwitchParameter``, ``EnforcementLedgerTable``); these functions read and change them.
The enforcement function reads the switch before every enforcement and fails closed, so ``pause``
takes effect at the next remediation or daily run.

Example::

    control = EnforcementControl.of_stack(clients, "iam-user-console-mfa")
    control.pause()
    control.status(now).switch            # "paused"
    undone = control.undo(iam, since=datetime(2026, 12, 1, tzinfo=timezone.utc), now=now)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from console_mfa.aws import AwsClients, call
from console_mfa.enforcement_ledger import KEEP_DAY_COUNTS, ORGANIZATION_SCOPE, EnforcementLedger
from console_mfa.enforcer import SWITCH_ON
from console_mfa.exceptions import AwsCallError, InvalidParameterError
from console_mfa.iam_facts import list_users

SWITCH_PAUSED = "paused"
# The organization route's group: member-role.yaml gives every member account this name.
ORGANIZATION_GROUP = "iam-user-console-mfa-ForceMfa"


@dataclass(frozen=True)
class EnforcementStatus:
    switch: str | None  # None: the parameter does not exist (enforcement is paused: it fails closed)
    started: datetime | None
    enforced_today: int
    organization_enforced_today: int | None

    @property
    def on(self) -> bool:
        return self.switch == SWITCH_ON


@dataclass
class Undone:
    """What ``undo`` did, by user: taken out of the group, or already out (or deleted)."""

    removed: list[str] = field(default_factory=list)
    not_in_group: list[str] = field(default_factory=list)


@dataclass
class EnforcementControl:
    clients: AwsClients
    switch_parameter: str
    ledger_table: str
    group: str | None  # the account stack's group; None for an organization stack
    account: str | None = None  # the member account (organization stack), for its counts and undo

    @classmethod
    def of_stack(cls, clients: AwsClients, stack: str, account: str | None = None) -> EnforcementControl:
        """The switch, ledger and group the stack's outputs name; a stack without enforcement is refused."""
        described = call(clients.client("cloudformation"), "DescribeStacks", StackName=stack)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
        missing = [key for key in ("EnforcementSwitchParameter", "EnforcementLedgerTable") if key not in outputs]
        if missing:
            raise InvalidParameterError(
                "--stack", f"stack {stack} has no {' or '.join(missing)} output: is Enforcement on there?"
            )
        # An organization stack's counts and users are per member account; the account stack's group is named
        # after the stack (rule.yaml: ${AWS::StackName}-ForceMfa).
        organization = "EnforcementFunctionRoleArn" in outputs
        if organization and account is None:
            raise InvalidParameterError("--account", f"stack {stack} is an organization stack: name the member account")
        group = None if organization else f"{stack}-ForceMfa"
        return cls(clients, outputs["EnforcementSwitchParameter"], outputs["EnforcementLedgerTable"], group, account)

    @property
    def _ledger(self) -> EnforcementLedger:
        return EnforcementLedger(self.clients.client("dynamodb"), self.ledger_table, account=self.account)

    def _set(self, value: str) -> None:
        call(
            self.clients.client("ssm"),
            "PutParameter",
            Name=self.switch_parameter,
            Value=value,
            Type="String",
            Overwrite=True,
        )

    def pause(self) -> None:
        """Pause every enforcement (remediations and the daily run) until ``resume``."""
        self._set(SWITCH_PAUSED)

    def resume(self) -> None:
        self._set(SWITCH_ON)

    def status(self, now: datetime) -> EnforcementStatus:
        try:
            switch = call(self.clients.client("ssm"), "GetParameter", Name=self.switch_parameter)["Parameter"]["Value"]
        except AwsCallError as error:
            if error.code != "ParameterNotFound":
                raise
            switch = None
        ledger = self._ledger
        started = call(
            self.clients.client("dynamodb"),
            "GetItem",
            TableName=self.ledger_table,
            Key={"pk": {"S": f"started#{self.account}" if self.account else "started"}},
            ConsistentRead=True,
        ).get("Item")
        organization = None
        if self.group is None:
            organization = len(ledger.enforced_today(now, scope=ORGANIZATION_SCOPE))
        return EnforcementStatus(
            switch=switch,
            started=datetime.fromisoformat(started["started_at"]["S"]) if started else None,
            enforced_today=len(ledger.enforced_today(now)),
            organization_enforced_today=organization,
        )

    def undo(self, iam: Any, since: datetime, now: datetime) -> Undone:
        """Take out of the group every user the ledger says was enforced from ``since`` (a UTC day) to now.

        ``iam`` is a client of the account the users are in (the member account for an organization stack).
        The ledger keeps day counts for ``KEEP_DAY_COUNTS``; older days cannot be undone from it.
        """
        if now - since > KEEP_DAY_COUNTS:
            raise InvalidParameterError(
                "--since", f"the ledger keeps {KEEP_DAY_COUNTS.days} days; {since:%Y-%m-%d} is older"
            )
        group = self.group or ORGANIZATION_GROUP
        user_ids = set().union(*self._ledger.enforced_since(since, now).values())
        names = {user["UserId"]: user["UserName"] for user in list_users(iam) if user["UserId"] in user_ids}
        undone = Undone()
        for user_id in sorted(user_ids):
            name = names.get(user_id)
            if name is None:
                undone.not_in_group.append(user_id)
                continue
            try:
                call(iam, "RemoveUserFromGroup", GroupName=group, UserName=name)
            except AwsCallError as error:
                if error.code != "NoSuchEntity":
                    raise
                undone.not_in_group.append(name)
                continue
            undone.removed.append(name)
        return undone
