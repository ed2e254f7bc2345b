"""mfa-audit doctor: a read-only check of a live deployment, one line per check.

It reads what an operator would otherwise click through: the stack, the Config recorder, the rule
and its last run, the alarms and whether anyone receives them, runs that failed for good, and for
the organization stack every member account's rule status and member role.

    checks = check_account_stack(clients, stack="iam-user-console-mfa", rule_name="IAM_USER_CONSOLE_MFA")
    print(render_checks(checks))

Every AWS call goes through :func:`console_mfa.aws.call` / :func:`~console_mfa.aws.collect`, so a
denied read is an error naming the IAM action (the doctor could not run: exit code 2), never a
silently skipped check.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from botocore.client import BaseClient
from console_mfa import RESOURCE_TYPE
from console_mfa.aws import call, collect
from console_mfa.exceptions import AwsCallError

TRIGGERS = frozenset(
    {
        "ConfigurationItemChangeNotification",
        "OversizedConfigurationItemChangeNotification",
        "ScheduledNotification",
    }
)
# The alarm set both stacks create: (namespace, metric, what it means when missing).
FUNCTION_ALARMS = (
    ("AWS/Lambda", "Errors", "failed runs"),
    ("AWS/Lambda", "Throttles", "throttled runs"),
    ("AWS/Lambda", "Invocations", "a rule that went quiet"),
)
QUEUE_ALARM = ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "runs dropped after Lambda's retries")
AWS_MANAGED_SNS_KEY = "alias/aws/sns"
MEMBER_RULE_OK = frozenset({"CREATE_SUCCESSFUL", "UPDATE_SUCCESSFUL"})


class ClientSource(Protocol):
    def client(self, service: str, region: str | None = None) -> BaseClient: ...


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None


def render_checks(checks: Iterable[Check]) -> str:
    lines = []
    for check in checks:
        lines.append(f"{'ok  ' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
        if not check.ok and check.fix:
            lines.append(f"      fix: {check.fix}")
    return "\n".join(lines)


def _stack(clients: ClientSource, stack: str, deploy_command: str) -> tuple[Check, dict[str, str], dict[str, str]]:
    cloudformation = clients.client("cloudformation")
    try:
        found = call(cloudformation, "DescribeStacks", StackName=stack)["Stacks"][0]
    except AwsCallError as error:  # a missing stack is a finding, not a failure to run
        if "does not exist" not in str(error):
            raise
        return Check("stack", False, f"no stack named {stack} in this account and Region", deploy_command), {}, {}
    outputs = {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in found.get("Parameters", [])}
    status = found["StackStatus"]
    healthy = status.endswith("_COMPLETE") and "ROLLBACK" not in status and "DELETE" not in status
    fix = None if healthy else f"aws cloudformation describe-stack-events --stack-name {stack}; then {deploy_command}"
    return Check("stack", healthy, f"{stack} is {status}", fix), outputs, parameters


def _records_iam_users(recording_group: dict[str, Any]) -> bool:
    strategy = recording_group.get("recordingStrategy", {}).get("useOnly")
    if strategy == "EXCLUSION_BY_RESOURCE_TYPES":
        return RESOURCE_TYPE not in recording_group.get("exclusionByResourceTypes", {}).get("resourceTypes", [])
    if strategy == "INCLUSION_BY_RESOURCE_TYPES" or not recording_group.get("allSupported", False):
        return RESOURCE_TYPE in recording_group.get("resourceTypes", [])
    return bool(recording_group.get("includeGlobalResourceTypes", False))


def check_recorder(config: BaseClient, region: str) -> Check:
    recorders = call(config, "DescribeConfigurationRecorders")["ConfigurationRecorders"]
    statuses = {
        s["name"]: s for s in call(config, "DescribeConfigurationRecorderStatus")["ConfigurationRecordersStatus"]
    }
    fix = (
        "aws configservice put-configuration-recorder --configuration-recorder name=default,roleARN=<config role ARN> "
        "--recording-group allSupported=true,includeGlobalResourceTypes=true "
        f"--region {region}; aws configservice start-configuration-recorder --configuration-recorder-name default "
        f"--region {region}"
    )
    recording = [r for r in recorders if _records_iam_users(r.get("recordingGroup", {}))]
    if not recording:
        return Check("recorder", False, f"no Config recorder in {region} records {RESOURCE_TYPE}", fix)
    active = [r["name"] for r in recording if statuses.get(r["name"], {}).get("recording")]
    if not active:
        names = ", ".join(r["name"] for r in recording)
        return Check(
            "recorder",
            False,
            f"recorder {names} would record {RESOURCE_TYPE} in {region} but is stopped",
            f"aws configservice start-configuration-recorder --configuration-recorder-name {recording[0]['name']} "
            f"--region {region}",
        )
    return Check("recorder", True, f"{active[0]} records {RESOURCE_TYPE} in {region}")


def check_rule(config: BaseClient, rule_name: str, function_arn: str, redeploy: str) -> Check:
    try:
        rules = call(config, "DescribeConfigRules", ConfigRuleNames=[rule_name])["ConfigRules"]
    except AwsCallError as error:
        if error.code != "NoSuchConfigRuleException":
            raise
        rules = []
    if not rules:
        return Check("rule", False, f"no Config rule named {rule_name}", redeploy)
    rule = rules[0]
    source = rule.get("Source", {})
    triggers = {d.get("MessageType") for d in source.get("SourceDetails", [])}
    problems = []
    if missing := TRIGGERS - triggers:
        problems.append(f"missing triggers {', '.join(sorted(missing))}")
    if rule.get("Scope", {}).get("ComplianceResourceTypes") != [RESOURCE_TYPE]:
        problems.append(f"scope is not {RESOURCE_TYPE}")
    if function_arn and source.get("SourceIdentifier") != function_arn:
        problems.append(f"runs {source.get('SourceIdentifier')}, not the stack's function")
    if rule.get("ConfigRuleState", "ACTIVE") != "ACTIVE":
        problems.append(f"state {rule['ConfigRuleState']}")
    if problems:
        return Check("rule", False, f"{rule_name}: " + "; ".join(problems), redeploy)
    return Check("rule", True, f"{rule_name} has all three triggers on {RESOURCE_TYPE}")


def check_last_run(config: BaseClient, rule_name: str, function_name: str) -> Check:
    statuses = call(config, "DescribeConfigRuleEvaluationStatus", ConfigRuleNames=[rule_name])[
        "ConfigRulesEvaluationStatus"
    ]
    status = statuses[0] if statuses else {}
    succeeded: datetime | None = status.get("LastSuccessfulInvocationTime")
    failed: datetime | None = status.get("LastFailedInvocationTime")
    if succeeded is None and failed is None:
        return Check(
            "last run",
            False,
            f"{rule_name} has not run yet",
            f"aws configservice start-config-rules-evaluation --config-rule-names {rule_name}",
        )
    if failed is not None and (succeeded is None or failed > succeeded):
        error = f"{status.get('LastErrorCode', '')} {status.get('LastErrorMessage', '')}".strip() or "no message"
        return Check(
            "last run",
            False,
            f"failed at {failed:%Y-%m-%d %H:%M} UTC: {error}",
            f"aws logs tail /aws/lambda/{function_name} --since 1d",
        )
    return Check("last run", True, f"succeeded at {succeeded:%Y-%m-%d %H:%M} UTC")


def _alarms_for(cloudwatch: BaseClient, namespace: str, metric: str, dimension: tuple[str, str]) -> list[dict]:
    return call(
        cloudwatch,
        "DescribeAlarmsForMetric",
        Namespace=namespace,
        MetricName=metric,
        Dimensions=[{"Name": dimension[0], "Value": dimension[1]}],
    )["MetricAlarms"]


def check_alarms(clients: ClientSource, function_name: str, queue_name: str | None, redeploy: str) -> list[Check]:
    """Each alarm of the set exists and notifies someone; each topic can deliver and has a confirmed subscriber."""
    cloudwatch = clients.client("cloudwatch")
    wanted = [(namespace, metric, why, ("FunctionName", function_name)) for namespace, metric, why in FUNCTION_ALARMS]
    if queue_name:
        wanted.append((*QUEUE_ALARM, ("QueueName", queue_name)))
    missing, silent, topics = [], [], set()
    for namespace, metric, why, dimension in wanted:
        alarms = _alarms_for(cloudwatch, namespace, metric, dimension)
        if not alarms:
            missing.append(f"{metric} ({why})")
            continue
        actions = [a for alarm in alarms for a in alarm.get("AlarmActions", [])]
        if not actions:
            silent.append(metric)
        topics |= {a for a in actions if ":sns:" in a}
    checks = []
    if missing or silent:
        detail = "; ".join(
            part
            for part in (
                f"no alarm on {', '.join(missing)}" if missing else "",
                f"alarms on {', '.join(silent)} notify no one" if silent else "",
            )
            if part
        )
        checks.append(Check("alarms", False, detail, f"{redeploy} with AlarmEmail=<you@example.com>"))
    else:
        checks.append(Check("alarms", True, f"{len(wanted)} alarms, each notifying a topic"))
    sns = clients.client("sns")
    for topic in sorted(topics):
        attributes = call(sns, "GetTopicAttributes", TopicArn=topic)["Attributes"]
        if attributes.get("KmsMasterKeyId") == AWS_MANAGED_SNS_KEY:
            checks.append(
                Check(
                    "alarm topic",
                    False,
                    f"{topic} is encrypted with {AWS_MANAGED_SNS_KEY}, which CloudWatch alarms cannot publish to",
                    f"aws sns set-topic-attributes --topic-arn {topic} --attribute-name KmsMasterKeyId "
                    "--attribute-value <a customer-managed key that grants cloudwatch.amazonaws.com kms:Decrypt and "
                    "kms:GenerateDataKey*>",
                )
            )
            continue
        subscriptions = collect(sns, "ListSubscriptionsByTopic", "Subscriptions", TopicArn=topic) or []
        confirmed = [s for s in subscriptions if s.get("SubscriptionArn", "").startswith("arn:")]
        if not confirmed:
            pending = len(subscriptions)
            checks.append(
                Check(
                    "alarm topic",
                    False,
                    f"{topic} has no confirmed subscription ({pending} pending)",
                    "confirm the e-mail from AWS Notifications, or: aws sns subscribe --topic-arn "
                    f"{topic} --protocol email --notification-endpoint <you@example.com>",
                )
            )
        else:
            checks.append(Check("alarm topic", True, f"{topic}: {len(confirmed)} confirmed subscription(s)"))
    return checks


def check_failed_runs(sqs: BaseClient, queue_url: str | None) -> Check:
    if not queue_url:
        return Check("failed runs", False, "the stack has no failed-invocations queue", "redeploy the current template")
    attributes = call(sqs, "GetQueueAttributes", QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    waiting = int(attributes["Attributes"]["ApproximateNumberOfMessages"])
    if waiting:
        return Check(
            "failed runs",
            False,
            f"{waiting} run(s) failed after Lambda's retries or were dropped",
            f"aws sqs receive-message --queue-url {queue_url} --max-number-of-messages 10 "
            "(each message holds the event and the error)",
        )
    return Check("failed runs", True, "no run failed for good or was dropped (last 14 days)")


def _function_name(function_arn: str) -> str:
    return function_arn.rsplit(":", 1)[-1]


def _queue_name(queue_url: str | None) -> str | None:
    return queue_url.rstrip("/").rsplit("/", 1)[-1] if queue_url else None


def check_account_stack(clients: ClientSource, stack: str, rule_name: str, region: str) -> list[Check]:
    redeploy = f"make deploy BUCKET=<artifacts bucket> REGION={region}"
    stack_check, outputs, _ = _stack(clients, stack, redeploy)
    checks = [stack_check]
    if not outputs:
        return checks
    config = clients.client("config")
    function_arn = outputs.get("FunctionArn", "")
    rule_name = outputs.get("ConfigRuleName", rule_name)
    checks.append(check_recorder(config, region))
    checks.append(check_rule(config, rule_name, function_arn, redeploy))
    checks.append(check_last_run(config, rule_name, _function_name(function_arn)))
    return checks + _operations_checks(clients, outputs, redeploy)


def _operations_checks(clients: ClientSource, outputs: dict[str, str], redeploy: str) -> list[Check]:
    """What both stacks share: the alarms, who receives them, and runs that failed for good."""
    queue_url = outputs.get("FailedInvocationsQueueUrl")
    function_name = _function_name(outputs.get("FunctionArn", ""))
    checks = check_alarms(clients, function_name, _queue_name(queue_url), redeploy)
    return checks + [check_failed_runs(clients.client("sqs"), queue_url)]


def _member_role_accounts(cloudformation: BaseClient, stack_set: str, call_as: str) -> set[str]:
    instances = collect(cloudformation, "ListStackInstances", "Summaries", StackSetName=stack_set, CallAs=call_as) or []
    return {
        i["Account"]
        for i in instances
        if i.get("StackInstanceStatus", {}).get("DetailedStatus", i.get("Status")) in ("SUCCEEDED", "CURRENT")
    }


def check_organization_stack(clients: ClientSource, stack: str, rule_name: str, region: str) -> list[Check]:
    redeploy = f"make deploy-organization BUCKET=<artifacts bucket> REGION={region}"
    stack_check, outputs, parameters = _stack(clients, stack, redeploy)
    checks = [stack_check]
    if not outputs:
        return checks
    config = clients.client("config")
    function_arn = outputs.get("FunctionArn", "")
    rules = call(config, "DescribeOrganizationConfigRules", OrganizationConfigRuleNames=[rule_name])
    metadata = (rules["OrganizationConfigRules"] or [{}])[0].get("OrganizationCustomRuleMetadata", {})
    triggers = set(metadata.get("OrganizationConfigRuleTriggerTypes", []))
    problems = [f"missing triggers {', '.join(sorted(TRIGGERS - triggers))}"] if TRIGGERS - triggers else []
    if metadata.get("LambdaFunctionArn") != function_arn:
        problems.append(f"runs {metadata.get('LambdaFunctionArn')}, not the stack's function")
    if metadata.get("ResourceTypesScope") != [RESOURCE_TYPE]:
        problems.append(f"scope is not {RESOURCE_TYPE}")
    checks.append(
        Check("organization rule", False, f"{rule_name}: " + "; ".join(problems), redeploy)
        if problems
        else Check("organization rule", True, f"{rule_name} has all three triggers on {RESOURCE_TYPE}")
    )
    statuses = (
        collect(
            config,
            "GetOrganizationConfigRuleDetailedStatus",
            "OrganizationConfigRuleDetailedStatus",
            OrganizationConfigRuleName=rule_name,
        )
        or []
    )
    call_as = parameters.get("CallAs", "SELF")
    with_role = _member_role_accounts(clients.client("cloudformation"), f"{stack}-member-role", call_as)
    management = None
    if call_as == "SELF":
        # From the management account, the stack itself creates the role there.
        management = call(clients.client("sts"), "GetCallerIdentity")["Account"]
        with_role.add(management)
    for status in sorted(statuses, key=lambda s: s["AccountId"]):
        account = status["AccountId"]
        state = status.get("MemberAccountRuleStatus", "UNKNOWN")
        if state not in MEMBER_RULE_OK:
            error = f"{status.get('ErrorCode', '')} {status.get('ErrorMessage', '')}".strip()
            checks.append(
                Check(
                    f"account {account}",
                    False,
                    f"rule {state}" + (f": {error}" if error else ""),
                    f"aws configservice get-organization-config-rule-detailed-status --organization-config-rule-name "
                    f"{rule_name} --filters AccountId={account}",
                )
            )
        elif account not in with_role:
            checks.append(
                Check(
                    f"account {account}",
                    False,
                    f"the rule runs here but the member role {parameters.get('MemberRoleName', '')} was not deployed",
                    f"{redeploy} (leaves out accounts the StackSet does not reach), or make deploy-member-role there",
                )
            )
        else:
            checks.append(Check(f"account {account}", True, f"rule {state}, member role deployed"))
    if not statuses:
        checks.append(Check("member accounts", False, "the organization rule reports no member account", redeploy))
    return checks + _operations_checks(clients, outputs, redeploy)
