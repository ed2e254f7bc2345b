"""Report verdicts to AWS Config: only what changes what Config holds, and every bit of that.

Config bills each evaluation it records. A periodic sweep therefore reads what Config holds
(once, every compliance type) and sends an evaluation only where Config holds none, holds a
different result or annotation, or holds one due for re-confirmation (``ReconfirmDays``,
spread evenly over the days by a per-user phase). Results held for users that are gone are
set to NOT_APPLICABLE. A sweep the deadline stopped sends only :func:`corrections`.

Reading and sending can be bounded by the time left (``time_left``, seconds): no call starts
after it, and no PutEvaluations call is waited for beyond it; the error then says so.

rdklib sends evaluations but ignores ``FailedEvaluations``; here every rejected
evaluation is sent again, and the invocation fails if Config still rejects it.

Example::

    held = held_results(clients.config, RULE_NAME, time_left=deadline.seconds_left)
    to_send = worth_sending(evaluations, held, now, reconfirm_days=30)
    put_evaluations(clients.config, to_send, result_token, test_mode=False, time_left=deadline.seconds_left)
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from botocore.client import BaseClient
from rdklib import Evaluation

from . import RESOURCE_TYPE
from .aws import call, collect
from .exceptions import DeliveryOutOfTimeError, EvaluationDeliveryError, SweepIncompleteError
from .verdict import Verdict

# PutEvaluations accepts at most 100 evaluations per call.
BATCH_SIZE = 100
DELIVERY_ATTEMPTS = 3
# Seconds left to work in; the default never runs out.
TimeLeft = Callable[[], float]


def _unlimited() -> float:
    return math.inf


def evaluation_for(resource_id: str, verdict: Verdict, ordering_timestamp: str) -> dict[str, Any]:
    """The PutEvaluations entry for one user, keyed by UserId as Config's inventory is."""
    evaluation = Evaluation(verdict.compliance_type.value, resource_id, RESOURCE_TYPE, verdict.annotation)
    evaluation.orderingTimestamp = ordering_timestamp
    return evaluation.get_json()


def _put(
    config: BaseClient,
    batch: list[dict[str, Any]],
    result_token: str,
    test_mode: bool,
    time_left: TimeLeft,
    accepted: int,
    total: int,
) -> dict[str, Any] | None:
    """One PutEvaluations call, started only with time left and waited for no longer than that."""
    left = time_left()
    if left <= 0:
        raise DeliveryOutOfTimeError(
            f"out of time sending evaluations: AWS Config accepted {accepted} of {total} before the time "
            "limit; the rest were not sent",
            sent=accepted,
        )

    def send() -> dict[str, Any] | None:
        return call(config, "PutEvaluations", Evaluations=batch, ResultToken=result_token, TestMode=test_mode)

    if left == math.inf:
        return send()
    # botocore's retries of a throttled call can outlast the time left; Lambda would then end the
    # invocation mid-call with no log line. Waiting in another thread keeps that line ours to write.
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="put-evaluations")
    try:
        return pool.submit(send).result(timeout=left)
    except FutureTimeoutError:
        raise DeliveryOutOfTimeError(
            f"out of time sending evaluations: a PutEvaluations call of {len(batch)} was still unanswered at "
            f"the time limit (throttled?); AWS Config had accepted {accepted} of {total} before it, and whether "
            "it recorded that call's batch is unknown",
            sent=accepted,
        ) from None
    finally:
        pool.shutdown(wait=False)


def put_evaluations(
    config: BaseClient,
    evaluations: Sequence[dict[str, Any]],
    result_token: str,
    test_mode: bool,
    sleep: Callable[[float], None] | None = None,
    time_left: TimeLeft | None = None,
) -> None:
    """Send every evaluation, 100 per call; resend rejected ones; raise if any stay rejected.

    Raises :class:`DeliveryOutOfTimeError` when ``time_left`` runs out first.
    """
    sleep = sleep or time.sleep
    time_left = time_left or _unlimited
    if not evaluations:
        # An empty call still tells Config the invocation finished.
        _put(config, [], result_token, test_mode, time_left, 0, 0)
        return
    pending = list(evaluations)
    accepted = 0
    for attempt in range(1, DELIVERY_ATTEMPTS + 1):
        rejected: list[dict[str, Any]] = []
        for start in range(0, len(pending), BATCH_SIZE):
            batch = pending[start : start + BATCH_SIZE]
            response = _put(config, batch, result_token, test_mode, time_left, accepted, len(evaluations))
            failed = response.get("FailedEvaluations", []) if response else []
            rejected.extend(failed)
            accepted += len(batch) - len(failed)
        if not rejected:
            return
        pending = rejected
        if attempt < DELIVERY_ATTEMPTS:
            pause = 2.0**attempt
            if pause >= time_left():
                raise DeliveryOutOfTimeError(
                    f"AWS Config rejected {len(pending)} of {len(evaluations)} evaluations and there is no time "
                    f"left to send them again; it accepted {accepted}",
                    sent=accepted,
                )
            sleep(pause)
    sample = ", ".join(e.get("ComplianceResourceId", "?") for e in pending[:3])
    raise EvaluationDeliveryError(
        f"AWS Config rejected {len(pending)} of {len(evaluations)} evaluations after "
        f"{DELIVERY_ATTEMPTS} attempts (for example {sample}); their results were not recorded.",
        sent=accepted,
    )


