"""The enforcement function: the remediation Config's SSM document invokes, and the daily run.

The automation document decides nothing: it passes the UserId Config names to this function,
which checks again, live, before it acts (Config's automatic remediation can fire on a user who
has since complied). Two entry points in one handler, chosen by the event's ``action``:

* ``{"action": "enforce", "UserId": "AIDA...", "ExecutionId": ...}`` (the document): confirm with
  ``ssm:GetAutomationExecution`` that the execution is an automation of the stack's own
  ``ENFORCEMENT_DOCUMENT`` running now for that UserId (so no other caller can have a user enforced),
  read the kill switch (only ``on`` proceeds), then the rule's parameters from Config
  (``DescribeConfigRules``, so a parameter changed since the evaluation counts), resolve the UserId with
  IAM's ListUsers, read its login profile and devices, and add the user to the ForceMfa group only if it
  has no allowed device, its enforcement grace (:func:`console_mfa.enforcement.enforcement_grace_end`,
  from the ledger) has ended, it holds no device of a kind not allowed, its access keys were not used
  recently, it is not in the group yet and the daily limits are not reached. Every refusal is a named,
  successful outcome.
* ``{"action": "notify"}`` (a daily schedule): :func:`daily_run` - e-mail users in grace at the start
  and the reminders, take users who comply out of the group, enforce due users within the limits
  (Config sends no new remediation for a verdict that never changed) - and one digest to the operators.

Deployed for an organization (``ORGANIZATION_ID`` set, organization.yaml), the function serves the
organization conformance pack's remediation in every member account. The member's automation
invokes it across accounts with ``{"action": "enforce", "UserId": ..., "AccountId": ...,
"ExecutionId": ...}``; before reading anything it refuses an account outside the organization (as
the rule does), assumes the member's ``MEMBER_ENFORCER_ROLE``, and confirms with
``ssm:GetAutomationExecution`` that the execution is an automation of ``ENFORCEMENT_DOCUMENT``
running in that account for that UserId, so no other caller can have a user enforced. It then
checks the user as above, under the parameters of the member's copy of the rule, counts against
the organization's and that account's daily limits, and tells the operators' topic. Its daily run
visits every member account the central ledger lists, with one digest for the organization.

Every invocation is one JSON log line (console_mfa.lambda_entry), and each user put into the group one
more, written before anything else can fail; every enforcement is a message to the operators' topic,
and the rest is in the daily digest. AWS errors raise (precise :mod:`console_mfa.exceptions`); the
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
from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

import boto3
from console_mfa.aws import AwsClients, call, collect
from console_mfa.boundaries import account_read_by, membership_of
from console_mfa.enforcement import (
    HELD_BACK,
    Outcome,
    described,
    digest_messages,
    enforced_message,
    notice_stage,
    user_notice,
    without_allowed_mfa,
)
from console_mfa.enforcement_ledger import EnforcementLedger
from console_mfa.enforcer import Enforcer, Settings, paused_because, publish
from console_mfa.exceptions import (
    AccountOutsideOrganizationError,
    AwsCallError,
    InvalidEventError,
    InvalidParameterError,
    UnconfirmedAutomationError,
)
from console_mfa.facts import MissingUser, UserFacts
from console_mfa.iam_facts import list_users, live_user_facts, with_tags_if_needed
from console_mfa.identifiers import ACCOUNT_ID, function_arn, partition_of
from console_mfa.lambda_entry import Result, Run, lambda_entry, log_line
from console_mfa.policy import Enforcement, Policy, parse_rule_parameters
from console_mfa.sweep import Deadline, sweep_account
from console_mfa.verdict import decide

logger = logging.getLogger("console_mfa.enforcement")

_USER_ID = re.compile(r"AIDA[A-Z0-9]{12,124}")
_EXECUTION_ID = re.compile(r"[0-9a-fA-F-]{36}")
# An automation whose step invokes this function is running; any other state is not a live remediation.
_RUNNING = {"Pending", "InProgress"}
# The daily run checks every user live (the three reads the remediation needs anyway, so the
# function's role needs no credential report or CloudTrail access); this much is kept for sending.
NOTICE_RESERVE_SECONDS = 30.0


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


def enforce(
    event: Mapping[str, Any],
    clients: AwsClients,
    settings: Settings,
    account_id: str,
    now: datetime,
    home: AwsClients | None = None,
) -> Result:
    """Check the user again and enforce if due. ``clients`` read and act in the user's account; ``home``
    (the function's own account, where the ledger, the metrics, the topic and the kill switch are) defaults
    to them. The kill switch is read before anything else."""
    home = home or clients
    user_id = user_id_of(event)
    paused = paused_because(home.client("ssm"), settings.switch_parameter)
    if paused is not None:
        return _refused(user_id, {}, Outcome.PAUSED, f"Enforcement is paused: {paused}", level=logging.WARNING)
    policy = rule_policy(clients.config, settings.rule_name, in_conformance_pack=home is not clients)
    checked: dict[str, Any] = {"enforcement": policy.enforcement}
    if policy.enforcement is Enforcement.OFF:
        return _refused(user_id, checked, Outcome.ENFORCEMENT_OFF, "The rule parameter Enforcement is off.")
    enforcer = Enforcer(clients, home, settings, policy, account_id, now, organization=home is not clients)
    user = find_user(clients.iam, user_id)
    if user is not None:
        # An exemption tag the user carries makes decide() refuse, as it does for the rule.
        user = with_tags_if_needed(clients.iam, user, policy, now)
    assessment = enforcer.assess(user)
    if isinstance(user, UserFacts):
        checked.update(userName=user.user_name, graceEnds=assessment.grace_ended)
    if assessment.verdict is not None:
        checked["verdict"] = assessment.verdict.compliance_type
    if assessment.act:
        assert isinstance(user, UserFacts)  # assess() acts only on a user it could decide
        assessment = enforcer.try_enforce(user, assessment)
    if isinstance(user, UserFacts) and assessment.outcome in HELD_BACK:
        checked["userTold"] = enforcer.tell_held_back(user, assessment)
    if assessment.outcome is not Outcome.ENFORCED:
        assert assessment.outcome is not None  # every refusal is named
        # Users held back are listed in the daily run's one digest (and enforced by it when they may be).
        level = logging.WARNING if assessment.outcome in (*HELD_BACK, Outcome.DAILY_LIMIT_REACHED) else logging.INFO
        return _refused(user_id, checked, assessment.outcome, assessment.why, level=level)
    assert isinstance(user, UserFacts)
    done = {**checked, "why": assessment.why, "group": settings.group_name}
    # Logged before the message goes out: if publishing fails, the log still says what was done.
    step = {"step": "added_to_group", "account": account_id, "userId": user_id, "outcome": Outcome.ENFORCED}
    logger.warning(log_line({**step, **done}))
    publish(home, settings.topic_arn, enforced_message(user, assessment, account_id, settings.group_name, now))
    answer = {"outcome": Outcome.ENFORCED.value, "userId": user_id, "userName": user.user_name, "why": assessment.why}
    return Result(Outcome.ENFORCED.value, answer, done)


def _refused(user_id: str, checked: Mapping[str, Any], outcome: Outcome, why: str, level: int = logging.INFO) -> Result:
    answer = {"outcome": outcome.value, "userId": user_id, "userName": checked.get("userName"), "why": why}
    return Result(outcome.value, answer, {**checked, "why": why}, level)


def daily_run(
    clients: AwsClients,
    home: AwsClients,
    settings: Settings,
    account_id: str,
    now: datetime,
    deadline: Deadline,
    paused: str | None,
) -> dict[str, list[str]] | None:
    """One account's daily run: tell users in grace (at the start, then ``REMINDER_DAYS`` before), take users
    who now comply out of the group, enforce users whose grace has ended within the limits (with
    ``automatic``, and not ``paused``: Config sends no new remediation for a verdict that never changed).
    Returns the digest's sections; ``None`` when the account's rule has Enforcement off. ``clients`` and
    ``home`` as for :func:`enforce`."""
    policy = rule_policy(clients.config, settings.rule_name, in_conformance_pack=home is not clients)
    if policy.enforcement is Enforcement.OFF:
        return None
    enforcer = Enforcer(clients, home, settings, policy, account_id, now, organization=home is not clients)
    sweep = sweep_account(clients, deadline, now, policy, "live")
    members = {member["UserId"] for member in collect(clients.iam, "GetGroup", "Users", GroupName=settings.group_name)}
    sections: dict[str, list[str]] = defaultdict(list)
    for user in sweep.users:
        if user.user_id in members:
            if not without_allowed_mfa(decide(user, policy, now)):
                call(clients.iam, "RemoveUserFromGroup", GroupName=settings.group_name, UserName=user.user_name)
                sections["released"].append(described(user, "their access keys work again"))
            continue
        assessment = enforcer.assess(user)
        if assessment.outcome is Outcome.IN_GRACE:
            assert assessment.grace_ended is not None
            stage = notice_stage(assessment.grace_ended, now)
            if stage is None:
                continue
            message = user_notice(
                user, assessment.grace_ended, stage, account_id, settings.group_name, policy, settings.contact
            )
            told = enforcer.tell_once(user, assessment.grace_ended, stage, message)
            if told is None:
                continue
            entry = described(user, f"grace ends {assessment.grace_ended:%Y-%m-%d %H:%M} UTC (notice: {stage})")
            sections["noticed" if told else "no_address"].append(entry)
            continue
        if assessment.act:
            if paused is not None or policy.enforcement is Enforcement.MANUAL:
                sections["due"].append(described(user, f"grace ended {assessment.grace_ended:%Y-%m-%d}"))
                continue
            assessment = enforcer.try_enforce(user, assessment)
        if assessment.outcome is Outcome.ENFORCED:
            logger.warning(
                log_line(
                    {
                        "function": "enforcement",
                        "action": "notify",
                        "step": "added_to_group",
                        "account": account_id,
                        "userId": user.user_id,
                        "userName": user.user_name,
                        "group": settings.group_name,
                    }
                )
            )
            sections["enforced"].append(described(user, f"grace ended {assessment.grace_ended:%Y-%m-%d}"))
        elif assessment.outcome in HELD_BACK:
            told = enforcer.tell_held_back(user, assessment)
            if told is None:  # listed (and told) on the day it was first held back
                continue
            sections[assessment.outcome.value].append(
                described(user, assessment.why + ("" if told else " Not told: no address."))
            )
        elif assessment.outcome in (Outcome.DAILY_LIMIT_REACHED, Outcome.ORGANIZATION_LIMIT_REACHED):
            sections[assessment.outcome.value].append(described(user, f"grace ended {assessment.grace_ended:%Y-%m-%d}"))
    return sections


def notify(clients: AwsClients, settings: Settings, account_id: str, now: datetime, deadline: Deadline) -> Result:
    """The account stack's daily run (:func:`daily_run`), and the operators' one digest of it."""
    paused = paused_because(clients.client("ssm"), settings.switch_parameter)
    sections = daily_run(clients, clients, settings, account_id, now, deadline, paused)
    if sections is None:
        off = Outcome.ENFORCEMENT_OFF.value
        return Result(off, {"outcome": off}, {"why": "The rule parameter Enforcement is off."})
    for message in digest_messages(sections, f"account {account_id}", paused):
        publish(clients, settings.topic_arn, message)
    counts = {key: len(entries) for key, entries in sections.items()}
    return Result(
        "daily_run", {"outcome": "daily_run", "paused": paused is not None, **counts}, {"paused": paused, **counts}
    )


def assume_enforcer_role(
    event: Mapping[str, Any], home: AwsClients, settings: Settings, context: Any
) -> tuple[AwsClients, str]:
    """Clients with the enforcer role of the member account the event names, refused for an outsider
    before any role is assumed. The caller confirms the automation with them before anything else."""
    user_id_of(event)  # bad input is refused before any call
    account_id = member_account_of(event)
    return member_clients(home, settings, account_id, context), account_id


def member_clients(home: AwsClients, settings: Settings, account_id: str, context: Any) -> AwsClients:
    """Clients with the member account's enforcer role; an account outside the organization is refused first."""
    assert settings.organization_id and settings.enforcer_role
    membership_of(settings.organization_id).require_member(home.client("organizations"), account_id)
    partition = partition_of(function_arn(context))
    return AwsClients.assuming_role(
        f"arn:{partition}:iam::{account_id}:role/{settings.enforcer_role}", home.region or os.environ.get("AWS_REGION")
    )


def notify_organization(
    home: AwsClients, settings: Settings, now: datetime, deadline: Deadline, context: Any, run: Run
) -> Result:
    """The organization's daily run: :func:`daily_run` in each member account enforcement started in (the
    ledger lists them), starting from a different account each day so that, if time runs out, the ones left
    are reached first the next day; one digest for the organization. An account that left the
    organization is skipped and named."""
    accounts = EnforcementLedger(home.client("dynamodb"), settings.ledger_table).known_accounts()
    first = now.toordinal() % len(accounts) if accounts else 0
    paused = paused_because(home.client("ssm"), settings.switch_parameter)
    sections: dict[str, list[str]] = defaultdict(list)
    runs: dict[str, str] = {}
    member_calls = run.tally("memberApiCalls")
    for account_id in accounts[first:] + accounts[:first]:
        if deadline.expired():
            sections["not_reached"].append(account_id)
            continue
        try:
            member = member_clients(home, settings, account_id, context)
        except AccountOutsideOrganizationError:
            runs[account_id] = "outside_organization"
            continue
        found = daily_run(member, home, settings, account_id, now, deadline, paused)
        member_calls.update(member.calls)
        runs[account_id] = "enforcement_off" if found is None else "daily_run"
        for key, entries in (found or {}).items():
            sections[key] += [f"account {account_id}: {entry}" for entry in entries]
    for message in digest_messages(sections, f"organization {settings.organization_id}", paused):
        publish(home, settings.topic_arn, message)
    counts = {key: len(entries) for key, entries in sections.items()}
    level = logging.WARNING if sections.get("not_reached") else logging.INFO
    answer = {"outcome": "daily_run", "accounts": runs, "paused": paused is not None, **counts}
    return Result("daily_run", answer, {"accounts": runs, "paused": paused, **counts}, level)


def _deadline(context: Any) -> Deadline:
    remaining = context.get_remaining_time_in_millis() / 1000 if context else None
    return Deadline(None if remaining is None else remaining - NOTICE_RESERVE_SECONDS)


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
        return notify_organization(clients, settings, now, _deadline(context), context, run)
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
    return notify(clients, settings, account_id, now, _deadline(context))
