"""AWS APIs that moto lacks or cannot hold still, emulated in-process for the demo, tests and benchmark.

* :class:`EmulatedConfig` - PutEvaluations (moto stores nothing), GetComplianceDetailsByConfigRule and
  ByResource, DescribeConfigRules and StartConfigRulesEvaluation (with its once-a-minute limit).
* :class:`EmulatedCloudTrail` - records IAM changes made in-process and answers LookupEvents.
* :class:`FrozenCredentialReport` - a credential report generated once and then left to go stale
  (moto rebuilds it on every read), with the report's error states on demand.

Config and CloudTrail are answered at botocore's send step, at an endpoint of their own
(set through the standard ``AWS_ENDPOINT_URL_<SERVICE>`` variables) that moto does not
claim: requests are built, signed and validated by botocore, responses travel as JSON
and are parsed by botocore, and retries and injected faults behave as with AWS. The
frozen credential report answers at the earlier before-call step, over moto's own.

Example::

    with mock_aws(), EmulatedConfig("my-rule") as config:
        lambda_handler(event, None)
        config.results            # {"AIDA...": {"ComplianceType": "COMPLIANT", ...}}
"""

from __future__ import annotations

import json
import os
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.awsrequest import AWSResponse
from botocore.handlers import BUILTIN_HANDLERS
from botocore.model import OperationModel

DEFAULT_ACCOUNT = "123456789012"


class EmulatedError(Exception):
    """Raised by an emulated operation to answer with an AWS error."""

    def __init__(self, code: str, status: int, message: str = "emulated error") -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message


class _EmptyBody:
    def stream(self, **_: Any) -> Any:
        yield b""


class _Body:
    def __init__(self, payload: bytes) -> None:
        self._payload = payload

    def stream(self, **_: Any) -> Any:
        yield self._payload


class BeforeCallEmulator:
    """Answers chosen operations (``"service-id.Operation"``) for every botocore session."""

    operations: dict[str, Callable[[dict[str, Any]], dict[str, Any]]]

    def __init__(self) -> None:
        self._handler = ("before-call", self._dispatch)
        self._lock = threading.Lock()

    def __enter__(self) -> Any:
        # New sessions pick up BUILTIN_HANDLERS, as moto's own hook does.
        BUILTIN_HANDLERS.insert(0, self._handler)
        return self

    def __exit__(self, *_: Any) -> None:
        BUILTIN_HANDLERS.remove(self._handler)

    def _dispatch(self, model: OperationModel, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, Any] | None:
        operation = self.operations.get(f"{model.service_model.service_id.hyphenize()}.{model.name}")
        if operation is None:
            return None
        body = params.get("body") or {}
        request = json.loads(body) if isinstance(body, (bytes, str)) else dict(body)
        try:
            with self._lock:
                parsed = operation(request)
            if parsed is None:  # the operation only observed the call; let it go on to moto
                return None
            status = 200
        except EmulatedError as error:
            status = error.status
            parsed = {"Error": {"Code": error.code, "Message": error.message}}
        parsed.setdefault("ResponseMetadata", {"HTTPStatusCode": status, "RequestId": str(uuid.uuid4())})
        return AWSResponse(params.get("url", ""), status, {}, _EmptyBody()), parsed


class JsonServiceEmulator:
    """Answers a JSON-protocol AWS service at botocore's send step, at an endpoint of its own."""

    operations: dict[str, Callable[[dict[str, Any]], dict[str, Any]]]

    def __init__(self, service_id: str) -> None:
        self.service_id = service_id
        self.host = f"{service_id}.emulated.invalid"
        self._variable = "AWS_ENDPOINT_URL_" + service_id.upper().replace("-", "_")
        self._handler = ("before-send", self._send)
        self._lock = threading.Lock()
        self._saved_endpoint: str | None = None

    def __enter__(self) -> Any:
        self._saved_endpoint = os.environ.get(self._variable)
        os.environ[self._variable] = f"https://{self.host}"
        BUILTIN_HANDLERS.insert(0, self._handler)
        return self

    def __exit__(self, *_: Any) -> None:
        BUILTIN_HANDLERS.remove(self._handler)
        if self._saved_endpoint is None:
            os.environ.pop(self._variable, None)
        else:
            os.environ[self._variable] = self._saved_endpoint

    def _send(self, request: Any, **_: Any) -> AWSResponse | None:
        if urlsplit(request.url).hostname != self.host:
            return None
        target = request.headers.get("X-Amz-Target", b"")
        operation = self.operations.get((target.decode() if isinstance(target, bytes) else target).split(".")[-1])
        if operation is None:
            return _json_response(request, 400, {"__type": "InvalidAction", "message": f"not emulated: {target!r}"})
        try:
            with self._lock:
                self.caller_account = _caller_account(request)
                body = operation(json.loads(request.body or b"{}"))
        except EmulatedError as error:
            return _json_response(request, error.status, {"__type": error.code, "message": error.message})
        return _json_response(request, 200, body)


