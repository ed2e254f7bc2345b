"""The enforcement ledger: today's enforcements, counted atomically, and the users already given notice.

One DynamoDB table (the account stack's ``EnforcementLedger``), key ``pk``:

* ``enforcements#YYYY-MM-DD`` (UTC day): ``enforced`` (a number) and ``user_ids`` (a string set);
  for the organization's enforcement function, one count per member account and day:
  ``enforcements#<account>#YYYY-MM-DD``.
  A slot is claimed by one conditional ``UpdateItem`` - "add one and this UserId, if fewer than the
  limit and this user is not counted yet" - so concurrent remediations can never go past the limit
  between them. Why not something without a table: a CloudWatch metric's statistics lag by minutes
  and cannot be read and incremented in one step, an SSM parameter has no conditional update, and
  Config's own ``ExecutionControls`` limit concurrency in percent of one batch, not enforcements a day.
  The organization's function also counts the whole organization's day, ``enforcements#organization#YYYY-MM-DD``,
  so 200 accounts cannot enforce 200 times the per-account limit.
* ``started`` (``started#<account>`` for the organization's function): when enforcement was first on
  there, or the account first reached the organization's function (it joined the pack). Written once
  (the first write wins) and never expires: every user existing then gets a grace period from it.
* ``accounts`` (the organization's ledger): ``account_ids``, every member account enforcement started in.
* ``grace#<UserId>`` (``grace#<account>#<UserId>``): the earliest console-password CreateDate seen for
  the user without an allowed MFA device. Written once; deleting and re-creating the password later
  does not move it, so the enforcement grace never starts again.
* ``notice#<UserId>#<grace end>#<stage>``: written when that notice has been sent (stage ``start``,
  or the reminder's days before the end); each is sent once, however often the daily run runs.

Day counts and notices expire by the table's TTL attribute ``expires_at`` (epoch seconds).

Example::

    ledger = EnforcementLedger(clients.client("dynamodb"), "stack-EnforcementLedger-ABC")
    ledger.claim_slot(now, "AIDAEXAMPLE000000001", limit=5)   # True: counted (or already counted today)
    ledger.enforcement_started(now)                            # the first call's ``now``, ever after
    EnforcementLedger(dynamodb, "org-EnforcementLedger-ABC", account="111122223333")   # that account's count
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from botocore.client import BaseClient

from .aws import call
from .exceptions import AwsCallError

# Long enough to read back what happened in a month's review; TTL deletes them after.
KEEP_DAY_COUNTS = timedelta(days=90)
KEEP_NOTICES_AFTER_GRACE = timedelta(days=30)
_CONDITION_FAILED = "ConditionalCheckFailedException"


ORGANIZATION_SCOPE = "organization"
ACCOUNTS_KEY = "accounts"


class EnforcementLedger:
    def __init__(self, dynamodb: BaseClient, table_name: str, account: str | None = None) -> None:
        self._dynamodb = dynamodb
        self._table = table_name
        # The daily limit is per account: one account's bulk import must not use up another's.
        self._account = account

    @property
    def _scope(self) -> str:
        return f"{self._account}#" if self._account else ""

    def day_key(self, now: datetime, scope: str | None = None) -> str:
        """``scope``: ``ORGANIZATION_SCOPE`` for the organization's count; the ledger's account by default."""
        return f"enforcements#{self._scope if scope is None else scope + '#'}{now:%Y-%m-%d}"

    def _first_write(self, key: str, attribute: str, value: datetime) -> datetime:
        """Store ``value`` under ``key`` unless a value is there already; return the stored one (one call)."""
        answer = call(
            self._dynamodb,
            "UpdateItem",
            TableName=self._table,
            Key={"pk": {"S": key}},
            UpdateExpression=f"SET {attribute} = if_not_exists({attribute}, :value)",
            ExpressionAttributeValues={":value": {"S": value.astimezone(timezone.utc).isoformat()}},
            ReturnValues="ALL_NEW",
        )
        return datetime.fromisoformat(answer["Attributes"][attribute]["S"])

    def enforcement_started(self, now: datetime) -> datetime:
        """When enforcement started in the ledger's account: ``now`` on the first call, the stored moment after.

        The organization's ledger also lists the account, for the daily run to visit.
        """
        started = self._first_write(f"started{'#' + self._account if self._account else ''}", "started_at", now)
        # Listed every time (adding to a set is idempotent): a failure between the two writes cannot leave
        # an account out of the daily run for good.
        if self._account:
            call(
                self._dynamodb,
                "UpdateItem",
                TableName=self._table,
                Key={"pk": {"S": ACCOUNTS_KEY}},
                UpdateExpression="ADD account_ids :account",
                ExpressionAttributeValues={":account": {"SS": [self._account]}},
            )
        return started

    def known_accounts(self) -> list[str]:
        """The member accounts enforcement has started in (sorted): those the organization's daily run visits."""
        item = call(
            self._dynamodb, "GetItem", TableName=self._table, Key={"pk": {"S": ACCOUNTS_KEY}}, ConsistentRead=True
        )
        return sorted(item.get("Item", {}).get("account_ids", {}).get("SS", []))

    def grace_began(self, user_id: str, password_created: datetime) -> datetime:
        """The earliest password CreateDate recorded for ``user_id`` (this one, if none is yet)."""
        return self._first_write(f"grace#{self._scope}{user_id}", "password_created", password_created)

    def enforced_since(self, since: datetime, now: datetime) -> dict[str, set[str]]:
        """UserIds counted as enforced on each UTC day from ``since`` to ``now`` (days with none left out)."""
        found: dict[str, set[str]] = {}
        day = since
        while day.date() <= now.date():
            users = self.enforced_today(day)
            if users:
                found[f"{day:%Y-%m-%d}"] = users
            day += timedelta(days=1)
        return found

    def claim_slot(self, now: datetime, user_id: str, limit: int, scope: str | None = None) -> bool:
        """Count one enforcement of ``user_id`` today, unless today's count has reached ``limit``.

        True when counted now or already counted today (a retried remediation of the same user);
        False when the limit is reached. A slot is claimed before the user is added to the group, so
        a failed add still counts: the limit errs towards enforcing fewer users, never more.
        """
        key = {"pk": {"S": self.day_key(now, scope)}}
        try:
            call(
                self._dynamodb,
                "UpdateItem",
                TableName=self._table,
                Key=key,
                UpdateExpression="ADD enforced :one, user_ids :user_set SET expires_at = :expires",
                ConditionExpression=(
                    "(attribute_not_exists(enforced) OR enforced < :limit) AND NOT contains(user_ids, :user)"
                ),
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":limit": {"N": str(limit)},
                    ":user": {"S": user_id},
                    ":user_set": {"SS": [user_id]},
                    ":expires": {"N": str(int((now + KEEP_DAY_COUNTS).timestamp()))},
                },
            )
        except AwsCallError as error:
            if error.code != _CONDITION_FAILED:
                raise
            return user_id in self.enforced_today(now, scope)
        return True

    def enforced_today(self, now: datetime, scope: str | None = None) -> set[str]:
        item = call(
            self._dynamodb,
            "GetItem",
            TableName=self._table,
            Key={"pk": {"S": self.day_key(now, scope)}},
            ConsistentRead=True,
        )
        return set(item.get("Item", {}).get("user_ids", {}).get("SS", []))

    def _notice_key(self, user_id: str, grace_ends: datetime, stage: str) -> dict[str, dict[str, str]]:
        return {"pk": {"S": f"notice#{self._scope}{user_id}#{grace_ends:%Y-%m-%dT%H:%M:%SZ}#{stage}"}}

    def was_noticed(self, user_id: str, grace_ends: datetime, stage: str) -> bool:
        item = call(
            self._dynamodb,
            "GetItem",
            TableName=self._table,
            Key=self._notice_key(user_id, grace_ends, stage),
            ConsistentRead=True,
        )
        return "Item" in item

    def record_notice(self, user_id: str, grace_ends: datetime, stage: str, now: datetime) -> None:
        """Record that ``user_id`` was given the ``stage`` notice of a grace ending at ``grace_ends``.

        Called after the notice was published: a failure in between announces the user again the
        next day, which is better than never.
        """
        call(
            self._dynamodb,
            "PutItem",
            TableName=self._table,
            Item={
                **self._notice_key(user_id, grace_ends, stage),
                "noticed_at": {"S": now.isoformat()},
                "expires_at": {"N": str(int((grace_ends + KEEP_NOTICES_AFTER_GRACE).timestamp()))},
            },
        )
