"""AWS Config custom rule IAM_USER_CONSOLE_MFA (CIS AWS Foundations 1.10, Security Hub IAM.5).

Every IAM user with a console password must have an allowed MFA device. One
invocation: event in, facts gathered, verdicts decided, evaluations reported.

Everything here either completes and reports every evaluation, or raises one of
:mod:`console_mfa.exceptions` so Lambda counts an error and Config shows the rule
as failing. Nothing is swallowed. A periodic sweep that runs out of time still sends
the corrections it found for the users it checked before it raises.

Example::

    summary = lambda_handler(event, context)
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import boto3
from console_mfa import RESOURCE_TYPE
from console_mfa.aws import AwsClients
from console_mfa.boundaries import account_read_by, membership_of, organization_id_from, require_same_account
from console_mfa.config_events import EVALUABLE_STATUSES, RuleInvocation, parse_event
from console_mfa.config_report import (
    corrections,
    evaluation_for,
    gone_user_ids,
    held_result_for,
    held_results,
    put_evaluations,
    worth_sending,
)
from console_mfa.exceptions import (
    AccountOutsideOrganizationError,
    EvaluationDeliveryError,
    InvalidEventError,
    SweepIncompleteError,
)
from console_mfa.iam_facts import MissingUser, user_for_change, with_tags_if_needed
from console_mfa.lambda_entry import Result, Run, lambda_entry
from console_mfa.policy import Policy, parse_rule_parameters
from console_mfa.sweep import Deadline, strategy_from_environment, sweep_account
from console_mfa.verdict import decide, verdict_for_missing_user
from rdklib import ConfigRule

logger = logging.getLogger("console_mfa")

# Time kept back from the Lambda timeout for sending up to 5,000 evaluations: the sweep stops this
# long before the end.
REPORTING_RESERVE_SECONDS = 60.0
# Sending stops this long before the end, so the error and the log line are still written.
SENDING_MARGIN_SECONDS = 5.0


def clients_for(event: dict[str, Any]) -> AwsClients:
    """Clients with the credentials rdklib would use: the event's role, ExecutionRoleName, or our own."""
    rdk_rule = ConfigRule()
    region = rdk_rule.get_assume_role_region(event) or os.environ.get("AWS_REGION")
    if not rdk_rule.get_assume_role_mode(event):
        return AwsClients.from_session(boto3.Session(), region)
    if not isinstance(event.get("executionRoleArn"), str) or ":role/" not in event["executionRoleArn"]:
        raise InvalidEventError("event.executionRoleArn is missing or not a role ARN, and AssumeRoleMode is not false")
    return AwsClients.assuming_role(rdk_rule.get_execution_role_arn(event), region)


@dataclass
class PeriodicRun:
    """What one scheduled sweep decided, and what of it goes to Config."""

    evaluations: list[dict[str, Any]]
    to_send: list[dict[str, Any]]
    checked: int
    listed: int
    # How the sweep read IAM (sweep.SweepResult.strategy) and why it chose so, for the log line.
    strategy: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.checked == self.listed