def _caller_account(request: Any) -> str:
    """The emulated account whose credentials signed the request, as moto itself tells it."""
    from moto.iam.models import get_account_id_from

    authorization = request.headers.get("Authorization", b"")
    authorization = authorization.decode() if isinstance(authorization, bytes) else authorization
    access_key = authorization.partition("Credential=")[2].partition("/")[0]
    return get_account_id_from(access_key)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _json_response(request: Any, status: int, body: dict[str, Any]) -> AWSResponse:
    payload = json.dumps(body, default=_json_default).encode()
    headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": str(uuid.uuid4())}
    return AWSResponse(request.url, status, headers, _Body(payload))


class EmulatedConfig(JsonServiceEmulator):
    """Records every PutEvaluations call and keeps the latest result per resource."""

    def __init__(self, config_rule_name: str) -> None:
        super().__init__("config-service")
        self.config_rule_name = config_rule_name
        self.put_calls: list[list[dict[str, Any]]] = []
        self.results: dict[str, dict[str, Any]] = {}
        # When Config recorded each held result; tests move the clock to play out days of sweeps.
        self.recorded_at: dict[str, datetime] = {}
        self.clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
        # Config keeps each account's results apart; a result put in by hand belongs to the default account.
        self.result_accounts: dict[str, str] = {}
        # Return True for an evaluation Config should reject (FailedEvaluations).
        self.rejects: Callable[[dict[str, Any]], bool] = lambda evaluation: False
        # StartConfigRulesEvaluation: when each account last started one, and accounts whose evaluation runs.
        self.evaluations_started: list[tuple[str, datetime]] = []
        self.evaluation_running: set[str] = set()
        # The rule's InputParameters as DescribeConfigRules answers them (the enforcement function reads them live).
        self.rule_parameters: dict[str, str] = {}
        self.operations = {
            "PutEvaluations": self._put_evaluations,
            "GetComplianceDetailsByConfigRule": self._get_compliance_details,
            "GetComplianceDetailsByResource": self._get_compliance_details_by_resource,
            "DescribeConfigRules": self._describe_config_rules,
            "StartConfigRulesEvaluation": self._start_config_rules_evaluation,
        }

    def forget_results(self) -> None:
        """Config holds nothing any more (as for a rule just created)."""
        self.results.clear()
        self.recorded_at.clear()
        self.result_accounts.clear()

    @property
    def sent(self) -> list[dict[str, Any]]:
        """Every evaluation sent, in order, across all calls."""
        return [evaluation for batch in self.put_calls for evaluation in batch]

    def _put_evaluations(self, params: dict[str, Any]) -> dict[str, Any]:
        evaluations = params.get("Evaluations", [])
        self.put_calls.append(evaluations)
        failed = [evaluation for evaluation in evaluations if self.rejects(evaluation)]
        if not params.get("TestMode"):
            for evaluation in evaluations:
                if evaluation not in failed:
                    self.results[evaluation["ComplianceResourceId"]] = evaluation
                    self.recorded_at[evaluation["ComplianceResourceId"]] = self.clock()
                    self.result_accounts[evaluation["ComplianceResourceId"]] = self.caller_account
        return {"FailedEvaluations": failed}

    def _get_compliance_details(self, params: dict[str, Any]) -> dict[str, Any]:
        wanted = set(params.get("ComplianceTypes") or ["COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE"])
        matching = (
            [
                result
                for resource_id, result in sorted(self.results.items())
                if result["ComplianceType"] in wanted
                and self.result_accounts.get(resource_id, DEFAULT_ACCOUNT) == self.caller_account
            ]
            if params["ConfigRuleName"] == self.config_rule_name
            else []
        )
        start = int(params.get("NextToken") or 0)
        limit = params.get("Limit") or 100
        body: dict[str, Any] = {
            "EvaluationResults": [self._evaluation_result(result) for result in matching[start : start + limit]]
        }
        if start + limit < len(matching):
            body["NextToken"] = str(start + limit)
        return body

    def _get_compliance_details_by_resource(self, params: dict[str, Any]) -> dict[str, Any]:
        result = self.results.get(params["ResourceId"])
        wanted = set(params.get("ComplianceTypes") or ["COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE"])
        held = (
            result is not None
            and result["ComplianceResourceType"] == params["ResourceType"]
            and result["ComplianceType"] in wanted
            and self.result_accounts.get(params["ResourceId"], DEFAULT_ACCOUNT) == self.caller_account
        )
        return {"EvaluationResults": [self._evaluation_result(result)] if held else []}

    def _describe_config_rules(self, params: dict[str, Any]) -> dict[str, Any]:
        names = params.get("ConfigRuleNames")
        if names and any(name != self.config_rule_name for name in names):
            raise EmulatedError("NoSuchConfigRuleException", 400, f"no rule named {names}")
        rule = {
            "ConfigRuleName": self.config_rule_name,
            "ConfigRuleArn": f"arn:aws:config:us-east-1:{self.caller_account}:config-rule/config-rule-emulated",
            "ConfigRuleId": "config-rule-emulated",
            "Source": {"Owner": "CUSTOM_LAMBDA", "SourceIdentifier": "emulated"},
            "InputParameters": json.dumps(self.rule_parameters),
            "ConfigRuleState": "ACTIVE",
        }
        return {"ConfigRules": [rule]}

    def _start_config_rules_evaluation(self, params: dict[str, Any]) -> dict[str, Any]:
        """Refuses, as Config does, while the account's evaluation runs or within a minute of the last start."""
        if params.get("ConfigRuleNames") != [self.config_rule_name]:
            raise EmulatedError("NoSuchConfigRuleException", 400, f"no rule named {params.get('ConfigRuleNames')}")
        now = self.clock()
        last = max((at for account, at in self.evaluations_started if account == self.caller_account), default=None)
        if self.caller_account in self.evaluation_running or (last is not None and now - last < timedelta(minutes=1)):
            raise EmulatedError("LimitExceededException", 400, "an evaluation is running or was started recently")
        self.evaluations_started.append((self.caller_account, now))
        return {}

    def _evaluation_result(self, evaluation: dict[str, Any]) -> dict[str, Any]:
        # A result put in by hand (a test's) counts as recorded now.
        recorded = self.recorded_at.get(evaluation["ComplianceResourceId"]) or self.clock()
        return {
            "EvaluationResultIdentifier": {
                "EvaluationResultQualifier": {
                    "ConfigRuleName": self.config_rule_name,
                    "ResourceType": evaluation["ComplianceResourceType"],
                    "ResourceId": evaluation["ComplianceResourceId"],
                },
                # As Config does: the timestamp the rule sent (a result put in by hand has none).
                "OrderingTimestamp": evaluation.get("OrderingTimestamp", recorded),
            },
            "ComplianceType": evaluation["ComplianceType"],
            "ResultRecordedTime": recorded,
            "ConfigRuleInvokedTime": recorded,
            "Annotation": evaluation.get("Annotation", ""),
        }


