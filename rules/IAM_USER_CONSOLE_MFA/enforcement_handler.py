"""The enforcement function: the remediation Config's SSM document invokes, and the daily notice.

The automation document decides nothing: it passes the UserId Config names to this function,
which checks again, live, before it acts (Config's automatic remediation can fire on a user who
has since complied). Two entry points in one handler, chosen by the event's ``action``:

* ``{"action": "enforce", "UserId": "AIDA...", "ExecutionId": ...}`` (the document): confirm with
  ``ssm:GetAutomationExecution`` that the execution is an automation of the stack's own
  ``ENFORCEMENT_DOCUMENT`` running now for that UserId (so no other caller can have a user enforced),
  resolve the UserId to the user with IAM's ListUsers, read its login profile and devices, read the
  rule's parameters from Config (``DescribeConfigRules``, so a parameter changed since the evaluation
  counts), run ``decide()``,
  and add the user to the ForceMfa group only if it is NON_COMPLIANT now, it is not in the group
  yet, and today's enforcements have not reached ``MAX_ENFORCEMENTS_PER_DAY``.
* ``{"action": "notify"}`` (a daily schedule): tell the operators' topic, once per user, whose
  grace period ends within ``NOTICE_DAYS``, and which NON_COMPLIANT users are not enforced.

Deployed for an organization (``ORGANIZATION_ID`` set, organization.yaml), the function serves the
organization conformance pack's remediation in every member account. The member's automation
invokes it across accounts with ``{"action": "enforce", "UserId": ..., "AccountId": ...,
"ExecutionId": ...}``; before reading anything it refuses an account outside the organization (as
the rule does), assumes the member's ``MEMBER_ENFORCER_ROLE``, and confirms with
``ssm:GetAutomationExecution`` that the execution is an automation of ``ENFORCEMENT_DOCUMENT``
running in that account for that UserId, so no other caller can have a user enforced. It then
checks the user as above, under the parameters of the member's copy of the rule, counts against
that account's own daily limit, and tells the operators' topic. The daily notice is the account
stack's only.

Every action and every refusal is one JSON log line; every enforcement and every hold-back is a
message to the operators' topic. AWS errors raise (precise :mod:`console_mfa.exceptions`); the
document's script step fails the automation on the function error, and Config shows the remediation
as failed, rather than pretend.

Example::

    handler({"action": "enforce", "UserId": "AIDAEXAMPLE000000001", "ExecutionId": "0c9f..."}, context)
    # {"outcome": "enforced", "userName": "bob", ...}
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import boto3
from console_mfa.aws import AwsClients, call, collect, collect_if_exists
from console_mfa.boundaries import account_read_by, membership_of, organization_id_from
from console_mfa.enforcement import (
    DEFAULT_MAX_ENFORCEMENTS_PER_DAY,
    DEFAULT_NOTICE_DAYS,
    MAX_ENFORCEMENTS_PER_DAY,
    MAX_NOTICE_DAYS,
    Outcome,
    assess,
    enforced_message,
    limit_reached_message,
    notice_due,
    notice_messages,
)
from console_mfa.enforcement_ledger import EnforcementLedger
from console_mfa.exceptions import AwsCallError, InvalidEventError, InvalidParameterError, UnconfirmedAutomationError
from console_mfa.facts import UserFacts
from console_mfa.iam_facts import MissingUser, list_users, live_user_facts, with_tags_if_needed
from console_mfa.identifiers import ACCOUNT_ID, function_arn, partition_of
from console_mfa.lambda_entry import Result, Run, lambda_entry, log_line
from console_mfa.policy import Enforcement, Policy, parse_rule_parameters
from console_mfa.sweep import Deadline, sweep_account
from console_mfa.verdict import ComplianceType, decide

logger = logging.getLogger("console_mfa.enforcement")

METRIC_NAMESPACE = "IAM_USER_CONSOLE_MFA"
# The stack's EnforcementLimitAlarm watches this one.
HELD_BACK_METRIC = "EnforcementsHeldBack"
ENFORCED_METRIC = "Enforcements"
_USER_ID = re.compile(r"AIDA[A-Z0-9]{12,124}")
_GROUP_NAME = re.compile(r"[\w+=,.@-]{1,128}", re.ASCII)
_ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
_DOCUMENT_NAME = re.compile(r"[\w.-]{3,128}", re.ASCII)
_EXECUTION_ID = re.compile(r"[0-9a-fA-F-]{36}")
# An automation whose step invokes this function is running; any other state is not a live remediation.
_RUNNING = {"Pending", "InProgress"}
# The daily notice checks every user live (the three reads the remediation needs anyway, so the
# function's role needs no credential report or CloudTrail access); this much is kept for sending.
NOTICE_RESERVE_SECONDS = 30.0


@dataclass(frozen=True)
class Settings:
    """The function's environment, validated; a bad value names the variable."""

    rule_name: str
    group_name: str
    ledger_table: str
    topic_arn: str
    max_per_day: int
    notice_days: int
    # The stack's own enforcement document (a name in the account the automation runs in).
    document_name: str
    # Set for the organization's function only: it acts in member accounts through these.
    organization_id: str | None = None
    enforcer_role: str | None = None

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

        group = required("FORCE_MFA_GROUP")
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
            notice_days=number("NOTICE_DAYS", DEFAULT_NOTICE_DAYS, 1, MAX_NOTICE_DAYS),
            organization_id=organization_id,
            enforcer_role=enforcer_role,
            document_name=document_name,
        )


