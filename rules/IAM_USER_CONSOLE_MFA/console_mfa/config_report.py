"""Report verdicts to AWS Config: only what changes what Config holds, and every bit of that.

Config bills each evaluation it records. A periodic sweep therefore reads what Config holds
(once, every compliance type) and sends an evaluation only where Config holds none, holds a
different result or annotation, or holds one due for re-confirmation (``ReconfirmDays``,
spread evenly over the days by a per-user phase). Results held for users that are gone are
set to NOT_APPLICABLE.

rdklib sends evaluations but ignores ``FailedEvaluations``; here every rejected
evaluation is sent again, and the invocation fails if Config still rejects it.

Example::

    held = held_results(clients.config, "IAM_USER_CONSOLE_MFA")
    to_send = worth_sending(evaluations, held, now, reconfirm_days=30)
    put_evaluations(clients.config, to_send, result_token, test_mode=False)
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from botocore.client import BaseClient
from rdklib import Evaluation

from . import RESOURCE_TYPE
from .aws import call, collect
from .exceptions import EvaluationDeliveryError
from .verdict import Verdict

# PutEvaluations accepts at most 100 evaluations per call.
BATCH_SIZE = 100
DELIVERY_ATTEMPTS = 3


def evaluation_for(resource_id: str, verdict: Verdict, ordering_timestamp: str) -> dict[str, Any]:
    """The PutEvaluations entry for one user, keyed by UserId as Config's inventory is."""
    evaluation = Evaluation(verdict.compliance_type.value, resource_id, RESOURCE_TYPE, verdict.annotation)
    evaluation.orderingTimestamp = ordering_timestamp
    return evaluation.get_json()


def put_evaluations(
    config: BaseClient,
    evaluations: Sequence[dict[str, Any]],
    result_token: str,
    test_mode: bool,
    sleep: Callable[[float], None] | None = None,
) -> None:
    """Send every evaluation, 100 per call; resend rejected ones; raise if any stay rejected."""
    sleep = sleep or time.sleep
    if not evaluations:
        # An empty call still tells Config the invocation finished.
        call(config, "PutEvaluations", Evaluations=[], ResultToken=result_token, TestMode=test_mode)
        return
    pending = list(evaluations)
    for attempt in range(1, DELIVERY_ATTEMPTS + 1):
        rejected: list[dict[str, Any]] = []
        for start in range(0, len(pending), BATCH_SIZE):
            response = call(
                config,
                "PutEvaluations",
                Evaluations=pending[start : start + BATCH_SIZE],
                ResultToken=result_token,
                TestMode=test_mode,
            )
            rejected.extend(response.get("FailedEvaluations", []) if response else [])
        if not rejected:
            return
        pending = rejected
        if attempt < DELIVERY_ATTEMPTS:
            sleep(2.0**attempt)
    sample = ", ".join(e.get("ComplianceResourceId", "?") for e in pending[:3])
    raise EvaluationDeliveryError(
        f"AWS Config rejected {len(pending)} of {len(evaluations)} evaluations after "
        f"{DELIVERY_ATTEMPTS} attempts (for example {sample}); their results were not recorded."
    )


@dataclass(frozen=True)
class HeldResult:
    """What Config holds for one user: the last result recorded, and when."""

    compliance_type: str
    annotation: str
    recorded: datetime


def held_results(config: BaseClient, config_rule_name: str) -> dict[str, HeldResult]:
    """Every result Config holds for the rule's IAM users, by UserId (all three compliance types, 100 a page)."""
    results = (
        collect(
            config,
            "GetComplianceDetailsByConfigRule",
            "EvaluationResults",
            page_size=100,  # the API's maximum
            ConfigRuleName=config_rule_name,
            # INSUFFICIENT_DATA is not accepted as a filter, and a rule never records it for a resource.
            ComplianceTypes=["COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE"],
        )
        or []
    )
    held: dict[str, HeldResult] = {}
    for result in results:
        qualifier = result["EvaluationResultIdentifier"]["EvaluationResultQualifier"]
        if qualifier.get("ResourceType") == RESOURCE_TYPE:
            held[qualifier["ResourceId"]] = HeldResult(
                result["ComplianceType"], result.get("Annotation", ""), result["ResultRecordedTime"]
            )
    return held


def latest_reconfirmation_moment(resource_id: str, now: datetime, reconfirm_days: int) -> datetime:
    """The user's latest fixed re-confirmation moment at or before ``now``.

    Each user's moments lie ``reconfirm_days`` apart, at a phase taken from a hash of its UserId,
    so the users' moments are spread evenly over the days.
    """
    period = reconfirm_days * 86400
    phase = int.from_bytes(hashlib.sha256(resource_id.encode()).digest()[:8], "big") % period
    now_seconds = now.timestamp()
    return datetime.fromtimestamp(now_seconds - ((now_seconds - phase) % period), tz=timezone.utc)


def reconfirmation_due(resource_id: str, recorded: datetime, now: datetime, reconfirm_days: int) -> bool:
    """Whether a result recorded at ``recorded`` should be sent again, unchanged, by ``now``.

    A result recorded before the user's latest re-confirmation moment is due. So every result is
    at most ``reconfirm_days`` (plus one sweep) old, and re-confirmations are spread evenly over the
    days rather than all falling on the anniversary of the first sweep.
    """
    return recorded < latest_reconfirmation_moment(resource_id, now, reconfirm_days)


def worth_sending(
    evaluations: Sequence[dict[str, Any]], held: Mapping[str, HeldResult], now: datetime, reconfirm_days: int
) -> list[dict[str, Any]]:
    """The evaluations that change what Config holds, or re-confirm a result that is due."""
    to_send = []
    for evaluation in evaluations:
        current = held.get(evaluation["ComplianceResourceId"])
        if (
            current is None
            or current.compliance_type != evaluation["ComplianceType"]
            or current.annotation != evaluation.get("Annotation", "")
            or reconfirmation_due(evaluation["ComplianceResourceId"], current.recorded, now, reconfirm_days)
        ):
            to_send.append(evaluation)
    return to_send


def gone_user_ids(held: Mapping[str, HeldResult], current_ids: set[str]) -> list[str]:
    """UserIds Config holds a COMPLIANT or NON_COMPLIANT result for but IAM no longer has."""
    return sorted(
        user_id
        for user_id, result in held.items()
        if user_id not in current_ids and result.compliance_type != "NOT_APPLICABLE"
    )


def held_result_for(config: BaseClient, config_rule_name: str, resource_id: str) -> HeldResult | None:
    """What Config holds for one IAM user under this rule (one GetComplianceDetailsByResource), or None.

    The API answers for every rule that evaluated the resource; only this rule's result counts.
    """
    results = (
        collect(
            config,
            "GetComplianceDetailsByResource",
            "EvaluationResults",
            ResourceType=RESOURCE_TYPE,
            ResourceId=resource_id,
            ComplianceTypes=["COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE"],
        )
        or []
    )
    for result in results:
        qualifier = result["EvaluationResultIdentifier"]["EvaluationResultQualifier"]
        if qualifier.get("ConfigRuleName") == config_rule_name and qualifier.get("ResourceId") == resource_id:
            return HeldResult(result["ComplianceType"], result.get("Annotation", ""), result["ResultRecordedTime"])
    return None