# IAM changes that CloudTrail records and the rule's bulk sweep looks for.
RECORDED_IAM_CHANGES = (
    "CreateLoginProfile",
    "DeleteLoginProfile",
    "EnableMFADevice",
    "DeactivateMFADevice",
    "CreateUser",
    "DeleteUser",
    "UpdateUser",
    "UpdateLoginProfile",
    "TagUser",
    "UntagUser",
)
# Who the emulated CloudTrail says made each call.
EMULATED_CALLER = "arn:aws:sts::{account}:assumed-role/emulated-admin/session"


def _members(params: dict[str, Any], name: str) -> list[dict[str, str]]:
    """A list the query protocol flattened (``Tags.member.1.Key``), in order; a plain member's value is under ""."""
    members: dict[int, dict[str, str]] = {}
    prefix = f"{name}.member."
    for key, value in params.items():
        if key.startswith(prefix):
            number, _, field = key[len(prefix) :].partition(".")
            members.setdefault(int(number), {})[field] = value
    return [members[number] for number in sorted(members)]


class EmulatedCloudTrail(JsonServiceEmulator):
    """Records IAM changes made through botocore in this process; answers LookupEvents.

    ``delivery_delay`` hides events younger than it, as CloudTrail's own delivery delay does; ``delay_of``, when
    set, gives each event its own delay as it is recorded (``delay_of(event_name)``), so events can be delivered
    out of order, as CloudTrail does not promise any order.
    """

    def __init__(self, account_id: str = "123456789012", delivery_delay: timedelta = timedelta(0)) -> None:
        super().__init__("cloudtrail")
        self.account_id = account_id
        self.delivery_delay = delivery_delay
        # Replaceable, so a benchmark's simulated clock dates the events it makes and the lookups' "now".
        self.clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
        self.events: list[dict[str, Any]] = []
        self.delay_of: Callable[[str], timedelta] | None = None
        # Each event's own delivery delay, by eventID (set through delay_of).
        self.delays: dict[str, timedelta] = {}
        self.operations = {"LookupEvents": self._lookup_events}
        self._recorder = BeforeCallEmulator()
        self._recorder.operations = {f"iam.{name}": self._record(name) for name in RECORDED_IAM_CHANGES}

    def __enter__(self) -> EmulatedCloudTrail:
        super().__enter__()
        self._recorder.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._recorder.__exit__(*exc)
        super().__exit__(*exc)

    def age_history(self, by: timedelta) -> None:
        """Move every recorded event ``by`` into the past, as if the account was set up earlier."""
        for event in self.events:
            event["eventTime"] -= by

    def _record(self, name: str) -> Callable[[dict[str, Any]], Any]:
        def record(params: dict[str, Any]) -> None:
            request = {"userName": params["UserName"]} if "UserName" in params else {}
            if "SerialNumber" in params:
                request["serialNumber"] = params["SerialNumber"]
            if "NewUserName" in params:
                request["newUserName"] = params["NewUserName"]
            # IAM's query protocol flattens lists: Tags.member.1.Key, TagKeys.member.1.
            tags = _members(params, "Tags")
            if tags:  # TagUser, as CloudTrail records it
                request["tags"] = [{"key": tag["Key"], "value": tag.get("Value", "")} for tag in tags]
            keys = _members(params, "TagKeys")
            if keys:  # UntagUser
                request["tagKeys"] = [key[""] for key in keys]
            event_id = str(uuid.uuid4())
            if self.delay_of is not None:
                self.delays[event_id] = self.delay_of(name)
            self.events.append(
                {
                    "eventVersion": "1.09",
                    "eventID": event_id,
                    "eventTime": self.clock(),
                    "eventSource": "iam.amazonaws.com",
                    "eventName": name,
                    "userIdentity": {
                        "type": "AssumedRole",
                        "accountId": self.account_id,
                        "arn": EMULATED_CALLER.format(account=self.account_id),
                    },
                    "requestParameters": request,
                }
            )
            return None

        return record

    def delivered_at(self, event: dict[str, Any]) -> datetime:
        """When LookupEvents first shows ``event``."""
        return event["eventTime"] + self.delays.get(event["eventID"], self.delivery_delay)

    def _lookup_events(self, params: dict[str, Any]) -> dict[str, Any]:
        now = self.clock()
        start = _epoch(params.get("StartTime"))
        end = _epoch(params.get("EndTime"))
        names = {a["AttributeValue"] for a in params.get("LookupAttributes", []) if a["AttributeKey"] == "EventName"}
        sources = {
            a["AttributeValue"] for a in params.get("LookupAttributes", []) if a["AttributeKey"] == "EventSource"
        }
        matching = [
            event
            for event in reversed(self.events)  # newest first, as CloudTrail returns them
            if self.delivered_at(event) <= now
            and (start is None or event["eventTime"] >= start)
            and (end is None or event["eventTime"] <= end)
            and (not names or event["eventName"] in names)
            and (not sources or event["eventSource"] in sources)
        ]
        offset = int(params.get("NextToken") or 0)
        size = params.get("MaxResults") or 50
        page = matching[offset : offset + size]
        body: dict[str, Any] = {"Events": [self._lookup_event(event) for event in page]}
        if offset + size < len(matching):
            body["NextToken"] = str(offset + size)
        return body

    @staticmethod
    def _lookup_event(event: dict[str, Any]) -> dict[str, Any]:
        user = event["requestParameters"].get("userName")
        return {
            "EventId": event["eventID"],
            "EventName": event["eventName"],
            "ReadOnly": "false",
            "EventTime": event["eventTime"],
            "EventSource": event["eventSource"],
            "Resources": [{"ResourceType": "AWS::IAM::User", "ResourceName": user}] if user else [],
            "CloudTrailEvent": json.dumps(event, default=lambda value: value.strftime("%Y-%m-%dT%H:%M:%SZ")),
        }