def periodic_evaluations(
    invocation: RuleInvocation,
    clients: AwsClients,
    policy: Policy,
    now: datetime,
    deadline: Deadline,
) -> PeriodicRun:
    """Every user's evaluation, and those of them worth sending: what changes what Config holds, or is due.

    A sweep stopped by ``deadline`` yields only its users' :func:`corrections`, and the results of the users it
    checked live for whom Config holds nothing or the same compliance type (so the next sweep starts after them).
    """
    # Read first, under the deadline: a sweep that runs out of time needs it to send its corrections.
    held = held_results(clients.config, invocation.config_rule_name, time_left=deadline.seconds_left)
    sweep = sweep_account(clients, deadline, now, policy, strategy_from_environment(), held=held)
    # Each result's OrderingTimestamp is the moment its facts could first have been stale: this sweep's start,
    # before any IAM read, or its credential report's time (carry_forward.facts_read_from). The next sweeps
    # search CloudTrail from it, however late CloudTrail delivers.
    timestamp = now.isoformat()
    evaluations = [
        evaluation_for(user.user_id, decide(user, policy, now), sweep.ordering_timestamp(user, now).isoformat())
        for user in sweep.users
    ]
    evaluations += [
        evaluation_for(missing.user_id, verdict_for_missing_user(missing.why), timestamp) for missing in sweep.missing
    ]
    how = {"strategy": sweep.strategy, "notes": sweep.notes}
    if not sweep.complete:
        fixes = corrections(evaluations, held)
        fixed = {e["ComplianceResourceId"] for e in fixes}
        # Checked live and not a correction: sent when Config holds nothing stricter (nothing, or the same type),
        # so that the next sweep, which starts with the least recently recorded, starts after them.
        rechecked = [
            e
            for e in evaluations
            if e["ComplianceResourceId"] in sweep.checked_live
            and e["ComplianceResourceId"] not in fixed
            and (
                e["ComplianceResourceId"] not in held
                or held[e["ComplianceResourceId"]].compliance_type == e["ComplianceType"]
            )
        ]
        return PeriodicRun(evaluations, fixes + rechecked, sweep.checked, sweep.listed, **how)
    # Config keeps a deleted user's last result until told otherwise.
    gone = verdict_for_missing_user("The user no longer exists in IAM.")
    evaluated_ids = {e["ComplianceResourceId"] for e in evaluations}
    evaluations += [evaluation_for(user_id, gone, timestamp) for user_id in gone_user_ids(held, evaluated_ids)]
    return PeriodicRun(
        evaluations,
        worth_sending(evaluations, held, now, policy.reconfirm_days, sweep.rerecord),
        sweep.checked,
        sweep.listed,
        **how,
    )


def incomplete_sweep(run: PeriodicRun, clients: AwsClients, invocation: RuleInvocation, deadline: Deadline) -> Result:
    """For a sweep out of time: send its corrections within ``deadline``; the result fails with SweepIncompleteError."""
    sent, unsent = 0, ""
    if run.to_send:
        try:
            put_evaluations(
                clients.config,
                run.to_send,
                invocation.result_token,
                invocation.test_mode,
                time_left=deadline.seconds_left,
            )
            sent = len(run.to_send)
        except EvaluationDeliveryError as error:
            sent, unsent = error.sent, f" ({error})"
    error = SweepIncompleteError(
        f"Checked {run.checked} of {run.listed} users before the time limit; sent {sent} of "
        f"{len(run.to_send)} results (corrections to COMPLIANT or NON_COMPLIANT, and the users checked whose result "
        f"stands, so that the next sweep starts after them){unsent}. "
        "Users not checked keep the result Config holds, and no result Config held was set NOT_APPLICABLE. "
        "Raise the Lambda timeout, or see the README on large accounts."
    )
    fields = {"timedOut": True, "usersChecked": run.checked, "users": run.listed, "corrections": len(run.to_send)}
    return Result("error", None, {**fields, "sent": sent}, error=error)


