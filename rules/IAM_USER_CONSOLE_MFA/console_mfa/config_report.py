"""Report verdicts to AWS Config, and find results Config holds for users that are gone.

rdklib sends evaluations but ignores ``FailedEvaluations``; here every rejected
evaluation is sent again, and the invocation fails if Config still rejects it.

Example::

    evaluations = [evaluation_for("AIDAEXAMPLE", verdict, ordering_timestamp)]
    put_evaluations(clients.config, evaluations, result_token, test_mode=False)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
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


def stale_resource_ids(config: BaseClient, config_rule_name: str, current_ids: Iterable[str]) -> list[str]:
    """UserIds that Config holds a COMPLIANT or NON_COMPLIANT result for but IAM no longer has."""
    current = set(current_ids)
    results = (
        collect(
            config,
            "GetComplianceDetailsByConfigRule",
            "EvaluationResults",
            page_size=100,  # the API's maximum
            ConfigRuleName=config_rule_name,
            ComplianceTypes=["COMPLIANT", "NON_COMPLIANT"],
        )
        or []
    )
    stale = []
    for result in results:
        qualifier = result["EvaluationResultIdentifier"]["EvaluationResultQualifier"]
        if qualifier.get("ResourceType") == RESOURCE_TYPE and qualifier["ResourceId"] not in current:
            stale.append(qualifier["ResourceId"])
    return sorted(set(stale))
