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
* ``notice#<UserId>#<grace end>``: written when the user's notice has been sent; a user is
  announced once per grace period, however often the notice job runs.

Items expire by the table's TTL attribute ``expires_at`` (epoch seconds).

Example::

    ledger = EnforcementLedger(clients.client("dynamodb"), "stack-EnforcementLedger-ABC")
    ledger.claim_slot(now, "AIDAEXAMPLE000000001", limit=5)   # True: counted (or already counted today)
    EnforcementLedger(dynamodb, "org-EnforcementLedger-ABC", account="111122223333")   # that account's count
"""

from __future__ import annotations

from datetime import datetime, timedelta

from botocore.client import BaseClient

from .aws import call
from .exceptions import AwsCallError

# Long enough to read back what happened in a month's review; TTL deletes them after.
KEEP_DAY_COUNTS = timedelta(days=90)
KEEP_NOTICES_AFTER_GRACE = timedelta(days=30)
_CONDITION_FAILED = "ConditionalCheckFailedException"


class EnforcementLedger:
    def __init__(self, dynamodb: BaseClient, table_name: str, account: str | None = None) -> None:
        self._dynamodb = dynamodb
        self._table = table_name
        # The daily limit is per account: one account's bulk import must not use up another's.
        self._account = account

    def day_key(self, now: datetime) -> str:
        scope = f"{self._account}#" if self._account else ""
        return f"enforcements#{scope}{now:%Y-%m-%d}"

    def claim_slot(self, now: datetime, user_id: str, limit: int) -> bool:
        """Count one enforcement of ``user_id`` today, unless today's count has reached ``limit``.

        True when counted now or already counted today (a retried remediation of the same user);
        False when the limit is reached. A slot is claimed before the user is added to the group, so
        a failed add still counts: the limit errs towards enforcing fewer users, never more.
        """
        key = {"pk": {"S": self.day_key(now)}}
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
            return user_id in self.enforced_today(now)
        return True

    def enforced_today(self, now: datetime) -> set[str]:
        item = call(
            self._dynamodb, "GetItem", TableName=self._table, Key={"pk": {"S": self.day_key(now)}}, ConsistentRead=True
        )
        return set(item.get("Item", {}).get("user_ids", {}).get("SS", []))

    @staticmethod
    def _notice_key(user_id: str, grace_ends: datetime) -> dict[str, dict[str, str]]:
        return {"pk": {"S": f"notice#{user_id}#{grace_ends:%Y-%m-%dT%H:%M:%SZ}"}}

    def was_noticed(self, user_id: str, grace_ends: datetime) -> bool:
        item = call(
            self._dynamodb,
            "GetItem",
            TableName=self._table,
            Key=self._notice_key(user_id, grace_ends),
            ConsistentRead=True,
        )
        return "Item" in item

    def record_notice(self, user_id: str, grace_ends: datetime, now: datetime) -> None:
        """Record that ``user_id`` was told its grace ends at ``grace_ends``.

        Called after the notice was published: a failure in between announces the user again the
        next day, which is better than never.
        """
        call(
            self._dynamodb,
            "PutItem",
            TableName=self._table,
            Item={
                **self._notice_key(user_id, grace_ends),
                "noticed_at": {"S": now.isoformat()},
                "expires_at": {"N": str(int((grace_ends + KEEP_NOTICES_AFTER_GRACE).timestamp()))},
            },
        )
