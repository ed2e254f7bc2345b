"""Read what AWS Config holds for the rule, and send it evaluations: every bit of what is sent, reliably.

Which evaluations are worth sending over what Config holds is decided in :mod:`console_mfa.what_to_send`
(pure); here are the calls. What Config holds is read once per sweep, every compliance type, 100 a
page (:func:`held_results`), or for one user (:func:`held_result_for`); both give a
:class:`~console_mfa.what_to_send.HeldResult` built the one way, OrderingTimestamp included.

Reading and sending can be bounded by the time left (``time_left``, seconds): no call starts
after it, and no PutEvaluations call is waited for beyond it; the error then says so.

rdklib sends evaluations but ignores ``FailedEvaluations``; here every rejected
evaluation is sent again, and the invocation fails if Config still rejects it.

Example::

    held = held_results(clients.config, RULE_NAME, time_left=deadline.seconds_left)
    to_send = worth_sending(evaluations, held, now, reconfirm_days=30)     # console_mfa.what_to_send
    put_evaluations(clients.config, to_send, result_token, test_mode=False, time_left=deadline.seconds_left)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from typing import Any

from botocore.client import BaseClient
from rdklib import Evaluation

from . import RESOURCE_TYPE
from .aws import call, collect
from .exceptions import DeliveryOutOfTimeError, EvaluationDeliveryError, SweepIncompleteError
from .verdict import Verdict
from .what_to_send import HeldResult

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
                held[qualifier["ResourceId"]] = HeldResult.from_evaluation_result(result)
        if not page.get("NextToken"):
            return held


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
            return HeldResult.from_evaluation_result(result)
    return None
