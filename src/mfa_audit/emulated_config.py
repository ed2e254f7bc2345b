"""AWS Config's rule-result APIs, emulated in-process, for the demo and the tests.

moto runs IAM and STS but accepts PutEvaluations only in TestMode, stores
nothing, and has no GetComplianceDetailsByConfigRule. This stands in for those
two calls at botocore's before-call step: requests are still built and
validated by botocore, and responses are parsed against the real service model.

Example::

    with mock_aws(), EmulatedConfig("my-rule") as config:
        lambda_handler(event, None)
        config.results            # {"AIDA...": {"ComplianceType": "COMPLIANT", ...}}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.handlers import BUILTIN_HANDLERS
from botocore.model import OperationModel
from botocore.parsers import create_parser


class _Body:
    def __init__(self, payload: bytes) -> None:
        self._payload = payload

    def stream(self, **_: Any) -> Any:
        yield self._payload


class EmulatedConfig:
    """Records every PutEvaluations call and keeps the latest result per resource."""

    def __init__(self, config_rule_name: str) -> None:
        self.config_rule_name = config_rule_name
        self.put_calls: list[list[dict[str, Any]]] = []
        self.results: dict[str, dict[str, Any]] = {}
        # Return True for an evaluation Config should reject (FailedEvaluations).
        self.rejects: Callable[[dict[str, Any]], bool] = lambda evaluation: False
        self._operations = {
            "PutEvaluations": self._put_evaluations,
            "GetComplianceDetailsByConfigRule": self._get_compliance_details,
        }
        # before-call stops at the first handler that answers, so moto (which
        # hooks the later before-send step) never sees these two operations.
        self._handler = ("before-call.config-service", self._dispatch)

    def __enter__(self) -> EmulatedConfig:
        # New sessions pick up BUILTIN_HANDLERS, as moto's own hook does.
        BUILTIN_HANDLERS.insert(0, self._handler)
        return self

    def __exit__(self, *_: Any) -> None:
        BUILTIN_HANDLERS.remove(self._handler)

    @property
    def sent(self) -> list[dict[str, Any]]:
        """Every evaluation sent, in order, across all calls."""
        return [evaluation for batch in self.put_calls for evaluation in batch]

    def _dispatch(self, model: OperationModel, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, Any] | None:
        operation = self._operations.get(model.name)
        if operation is None:
            return None
        body = json.dumps(operation(json.loads(params["body"] or b"{}"))).encode()
        http = AWSResponse(params["url"], 200, {"Content-Type": "application/x-amz-json-1.1"}, _Body(body))
        parsed = create_parser("json").parse(
            {"body": body, "headers": http.headers, "status_code": 200}, model.output_shape
        )
        return http, parsed

    def _put_evaluations(self, params: dict[str, Any]) -> dict[str, Any]:
        evaluations = params.get("Evaluations", [])
        self.put_calls.append(evaluations)
        failed = [evaluation for evaluation in evaluations if self.rejects(evaluation)]
        if not params.get("TestMode"):
            for evaluation in evaluations:
                if evaluation not in failed:
                    self.results[evaluation["ComplianceResourceId"]] = evaluation
        return {"FailedEvaluations": failed}

    def _get_compliance_details(self, params: dict[str, Any]) -> dict[str, Any]:
        wanted = set(params.get("ComplianceTypes") or ["COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE"])
        matching = [
            result for _, result in sorted(self.results.items()) if result["ComplianceType"] in wanted
        ] if params["ConfigRuleName"] == self.config_rule_name else []
        start = int(params.get("NextToken") or 0)
        limit = params.get("Limit") or 100
        page = matching[start : start + limit]
        body: dict[str, Any] = {"EvaluationResults": [_evaluation_result(self.config_rule_name, r) for r in page]}
        if start + limit < len(matching):
            body["NextToken"] = str(start + limit)
        return body


def _evaluation_result(rule_name: str, evaluation: dict[str, Any]) -> dict[str, Any]:
    return {
        "EvaluationResultIdentifier": {
            "EvaluationResultQualifier": {
                "ConfigRuleName": rule_name,
                "ResourceType": evaluation["ComplianceResourceType"],
                "ResourceId": evaluation["ComplianceResourceId"],
            },
            "OrderingTimestamp": 0,
        },
        "ComplianceType": evaluation["ComplianceType"],
        "ResultRecordedTime": 0,
        "ConfigRuleInvokedTime": 0,
        "Annotation": evaluation.get("Annotation", ""),
    }