def rule_policy(config: Any, rule_name: str, in_conformance_pack: bool = False) -> Policy:
    """The rule's parameters as Config holds them now, validated as the rule itself validates them.

    ``in_conformance_pack``: the account's copy of the rule an organization conformance pack created,
    which Config names ``<rule_name>-conformance-pack-<suffix>`` (the exact name is kept too). Exactly
    one must exist: two copies could disagree on who is exempt.
    """
    if in_conformance_pack:
        rules = [
            rule
            for rule in collect(config, "DescribeConfigRules", "ConfigRules")
            if rule["ConfigRuleName"] == rule_name
            or rule["ConfigRuleName"].startswith(f"{rule_name}-conformance-pack-")
        ]
    else:
        rules = call(config, "DescribeConfigRules", ConfigRuleNames=[rule_name])["ConfigRules"]
    if len(rules) != 1:
        names = ", ".join(sorted(rule["ConfigRuleName"] for rule in rules)) or "none"
        raise InvalidParameterError(
            "CONFIG_RULE_NAME (environment)", f"Config has no single rule named {rule_name!r} (found: {names})"
        )
    try:
        raw = json.loads(rules[0].get("InputParameters") or "{}")
    except json.JSONDecodeError as error:
        raise InvalidParameterError("InputParameters", f"the rule's parameters are not JSON ({error})") from error
    if not isinstance(raw, dict):
        raise InvalidParameterError("InputParameters", "the rule's parameters are not a JSON object")
    return parse_rule_parameters(raw)


def find_user(iam: Any, user_id: str) -> UserFacts | MissingUser | None:
    """The user with this UserId, read live; ``None`` when IAM has no such user.

    IAM has no lookup by UserId. ListUsers is IAM's own answer (5 pages of 1,000 at IAM's 5,000-user
    quota), where Config's inventory (ListDiscoveredResources) could still name a user deleted or
    renamed since it was last recorded.
    """
    listed = next((user for user in list_users(iam) if user["UserId"] == user_id), None)
    if listed is None:
        return None
    return live_user_facts(iam, listed["UserName"], user_id, listed["Arn"])


def is_in_group(iam: Any, user_name: str, group_name: str) -> bool | None:
    """Whether the user is in the group; ``None`` when IAM no longer has the user."""
    groups = collect_if_exists(iam, "ListGroupsForUser", "Groups", UserName=user_name)
    if groups is None:
        return None
    return any(group["GroupName"] == group_name for group in groups)


def user_id_of(event: Mapping[str, Any]) -> str:
    user_id = event.get("UserId")
    if not isinstance(user_id, str) or not _USER_ID.fullmatch(user_id):
        raise InvalidEventError(f"UserId {str(user_id)[:80]!r} is not an IAM UserId (AIDA...)")
    return user_id


def member_account_of(event: Mapping[str, Any]) -> str:
    account = event.get("AccountId")
    if not isinstance(account, str) or not ACCOUNT_ID.fullmatch(account):
        raise InvalidEventError(f"AccountId {str(account)[:40]!r} is not an AWS account id (12 digits)")
    return account