def _epoch(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


class FrozenCredentialReport(BeforeCallEmulator):
    """IAM's credential report, generated from moto's account once and then left to go stale.

    Generation follows IAM: the first GenerateCredentialReport answers STARTED, then
    INPROGRESS ``generation_polls`` times, then COMPLETE; GetCredentialReport meanwhile
    fails with ReportInProgress, before any generation with ReportNotPresent, and after
    :meth:`expire` with ReportExpired until the report is generated again.
    """

    def __init__(self, account_id: str = "123456789012", generation_polls: int = 0) -> None:
        super().__init__()
        self.account_id = account_id
        self.generation_polls = generation_polls
        self.content: bytes | None = None
        self.generated: datetime | None = None
        self.expired = False
        self.requests: list[str] = []
        self._polls_left: int | None = None
        self.operations = {
            "iam.GenerateCredentialReport": self._generate_credential_report,
            "iam.GetCredentialReport": self._get_credential_report,
        }

    def generate_now(self) -> None:
        """Take the report from the emulated account as it is at this moment."""
        from moto.iam.models import iam_backends

        backend = iam_backends[self.account_id]["aws"]
        backend.generate_report()
        self.content = backend.get_credential_report().encode()
        self.generated = datetime.now(timezone.utc)
        self.expired = False

    def expire(self) -> None:
        self.expired = True

    def _generate_credential_report(self, params: dict[str, Any]) -> dict[str, Any]:
        self.requests.append("GenerateCredentialReport")
        if self.content is not None and not self.expired:
            return {"State": "COMPLETE", "Description": "No new report generated: the current one is recent."}
        if self._polls_left is None:
            self._polls_left = self.generation_polls
            return {"State": "STARTED", "Description": "Started a new report generation task."}
        if self._polls_left > 0:
            self._polls_left -= 1
            return {"State": "INPROGRESS"}
        self._polls_left = None
        self.generate_now()
        return {"State": "COMPLETE"}

    def _get_credential_report(self, params: dict[str, Any]) -> dict[str, Any]:
        self.requests.append("GetCredentialReport")
        if self.expired:
            raise EmulatedError("ReportExpired", 410, "The credential report has expired.")
        if self.content is not None:
            return {"Content": self.content, "ReportFormat": "text/csv", "GeneratedTime": self.generated}
        if self._polls_left is not None:
            raise EmulatedError("ReportInProgress", 404, "The credential report is being generated.")
        raise EmulatedError("ReportNotPresent", 410, "No credential report exists.")


class ApiCallCounter:
    """Counts every AWS call made through botocore in this process, by IAM action (``"iam:ListUsers"``)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._handler = ("before-call", self._count)
        self._lock = threading.Lock()

    def __enter__(self) -> ApiCallCounter:
        BUILTIN_HANDLERS.insert(0, self._handler)
        # boto3's default session may exist already (rdklib's STS call uses it).
        self._default_session = boto3.DEFAULT_SESSION
        if self._default_session is not None:
            self._default_session.events.register_first(*self._handler)
        return self

    def __exit__(self, *_: Any) -> None:
        BUILTIN_HANDLERS.remove(self._handler)
        if self._default_session is not None:
            self._default_session.events.unregister(*self._handler)

    def _count(self, model: OperationModel, **_: Any) -> None:
        with self._lock:
            self.calls[f"{model.service_model.signing_name}:{model.name}"] += 1

    def of_service(self, prefix: str) -> int:
        return sum(count for key, count in self.calls.items() if key.startswith(f"{prefix}:"))


class EmulatedAggregator(JsonServiceEmulator):
    """A Config aggregator over accounts whose rule results are given, answering as the real APIs do:
    GetAggregateComplianceDetailsByConfigRule returns COMPLIANT and NON_COMPLIANT results only.

    ``accounts``: one dict per account with ``account_id``, ``region``, ``collected`` (False: the
    aggregator could not collect it, with ``error``), ``rule_deployed`` and ``users`` as
    (user_id, user_name, compliance_type, annotation, recorded): the organization rule's results.
    Optional ``other_rules``: {rule name: users as above} for further rules in that account, such as a
    conformance-pack copy or a local rule of the same name. Optional ``tagged``: (user_id, user_name, tags)
    of the users carrying tags in Config's inventory, for SelectAggregateResourceConfig (which answers the
    one query the report makes: users carrying a tag key).
    """

    RULE = "OrgConfigRule-IAM_USER_CONSOLE_MFA-demo01"

    def __init__(self, accounts: list[dict[str, Any]]) -> None:
        super().__init__("config-service")
        self.accounts = accounts
        self.operations = {
            "DescribeConfigurationAggregatorSourcesStatus": self._sources,
            "DescribeAggregateComplianceByConfigRules": self._rules,
            "ListAggregateDiscoveredResources": self._resources,
            "GetAggregateComplianceDetailsByConfigRule": self._details,
            "SelectAggregateResourceConfig": self._select,
        }

    def _select(self, params: dict[str, Any]) -> dict[str, Any]:
        wanted = re.search(r"tags\.key = '([^']*)'", params["Expression"])
        if wanted is None:
            raise EmulatedError("InvalidExpressionException", 400, "the emulation answers a tags.key query only")
        results = [
            json.dumps(
                {
                    "accountId": account["account_id"],
                    "resourceId": user_id,
                    "resourceName": user_name,
                    "tags": [{"key": key, "value": value, "tag": f"{key}={value}"} for key, value in tags.items()],
                }
            )
            for account in self.accounts
            if account["collected"]
            for user_id, user_name, tags in account.get("tagged", [])
            if wanted.group(1) in tags
        ]
        return {"Results": results, "QueryInfo": {"SelectFields": [{"Name": "accountId"}]}}

    def _sources(self, params: dict[str, Any]) -> dict[str, Any]:
        statuses = [{"SourceId": "o-demoorg0001", "SourceType": "ORGANIZATION", "LastUpdateStatus": "SUCCEEDED"}]
        for account in self.accounts:
            status = {
                "SourceId": account["account_id"],
                "SourceType": "ACCOUNT",
                "AwsRegion": account["region"],
                "LastUpdateStatus": "SUCCEEDED" if account["collected"] else "FAILED",
            }
            if not account["collected"]:
                status.update(LastErrorCode="NoAvailableConfigurationRecorder", LastErrorMessage=account["error"])
            statuses.append(status)
        return {"AggregatedSourceStatusList": statuses}

    def _deployed(self) -> list[dict[str, Any]]:
        return [a for a in self.accounts if a["collected"] and a["rule_deployed"]]

    def _rules(self, params: dict[str, Any]) -> dict[str, Any]:
        rules = []
        for account in self._deployed():
            for rule_name, users in self._rules_of(account).items():
                failing = any(user[2] == "NON_COMPLIANT" for user in users)
                rules.append(
                    {
                        "ConfigRuleName": rule_name,
                        "Compliance": {"ComplianceType": "NON_COMPLIANT" if failing else "COMPLIANT"},
                        "AccountId": account["account_id"],
                        "AwsRegion": account["region"],
                    }
                )
        return {"AggregateComplianceByConfigRules": rules}

    def _rules_of(self, account: dict[str, Any]) -> dict[str, list[tuple]]:
        return {self.RULE: account["users"], **account.get("other_rules", {})}

    def _resources(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ResourceIdentifiers": [
                {
                    "SourceAccountId": account["account_id"],
                    "SourceRegion": account["region"],
                    "ResourceId": user_id,
                    "ResourceType": "AWS::IAM::User",
                    "ResourceName": user_name,
                }
                for account in self.accounts
                if account["collected"]
                # Config's inventory: every user the account's rules name, once.
                for user_id, user_name in {
                    user[0]: user[1] for users in self._rules_of(account).values() for user in users
                }.items()
            ]
        }

    def _details(self, params: dict[str, Any]) -> dict[str, Any]:
        (account,) = [
            a for a in self._deployed() if (a["account_id"], a["region"]) == (params["AccountId"], params["AwsRegion"])
        ]
        rule_name = params["ConfigRuleName"]
        if rule_name not in self._rules_of(account):
            raise EmulatedError("NoSuchConfigRuleException", 400, f"no rule {rule_name} in {account['account_id']}")
        results = []
        for user_id, _, kind, annotation, recorded in self._rules_of(account)[rule_name]:
            if kind not in ("COMPLIANT", "NON_COMPLIANT"):
                continue  # what the aggregator API supports
            results.append(
                {
                    "EvaluationResultIdentifier": {
                        "EvaluationResultQualifier": {
                            "ConfigRuleName": rule_name,
                            "ResourceType": "AWS::IAM::User",
                            "ResourceId": user_id,
                        },
                        "OrderingTimestamp": recorded,
                    },
                    "ComplianceType": kind,
                    "ResultRecordedTime": recorded,
                    "ConfigRuleInvokedTime": recorded,
                    "Annotation": annotation,
                    "AccountId": account["account_id"],
                    "AwsRegion": account["region"],
                }
            )
        return {"AggregateEvaluationResults": results}
