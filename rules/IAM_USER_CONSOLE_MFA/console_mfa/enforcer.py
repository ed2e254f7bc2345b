"""One account's enforcement, the function's settings and the AWS calls enforcement makes besides the checks.

:class:`Enforcer` holds what one account's enforcement needs (the clients of the user's account, the
clients of the function's own account with the ledger, topic, SES and kill switch, the policy, the time)
and does the two things both entry points share: assess a user with the ledger's grace records, and try
to enforce one (group, access keys, the daily limits, then the group add). The decisions themselves are
:mod:`console_mfa.enforcement`'s.

Example::

    settings = Settings.from_environment()
    enforcer = Enforcer(clients, clients, settings, policy, "123456789012", now, organization=False)
    assessment = enforcer.assess(user)
    if assessment.act:
        assessment = enforcer.try_enforce(user, assessment)   # outcome ENFORCED, or why not
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from .aws import AwsClients, call, collect_if_exists
from .boundaries import organization_id_from
from .enforcement import (
    DEFAULT_MAX_ENFORCEMENTS_PER_DAY,
    DEFAULT_MAX_ORGANIZATION_ENFORCEMENTS_PER_DAY,
    DEFAULT_RECENT_KEY_DAYS,
    MAX_ENFORCEMENTS_PER_DAY,
    MAX_ORGANIZATION_ENFORCEMENTS_PER_DAY,
    MAX_RECENT_KEY_DAYS,
    Assessment,
    Contact,
    Outcome,
    assess,
    held_back_notice,
    without_allowed_mfa,
)
from .enforcement_ledger import ORGANIZATION_SCOPE, EnforcementLedger
from .exceptions import AwsCallError, InvalidParameterError
from .facts import MissingUser, UserFacts
from .policy import Policy
from .verdict import decide

METRIC_NAMESPACE = "IAM_USER_CONSOLE_MFA"
# The stack's EnforcementLimitAlarm watches this one.
HELD_BACK_METRIC = "EnforcementsHeldBack"
ENFORCED_METRIC = "Enforcements"
_ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
_DOCUMENT_NAME = re.compile(r"[\w.-]{3,128}", re.ASCII)
_GROUP_NAME = re.compile(r"[\w+=,.@-]{1,128}", re.ASCII)
_PARAMETER_NAME = re.compile(r"/?[\w.-]+(/[\w.-]+)*", re.ASCII)
_ADDRESS = re.compile(r"[^@\s]{1,64}@[^@\s]{1,255}")
# The kill switch's one value that lets enforcement proceed; anything else, or no answer, is "paused".
SWITCH_ON = "on"


@dataclass(frozen=True)
class Settings:
    """The function's environment, validated; a bad value names the variable."""

    rule_name: str
    group_name: str
    ledger_table: str
    topic_arn: str
    max_per_day: int
    # The kill switch: an SSM parameter in the function's account; enforcement only while it reads "on".
    switch_parameter: str
    recent_key_days: int
    enforce_recent_keys: bool
    # The user tag holding a user's e-mail address, the verified SES sender (None: nobody is e-mailed).
    address_tag: str
    sender: str | None
    contact: Contact
    # The stack's own enforcement document (a name in the account the automation runs in).
    document_name: str
    # Set for the organization's function only: it acts in member accounts through these.
    organization_id: str | None = None
    enforcer_role: str | None = None
    max_organization_per_day: int | None = None

    @classmethod
    def from_environment(cls, environment: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environment is None else environment

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise InvalidParameterError(f"{name} (environment)", "must be set")
            return value

        def number(name: str, default: int, lowest: int, highest: int) -> int:
            value = env.get(name, "").strip() or str(default)
            if not value.isdigit() or not lowest <= int(value) <= highest:
                raise InvalidParameterError(
                    f"{name} (environment)", f"{value[:20]!r} is not a whole number from {lowest} to {highest}"
                )
            return int(value)

        def flag(name: str) -> bool:
            value = env.get(name, "").strip().lower() or "false"
            if value not in ("true", "false"):
                raise InvalidParameterError(f"{name} (environment)", f"{value[:20]!r} is not true or false")
            return value == "true"

        group = required("FORCE_MFA_GROUP")
        switch = required("ENFORCEMENT_SWITCH_PARAMETER")
        if not _PARAMETER_NAME.fullmatch(switch):
            raise InvalidParameterError(
                "ENFORCEMENT_SWITCH_PARAMETER (environment)", f"{switch[:80]!r} is not an SSM parameter name"
            )
        sender = env.get("NOTICE_SENDER", "").strip() or None
        if sender is not None and not _ADDRESS.fullmatch(sender):
            raise InvalidParameterError("NOTICE_SENDER (environment)", f"{sender[:80]!r} is not an e-mail address")
        if not _GROUP_NAME.fullmatch(group):
            raise InvalidParameterError("FORCE_MFA_GROUP (environment)", f"{group[:80]!r} is not an IAM group name")
        topic = required("OPERATORS_TOPIC_ARN")
        if not topic.startswith("arn:") or ":sns:" not in topic:
            raise InvalidParameterError("OPERATORS_TOPIC_ARN (environment)", f"{topic[:80]!r} is not an SNS topic ARN")
        organization_id = organization_id_from(env)
        enforcer_role = None
        # Every remediation is confirmed as an automation of this document, in one account as in the organization.
        document_name = required("ENFORCEMENT_DOCUMENT")
        if not _DOCUMENT_NAME.fullmatch(document_name):
            raise InvalidParameterError(
                "ENFORCEMENT_DOCUMENT (environment)", f"{document_name[:80]!r} is not an SSM document name"
            )
        if organization_id is not None:
            enforcer_role = required("MEMBER_ENFORCER_ROLE")
            if not _ROLE_NAME.fullmatch(enforcer_role):
                raise InvalidParameterError(
                    "MEMBER_ENFORCER_ROLE (environment)", f"{enforcer_role[:80]!r} is not an IAM role name"
                )
        return cls(
            rule_name=required("CONFIG_RULE_NAME"),
            group_name=group,
            ledger_table=required("LEDGER_TABLE"),
            topic_arn=topic,
            max_per_day=number(
                "MAX_ENFORCEMENTS_PER_DAY", DEFAULT_MAX_ENFORCEMENTS_PER_DAY, 1, MAX_ENFORCEMENTS_PER_DAY
            ),
            switch_parameter=switch,
            recent_key_days=number("RECENT_ACCESS_KEY_DAYS", DEFAULT_RECENT_KEY_DAYS, 1, MAX_RECENT_KEY_DAYS),
            enforce_recent_keys=flag("ENFORCE_USERS_WITH_RECENT_KEYS"),
            address_tag=env.get("USER_ADDRESS_TAG", "").strip() or "email",
            sender=sender,
            contact=Contact(required("USER_GUIDE_URL"), required("NOTICE_CONTACT")),
            organization_id=organization_id,
            enforcer_role=enforcer_role,
            document_name=document_name,
            max_organization_per_day=number(
                "MAX_ORGANIZATION_ENFORCEMENTS_PER_DAY",
                DEFAULT_MAX_ORGANIZATION_ENFORCEMENTS_PER_DAY,
                1,
                MAX_ORGANIZATION_ENFORCEMENTS_PER_DAY,
            )
            if organization_id
            else None,
        )


def is_in_group(iam: Any, user_name: str, group_name: str) -> bool | None:
    """Whether the user is in the group; ``None`` when IAM no longer has the user."""
    groups = collect_if_exists(iam, "ListGroupsForUser", "Groups", UserName=user_name)
    if groups is None:
        return None
    return any(group["GroupName"] == group_name for group in groups)


def publish(clients: AwsClients, topic_arn: str, message: dict[str, str]) -> None:
    call(clients.client("sns"), "Publish", TopicArn=topic_arn, **message)


def put_metric(clients: AwsClients, name: str) -> None:
    call(
        clients.client("cloudwatch"),
        "PutMetricData",
        Namespace=METRIC_NAMESPACE,
        MetricData=[{"MetricName": name, "Value": 1.0, "Unit": "Count"}],
    )


def paused_because(ssm: Any, parameter: str) -> str | None:
    """Why enforcement is paused now, or ``None`` when the kill switch reads exactly ``on``.

    Fails closed: a missing parameter, another value and an error reading it all pause enforcement.
    """
    try:
        value = call(ssm, "GetParameter", Name=parameter)["Parameter"]["Value"]
    except AwsCallError as error:
        return f"the switch {parameter} could not be read ({error.code or error})."
    if value.strip() != SWITCH_ON:
        return f"the switch {parameter} is {value[:40]!r}, not {SWITCH_ON!r}."
    return None


def recent_key_use(iam: Any, user_name: str, now: datetime, days: int) -> str | None:
    """Which of the user's active access keys were used in the last ``days`` days, or ``None``.

    ForceMfa's deny applies to long-term access keys too, so enforcing such a user breaks their scripts.
    """
    used = []
    for key in collect_if_exists(iam, "ListAccessKeys", "AccessKeyMetadata", UserName=user_name) or []:
        if key.get("Status") != "Active":
            continue
        last = call(iam, "GetAccessKeyLastUsed", AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"].get(
            "LastUsedDate"
        )
        if last is not None and now - last <= timedelta(days=days):
            used.append(f"{key['AccessKeyId']} last used {last:%Y-%m-%d}")
    if not used:
        return None
    return (
        f"access keys used in the last {days} days ({'; '.join(used)}): MFA enforcement would refuse them "
        "(the ForceMfa group denies long-term keys too)."
    )


def user_address(iam: Any, user_name: str, tag: str) -> str | None:
    """The e-mail address in the user's tag ``tag``, or ``None`` without one (IAM users have no address)."""
    tags = collect_if_exists(iam, "ListUserTags", "Tags", UserName=user_name) or []
    value = next((t["Value"].strip() for t in tags if t["Key"] == tag), "")
    return value if _ADDRESS.fullmatch(value) else None


def send_email(home: AwsClients, settings: Settings, address: str, message: dict[str, str]) -> None:
    assert settings.sender is not None
    call(
        home.client("ses"),
        "SendEmail",
        Source=settings.sender,
        Destination={"ToAddresses": [address]},
        Message={"Subject": {"Data": message["Subject"]}, "Body": {"Text": {"Data": message["Body"]}}},
    )


@dataclass
class Enforcer:
    """One account's enforcement under one policy: ``clients`` read and act in the user's account; ``home``
    (the function's own account) holds the ledger, the metrics, the topic, SES and the kill switch."""

    clients: AwsClients
    home: AwsClients
    settings: Settings
    policy: Policy
    account_id: str
    now: datetime
    organization: bool

    def __post_init__(self) -> None:
        self.ledger = EnforcementLedger(
            self.home.client("dynamodb"),
            self.settings.ledger_table,
            account=self.account_id if self.organization else None,
        )
        self.started = self.ledger.enforcement_started(self.now)

    def assess(self, user: UserFacts | MissingUser | None) -> Assessment:
        first_seen = None
        if (
            isinstance(user, UserFacts)
            and user.login_profile_created is not None
            and without_allowed_mfa(decide(user, self.policy, self.now))
        ):
            first_seen = self.ledger.grace_began(user.user_id, user.login_profile_created)
        return assess(user, self.policy, self.now, self.started, first_seen)

    def tell_once(self, user: UserFacts, grace_ends: datetime, stage: str, message: dict[str, str]) -> bool | None:
        """E-mail the user ``message`` unless this stage was dealt with already (then ``None``). False when the
        user has no address (or no sender is set), so the operators must tell them; the stage counts as dealt
        with either way, so the digest lists such a user once per stage."""
        if self.ledger.was_noticed(user.user_id, grace_ends, stage):
            return None
        address = None
        if self.settings.sender:
            address = user_address(self.clients.iam, user.user_name, self.settings.address_tag)
        if address is not None:
            send_email(self.home, self.settings, address, message)
        self.ledger.record_notice(user.user_id, grace_ends, stage, self.now)
        return address is not None

    def tell_held_back(self, user: UserFacts, assessment: Assessment) -> bool | None:
        assert assessment.outcome is not None and assessment.grace_ended is not None
        message = held_back_notice(user, assessment, self.account_id, self.settings.contact)
        return self.tell_once(user, assessment.grace_ended, assessment.outcome.value, message)

    def try_enforce(self, user: UserFacts, assessment: Assessment) -> Assessment:
        """Put a user ``assess()`` says to act on into the group, unless it is there, its keys are in use or a
        daily limit is reached; the answer names what was done (``outcome`` None: enforced)."""
        settings = self.settings
        membership = is_in_group(self.clients.iam, user.user_name, settings.group_name)
        if membership is None:
            return replace(
                assessment, act=False, outcome=Outcome.USER_GONE, why="The user was deleted while it was being checked."
            )
        if membership:
            return replace(
                assessment,
                act=False,
                outcome=Outcome.ALREADY_IN_GROUP,
                why=f"The user is already in {settings.group_name}; nothing changed.",
            )
        keys = (
            None
            if settings.enforce_recent_keys
            else recent_key_use(self.clients.iam, user.user_name, self.now, settings.recent_key_days)
        )
        if keys is not None:
            return replace(assessment, act=False, outcome=Outcome.ACCESS_KEYS_IN_USE, why=f"Held back: {keys}")
        if settings.max_organization_per_day is not None and not self.ledger.claim_slot(
            self.now, user.user_id, settings.max_organization_per_day, scope=ORGANIZATION_SCOPE
        ):
            put_metric(self.home, HELD_BACK_METRIC)
            return replace(
                assessment,
                act=False,
                outcome=Outcome.ORGANIZATION_LIMIT_REACHED,
                why=f"{settings.max_organization_per_day} user(s) were enforced in the organization today already; "
                "nobody more until tomorrow (UTC).",
            )
        if not self.ledger.claim_slot(self.now, user.user_id, settings.max_per_day):
            put_metric(self.home, HELD_BACK_METRIC)
            return replace(
                assessment,
                act=False,
                outcome=Outcome.DAILY_LIMIT_REACHED,
                why=f"{settings.max_per_day} user(s) were enforced today already (MaxEnforcementsPerDay); "
                "nobody more until tomorrow (UTC).",
            )
        call(self.clients.iam, "AddUserToGroup", GroupName=settings.group_name, UserName=user.user_name)
        put_metric(self.home, ENFORCED_METRIC)
        return replace(assessment, outcome=Outcome.ENFORCED)