def confirm_automation(ssm: Any, event: Mapping[str, Any], user_id: str, document_name: str, account_id: str) -> str:
    """Raise unless the event's ExecutionId is an automation of ``document_name`` running now for ``user_id``.

    ``ssm`` reads the account the user is in (``account_id``), where the document is the stack's own: its
    name, or its ARN in that account and Region, never a document of the same name shared from elsewhere.
    This binds every request to that account's own remediation: only someone who may run the enforcement
    document there (Config, or an operator's Remediate) can have a user of that account enforced, whoever
    else may invoke the function.

        confirm_automation(ssm, {"ExecutionId": "0c9f..."}, "AIDAEXAMPLE000000001", "Enforce", "123456789012")
    """
    execution_id = event.get("ExecutionId")
    if not isinstance(execution_id, str) or not _EXECUTION_ID.fullmatch(execution_id):
        raise UnconfirmedAutomationError(f"ExecutionId {str(execution_id)[:60]!r} is not an automation execution id")
    try:
        execution = call(ssm, "GetAutomationExecution", AutomationExecutionId=execution_id)["AutomationExecution"]
    except AwsCallError as error:
        if error.code != "AutomationExecutionNotFoundException":
            raise
        raise UnconfirmedAutomationError(
            f"no automation execution {execution_id} in this account; nothing was changed"
        ) from error
    document = str(execution.get("DocumentName", ""))
    # A bare name is always the account's own document (a shared one is run by its ARN).
    own_arn = f"arn:{ssm.meta.partition}:ssm:{ssm.meta.region_name}:{account_id}:document/{document_name}"
    problems = []
    if document not in (document_name, own_arn):
        problems.append(f"it runs {document[:120]!r}, not this account's {document_name!r}")
    if execution.get("AutomationExecutionStatus") not in _RUNNING:
        problems.append(f"its status is {execution.get('AutomationExecutionStatus')!r}")
    if execution.get("Parameters", {}).get("UserId") != [user_id]:
        problems.append("its UserId is another user's")
    if problems:
        raise UnconfirmedAutomationError(
            f"automation execution {execution_id} is no remediation of this user: {'; '.join(problems)}. "
            "Nothing was changed."
        )
    return execution_id


def _publish(clients: AwsClients, topic_arn: str, message: dict[str, str]) -> None:
    call(clients.client("sns"), "Publish", TopicArn=topic_arn, **message)


def _put_metric(clients: AwsClients, name: str) -> None:
    call(
        clients.client("cloudwatch"),
        "PutMetricData",
        Namespace=METRIC_NAMESPACE,
        MetricData=[{"MetricName": name, "Value": 1.0, "Unit": "Count"}],
    )


def enforce(
    event: Mapping[str, Any],
    clients: AwsClients,
    settings: Settings,
    account_id: str,
    now: datetime,
    home: AwsClients | None = None,
) -> Result:
    """Check the user again and enforce if due. ``clients`` read and act in the user's account; ``home``
    (the function's own account, where the ledger, the metrics and the topic are) defaults to them."""
    home = home or clients
    user_id = user_id_of(event)
    policy = rule_policy(clients.config, settings.rule_name, in_conformance_pack=home is not clients)
    checked: dict[str, Any] = {"enforcement": policy.enforcement}
    user = find_user(clients.iam, user_id) if policy.enforcement is not Enforcement.OFF else None
    if user is not None:
        # An exemption tag the user carries makes decide() refuse, as it does for the rule.
        user = with_tags_if_needed(clients.iam, user, policy, now)
    assessment = assess(user, policy, now)
    if isinstance(user, UserFacts):
        checked.update(userName=user.user_name, graceEnded=assessment.grace_ended)
    if assessment.verdict is not None:
        checked["verdict"] = assessment.verdict.compliance_type
    if not assessment.act:
        assert assessment.outcome is not None  # assess() names why it does not act
        return _refused(user_id, checked, assessment.outcome, assessment.why)
    assert isinstance(user, UserFacts)  # assess() acts only on a user it could decide

    membership = is_in_group(clients.iam, user.user_name, settings.group_name)
    if membership is None:
        return _refused(user_id, checked, Outcome.USER_GONE, "The user was deleted while it was being checked.")
    if membership:
        return _refused(
            user_id,
            checked,
            Outcome.ALREADY_IN_GROUP,
            f"The user is already in {settings.group_name}; nothing changed.",
        )

    ledger = EnforcementLedger(
        home.client("dynamodb"), settings.ledger_table, account=account_id if home is not clients else None
    )
    if not ledger.claim_slot(now, user_id, settings.max_per_day):
        _put_metric(home, HELD_BACK_METRIC)
        _publish(
            home, settings.topic_arn, limit_reached_message(user, assessment, account_id, settings.max_per_day, now)
        )
        return _refused(
            user_id,
            {**checked, "limit": settings.max_per_day},
            Outcome.DAILY_LIMIT_REACHED,
            f"{settings.max_per_day} user(s) were enforced today already (MaxEnforcementsPerDay); "
            "nobody more until tomorrow (UTC).",
            level=logging.WARNING,
        )

    call(clients.iam, "AddUserToGroup", GroupName=settings.group_name, UserName=user.user_name)
    done = {**checked, "why": assessment.why, "group": settings.group_name}
    # Logged before the message goes out: if publishing fails, the log still says what was done.
    step = {"step": "added_to_group", "account": account_id, "userId": user_id, "outcome": Outcome.ENFORCED}
    logger.warning(log_line({**step, **done}))
    _put_metric(home, ENFORCED_METRIC)
    _publish(home, settings.topic_arn, enforced_message(user, assessment, account_id, settings.group_name, now))
    answer = {"outcome": Outcome.ENFORCED.value, "userId": user_id, "userName": user.user_name, "why": assessment.why}
    return Result(Outcome.ENFORCED.value, answer, done)


