"""SSM Automation running the enforcement document, emulated in-process (moto runs no automation).

* :class:`EmulatedAutomation` - SSM's ``GetAutomationExecution``, answering each account with its own
  executions only, as the enforcement function's confirmation reads them.
* :class:`EmulatedLambda` - Lambda's ``Invoke`` of the enforcement function, answered by its handler
  in-process, with Lambda's own shape for a function error (``FunctionError`` and an error payload).
* :func:`run_enforcement_document` - what SSM does with the document's one script step: a new
  execution, the step's inputs resolved, and the template's own script run; a raise fails the execution.

Example::

    with EmulatedAutomation() as automation, EmulatedLambda(handler):
        run_enforcement_document(document, "Enforce", {"UserId": "AIDA..."}, "123456789012", automation)
"""

from __future__ import annotations

import io
import json
import os
import re
import traceback
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.model import OperationModel
from botocore.response import StreamingBody

from mfa_audit.emulation.services import BeforeCallEmulator, EmulatedError, JsonServiceEmulator, _EmptyBody

_PLACEHOLDER = re.compile(r"\{\{\s*([\w:]+)\s*\}\}")


class EmulatedAutomation(JsonServiceEmulator):
    """SSM's GetAutomationExecution; each execution belongs to the account it runs in. This emulator takes every
    SSM call, so the parameter calls (the enforcement's kill switch) are answered from moto's own SSM."""

    def __init__(self) -> None:
        super().__init__("ssm")
        self.executions: dict[tuple[str, str], dict[str, Any]] = {}
        self.operations = {
            "GetAutomationExecution": self._get,
            "GetParameter": self._get_parameter,
            "PutParameter": self._put_parameter,
            "DeleteParameter": self._delete_parameter,
        }

    def _parameters(self) -> Any:
        from moto.ssm.models import ssm_backends

        return ssm_backends[self.caller_account][os.environ.get("AWS_REGION", "us-east-1")]

    def _get_parameter(self, params: dict[str, Any]) -> dict[str, Any]:
        parameter = self._parameters().get_parameter(params["Name"])
        if parameter is None:
            raise EmulatedError("ParameterNotFound", 400, f"parameter {params['Name']} not found")
        return {"Parameter": {"Name": parameter.name, "Type": parameter.parameter_type, "Value": parameter.value}}

    def _put_parameter(self, params: dict[str, Any]) -> dict[str, Any]:
        backend = self._parameters()
        if backend.get_parameter(params["Name"]) is not None and not params.get("Overwrite"):
            raise EmulatedError("ParameterAlreadyExists", 400, f"parameter {params['Name']} exists")
        parameter = backend.put_parameter(
            params["Name"], "", params["Value"], params.get("Type", "String"), "", "", True, [], "text", None, None
        )
        return {"Version": parameter.version}

    def _delete_parameter(self, params: dict[str, Any]) -> dict[str, Any]:
        if self._parameters().get_parameter(params["Name"]) is None:
            raise EmulatedError("ParameterNotFound", 400, f"parameter {params['Name']} not found")
        self._parameters().delete_parameter(params["Name"])
        return {}

    def start(self, account: str, document: str, user_id: str, status: str = "InProgress") -> str:
        """Register an execution of ``document`` for ``user_id`` in ``account``; returns its id."""
        execution_id = str(uuid.uuid4())
        self.executions[(account, execution_id)] = {
            "AutomationExecutionId": execution_id,
            "DocumentName": document,
            "AutomationExecutionStatus": status,
            "Parameters": {"UserId": [user_id], "AutomationAssumeRole": [f"arn:aws:iam::{account}:role/automation"]},
        }
        return execution_id

    def finish(self, account: str, execution_id: str, status: str) -> None:
        self.executions[(account, execution_id)]["AutomationExecutionStatus"] = status

    def _get(self, params: dict[str, Any]) -> dict[str, Any]:
        execution = self.executions.get((self.caller_account, params["AutomationExecutionId"]))
        if execution is None:
            raise EmulatedError("AutomationExecutionNotFoundException", 400, "no such execution")
        return {"AutomationExecution": execution}


class EmulatedLambda(BeforeCallEmulator):
    """Lambda's synchronous Invoke, answered by ``function(event)`` in-process; ``invoked`` keeps the function names.

    A raise becomes what Lambda returns for an unhandled error: StatusCode 200, ``FunctionError: Unhandled``
    and a payload with errorMessage and errorType.
    """

    def __init__(self, function: Callable[[dict[str, Any]], Any]) -> None:
        super().__init__()
        self.function = function
        self.invoked: list[str] = []

    def _dispatch(self, model: OperationModel, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, Any] | None:
        if model.service_model.service_id.hyphenize() != "lambda" or model.name != "Invoke":
            return None
        # The path is /2015-03-31/functions/<name>/invocations (the name percent-encoded).
        from urllib.parse import unquote

        self.invoked.append(unquote(params["url_path"].split("/")[3]))
        event = json.loads(params.get("body") or b"{}")
        parsed: dict[str, Any] = {"StatusCode": 200}
        try:
            payload = json.dumps(self.function(event)).encode()
        except Exception as error:  # noqa: BLE001 - Lambda turns any raise into a function error
            parsed["FunctionError"] = "Unhandled"
            payload = json.dumps(
                {
                    "errorMessage": str(error),
                    "errorType": type(error).__name__,
                    "stackTrace": traceback.format_tb(error.__traceback__),
                }
            ).encode()
        parsed["Payload"] = StreamingBody(io.BytesIO(payload), len(payload))
        parsed["ResponseMetadata"] = {"HTTPStatusCode": 200, "RequestId": str(uuid.uuid4())}
        return AWSResponse(params.get("url", ""), 200, {}, _EmptyBody()), parsed


def _resolve(value: Any, values: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda match: values[match.group(1)], value)
    return value


def run_enforcement_document(
    content: Mapping[str, Any],
    document_name: str,
    parameters: Mapping[str, str],
    account: str,
    automation: EmulatedAutomation,
) -> dict[str, Any]:
    """Run the document's one ``aws:executeScript`` step as SSM would; returns the script's result.

    The execution is InProgress while the script runs, Success after it, Failed if it raised (and the
    raise goes on, as the automation's failure).
    """
    (step,) = content["mainSteps"]
    if step["action"] != "aws:executeScript":
        raise ValueError(f"the enforcement document's step is {step['action']}, not aws:executeScript")
    execution_id = automation.start(account, document_name, parameters["UserId"])
    values = {**parameters, "automation:EXECUTION_ID": execution_id, "global:ACCOUNT_ID": account}
    events = {key: _resolve(value, values) for key, value in step["inputs"]["InputPayload"].items()}
    namespace: dict[str, Any] = {}
    # The template's own script, run as SSM runs it: the point of the emulation.
    exec(step["inputs"]["Script"], namespace)  # noqa: S102  # nosec B102
    try:
        result = namespace[step["inputs"]["Handler"]](events, None)
    except Exception:
        automation.finish(account, execution_id, "Failed")
        raise
    automation.finish(account, execution_id, "Success")
    return result