def change_evaluations(
    invocation: RuleInvocation, clients: AwsClients, policy: Policy, now: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The changed user's evaluation, and it again if it changes what Config holds or is due for re-confirmation.

    An on-demand re-evaluation (StartConfigRulesEvaluation) may arrive as one change notification per user;
    then the users whose result Config already holds cost IAM reads but no evaluation.
    """
    resource = invocation.changed_resource
    assert resource is not None  # parse_event guarantees it for change notifications
    if resource.resource_type != RESOURCE_TYPE:
        raise InvalidEventError(
            f"resourceType {resource.resource_type} is not {RESOURCE_TYPE}; scope the rule to {RESOURCE_TYPE}"
        )
    if invocation.event_left_scope:
        verdict = verdict_for_missing_user("The user left the rule's scope.")
    elif resource.status not in EVALUABLE_STATUSES:
        verdict = verdict_for_missing_user(f"The user is no longer recorded ({resource.status}).")
    elif resource.resource_name is None:
        raise InvalidEventError("the configuration item has no resourceName (the IAM user name)")
    else:
        facts = user_for_change(clients.iam, resource.resource_name, resource.resource_id)
        facts = with_tags_if_needed(clients.iam, facts, policy, now, known=resource.tags)
        verdict = verdict_for_missing_user(facts.why) if isinstance(facts, MissingUser) else decide(facts, policy, now)
    # The moment before the IAM read, not the configuration item's capture time (which Config may deliver days
    # later): the steady-state sweep counts this user's changes from it (carry_forward.facts_stale_from).
    evaluations = [evaluation_for(resource.resource_id, verdict, now.isoformat())]
    held = held_result_for(clients.config, invocation.config_rule_name, resource.resource_id)
    return evaluations, worth_sending(
        evaluations, {} if held is None else {resource.resource_id: held}, now, policy.reconfirm_days
    )


@lambda_entry("rule", logger)
def lambda_handler(
    event: dict[str, Any],
    context: Any,
    run: Run,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    make_clients: Callable[[dict[str, Any]], AwsClients] = clients_for,
    timer: Callable[[], float] = time.monotonic,
) -> Result:
    """Evaluate and report; return a summary. Raises :class:`RuleError` on any failure.

    Logs one JSON line per invocation (console_mfa.lambda_entry): message type, account, strategy,
    result counts, AWS calls, duration. An event for an account outside the organization is refused,
    not failed: no retry, no Errors alarm, and its log line (``refused``) feeds the refusals metric.
    """
    invocation = parse_event(event)
    run.keep(messageType=invocation.message_type, account=invocation.account_id)
    policy = parse_rule_parameters(invocation.rule_parameters)
    organization_id = organization_id_from(os.environ)
    if organization_id is not None:
        # Before any role is assumed: an outsider's event never reaches STS or its IAM.
        own_clients = run.count(AwsClients.from_session(boto3.Session(), os.environ.get("AWS_REGION")))
        try:
            membership_of(organization_id).require_member(own_clients.client("organizations"), invocation.account_id)
        except AccountOutsideOrganizationError as refusal:
            refused = {"evaluations": 0, "sent": 0, "compliance": {}, "refused": invocation.account_id}
            why = {"errorType": type(refusal).__name__, "error": str(refusal)}
            return Result("refused", refused, why, level=logging.WARNING)
    # rdklib reads the role settings from the raw event; hand it the validated ones.
    clients = run.count(make_clients({**event, "ruleParameters": json.dumps(dict(policy.role_parameters))}))
    require_same_account(invocation.account_id, account_read_by(clients, context))
    now = clock()
    remaining = context.get_remaining_time_in_millis() / 1000 if context else None
    sending_deadline = Deadline(None if remaining is None else remaining - SENDING_MARGIN_SECONDS, timer)
    if invocation.is_periodic:
        sweep_deadline = Deadline(None if remaining is None else remaining - REPORTING_RESERVE_SECONDS, timer)
        periodic = periodic_evaluations(invocation, clients, policy, now, sweep_deadline)
        run.keep(strategy=periodic.strategy, notes=periodic.notes)
        if not periodic.complete:
            return incomplete_sweep(periodic, clients, invocation, sending_deadline)
        evaluations, to_send = periodic.evaluations, periodic.to_send
    else:
        evaluations, to_send = change_evaluations(invocation, clients, policy, now)
    put_evaluations(
        clients.config,
        to_send,
        invocation.result_token,
        invocation.test_mode,
        time_left=sending_deadline.seconds_left,
    )
    summary = {
        "evaluations": len(evaluations),
        "sent": len(to_send),
        "compliance": dict(sorted(Counter(e["ComplianceType"] for e in evaluations).items())),
    }
    return Result("reported", summary, summary)