def _refused(user_id: str, checked: Mapping[str, Any], outcome: Outcome, why: str, level: int = logging.INFO) -> Result:
    answer = {"outcome": outcome.value, "userId": user_id, "userName": checked.get("userName"), "why": why}
    return Result(outcome.value, answer, {**checked, "why": why}, level)


def notify(
    clients: AwsClients,
    settings: Settings,
    account_id: str,
    now: datetime,
    deadline: Deadline,
) -> Result:
    policy = rule_policy(clients.config, settings.rule_name)
    if policy.enforcement is Enforcement.OFF:
        off = Outcome.ENFORCEMENT_OFF.value
        why = "The rule parameter Enforcement is off."
        return Result(
            off, {"outcome": off, "noticed": 0, "unenforced": 0}, {"enforcement": policy.enforcement, "why": why}
        )
    sweep = sweep_account(clients, deadline, now, policy, "live")
    ledger = EnforcementLedger(clients.client("dynamodb"), settings.ledger_table)
    due: list[tuple[UserFacts, datetime]] = []
    for user in sweep.users:
        ends = notice_due(user, policy, now, settings.notice_days)
        if ends is not None and not ledger.was_noticed(user.user_id, ends):
            due.append((user, ends))
    members = {member["UserId"] for member in collect(clients.iam, "GetGroup", "Users", GroupName=settings.group_name)}
    unenforced = [
        user
        for user in sweep.users
        if user.user_id not in members and decide(user, policy, now).compliance_type is ComplianceType.NON_COMPLIANT
    ]
    for message in notice_messages(due, unenforced, account_id, policy, settings.notice_days):
        _publish(clients, settings.topic_arn, message)
    for user, ends in due:
        ledger.record_notice(user.user_id, ends, now)
    return Result(
        "noticed",
        {"outcome": "noticed", "noticed": len(due), "unenforced": len(unenforced)},
        {
            "enforcement": policy.enforcement,
            "noticed": [user.user_name for user, _ in due],
            "unenforced": [user.user_name for user in unenforced],
        },
    )


def assume_enforcer_role(
    event: Mapping[str, Any], home: AwsClients, settings: Settings, context: Any
) -> tuple[AwsClients, str]:
    """Clients with the enforcer role of the member account the event names, refused for an outsider
    before any role is assumed. The caller confirms the automation with them before anything else."""
    assert settings.organization_id and settings.enforcer_role
    user_id_of(event)  # bad input is refused before any call
    account_id = member_account_of(event)
    membership_of(settings.organization_id).require_member(home.client("organizations"), account_id)
    partition = partition_of(function_arn(context))
    member = AwsClients.assuming_role(
        f"arn:{partition}:iam::{account_id}:role/{settings.enforcer_role}", home.region or os.environ.get("AWS_REGION")
    )
    return member, account_id


@lambda_entry("enforcement", logger)
def handler(
    event: dict[str, Any],
    context: Any,
    run: Run,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> Result:
    """Run the event's action; return what was done. Raises on any AWS error or bad input.

    One JSON log line per invocation (console_mfa.lambda_entry): the action, the account, the user,
    what was decided and done, the AWS calls in the function's account (``apiCalls``) and, for an
    organization's member, in that account (``memberApiCalls``).
    """
    action = event.get("action") if isinstance(event, dict) else None
    run.keep(action=action)
    if action not in ("enforce", "notify"):
        raise InvalidEventError(f"event.action {str(action)[:40]!r} is not 'enforce' or 'notify'")
    if action == "enforce":
        run.keep(userId=user_id_of(event), executionId=event.get("ExecutionId"))
    settings = Settings.from_environment()
    clients = run.count(AwsClients.from_session(boto3.Session(), os.environ.get("AWS_REGION")))
    now = clock()
    if settings.organization_id and action == "notify":
        raise InvalidEventError(
            "the daily notice runs in the account stack (rule.yaml) only; the organization's function only enforces"
        )
    if settings.organization_id:
        run.keep(account=member_account_of(event))
        member, account_id = assume_enforcer_role(event, clients, settings, context)
        run.count(member, "memberApiCalls")
        confirm_automation(member.client("ssm"), event, user_id_of(event), settings.document_name, account_id)
        return enforce(event, member, settings, account_id, now, home=clients)
    account_id = account_read_by(clients, context)
    run.keep(account=account_id)
    if action == "enforce":
        confirm_automation(clients.client("ssm"), event, user_id_of(event), settings.document_name, account_id)
        return enforce(event, clients, settings, account_id, now)
    remaining = context.get_remaining_time_in_millis() / 1000 if context else None
    deadline = Deadline(None if remaining is None else remaining - NOTICE_RESERVE_SECONDS)
    return notify(clients, settings, account_id, now, deadline)