@dataclass(frozen=True)
class HeldResult:
    """What Config holds for one user: the last result recorded, and when."""

    compliance_type: str
    annotation: str
    recorded: datetime
    # The OrderingTimestamp the result was sent with: for this rule, a moment before its facts were read.
    ordered: datetime | None = None


def held_results(config: BaseClient, config_rule_name: str, time_left: TimeLeft | None = None) -> dict[str, HeldResult]:
    """Every result Config holds for the rule's IAM users, by UserId (all three compliance types, 100 a page).

    Raises :class:`SweepIncompleteError` when ``time_left`` runs out before the last page.
    """
    time_left = time_left or _unlimited
    held: dict[str, HeldResult] = {}
    page: dict[str, Any] = {}
    while True:
        if time_left() <= 0:
            raise SweepIncompleteError(
                f"Out of time reading the results AWS Config holds for {config_rule_name} ({len(held)} read), "
                "before any user was checked; nothing was reported. "
                "Raise the Lambda timeout, or see the README on large accounts."
            )
        token = {"NextToken": page["NextToken"]} if page.get("NextToken") else {}
        page = (
            call(
                config,
                "GetComplianceDetailsByConfigRule",
                ConfigRuleName=config_rule_name,
                # INSUFFICIENT_DATA is not accepted as a filter, and a rule never records it for a resource.
                ComplianceTypes=["COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE"],
                Limit=100,  # the API's maximum
                **token,
            )
            or {}
        )
        for result in page.get("EvaluationResults", []):
            qualifier = result["EvaluationResultIdentifier"]["EvaluationResultQualifier"]
            if qualifier.get("ResourceType") == RESOURCE_TYPE:
                held[qualifier["ResourceId"]] = HeldResult(
                    result["ComplianceType"],
                    result.get("Annotation", ""),
                    result["ResultRecordedTime"],
                    result["EvaluationResultIdentifier"].get("OrderingTimestamp"),
                )
        if not page.get("NextToken"):
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
    evaluations: Sequence[dict[str, Any]],
    held: Mapping[str, HeldResult],
    now: datetime,
    reconfirm_days: int,
    rerecord: Collection[str] = (),
) -> list[dict[str, Any]]:
    """The evaluations that change what Config holds, re-confirm a result that is due, or are for ``rerecord``.

    ``rerecord``: resource ids whose result is sent even when unchanged, to move its recorded time forward.
    """
    to_send = []
    for evaluation in evaluations:
        current = held.get(evaluation["ComplianceResourceId"])
        if (
            current is None
            or evaluation["ComplianceResourceId"] in rerecord
            or current.compliance_type != evaluation["ComplianceType"]
            or current.annotation != evaluation.get("Annotation", "")
            or reconfirmation_due(evaluation["ComplianceResourceId"], current.recorded, now, reconfirm_days)
        ):
            to_send.append(evaluation)
    return to_send


def corrections(evaluations: Sequence[dict[str, Any]], held: Mapping[str, HeldResult]) -> list[dict[str, Any]]:
    """Of a sweep the deadline stopped, what must not wait: a COMPLIANT or NON_COMPLIANT Config does not hold.

    Annotation-only changes and re-confirmations wait for a complete sweep, and so does every
    NOT_APPLICABLE: withholding it keeps the stricter result held, and a partial sweep never
    looks like the clean-up of users it did not reach.
    """
    return [
        evaluation
        for evaluation in evaluations
        if evaluation["ComplianceType"] != "NOT_APPLICABLE"
        and (
            evaluation["ComplianceResourceId"] not in held
            or held[evaluation["ComplianceResourceId"]].compliance_type != evaluation["ComplianceType"]
        )
    ]


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
    results = collect(
        config,
        "GetComplianceDetailsByResource",
        "EvaluationResults",
        ResourceType=RESOURCE_TYPE,
        ResourceId=resource_id,
        ComplianceTypes=["COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE"],
    )
    for result in results:
        qualifier = result["EvaluationResultIdentifier"]["EvaluationResultQualifier"]
        if qualifier.get("ConfigRuleName") == config_rule_name and qualifier.get("ResourceId") == resource_id:
            return HeldResult(result["ComplianceType"], result.get("Annotation", ""), result["ResultRecordedTime"])
    return None
