"""mfa-audit doctor: a read-only check of a live deployment, one line per check.

It reads what an operator would otherwise click through: the stack, the Config recorder, the rule
and its last run, the alarms and whether anyone receives them, runs that failed for good, and for
the organization stack every member account's rule status and member role.

Every check it lists is ``ok`` (made, and passed), ``FAIL`` (made, and failed: a ``fix:`` line gives
the command) or ``SKIPPED`` (not made, and why: what it needs is missing, e.g. a stack that is not
this project's has none of the outputs that name the function, rule and queue). Only a list of
``ok`` lines means a healthy deployment.

    checks = check_account_stack(clients, stack="iam-user-console-mfa", rule_name=RULE_NAME)
    print(render_checks(checks))

Every AWS call goes through :func:`console_mfa.aws.call` / :func:`~console_mfa.aws.collect`, so a
denied read is an error naming the IAM action (the doctor could not run: exit code 2), never a
silently skipped check.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Protocol

from botocore.client import BaseClient
from console_mfa import RESOURCE_TYPE
from console_mfa.aws import call, collect
from console_mfa.exceptions import AwsCallError

from mfa_audit.templates import (
    CONFIG_RULE_NAME,
    ENFORCEMENT,
    ENFORCEMENTS_HELD_BACK_METRIC,
    EVENTS_SWITCH,
    FAILED_INVOCATIONS_QUEUE_URL,
    FUNCTION_ARN,
    FUNCTION_ROLE_ARN,
)

CHANGE_TRIGGERS = frozenset({"ConfigurationItemChangeNotification", "OversizedConfigurationItemChangeNotification"})
TRIGGERS = CHANGE_TRIGGERS | {"ScheduledNotification"}


def expected_triggers(stack_parameters: Mapping[str, str]) -> frozenset[str]:
    """The triggers the templates give the rule: periodic only while the event path is on.

    With ``ReevaluateOnIamChange=true`` every re-evaluation must be one sweep; a change trigger would make
    it one run per user. A stack deployed before the parameter existed has all three.
    """
    if stack_parameters.get(EVENTS_SWITCH, "false").lower() == "true":
        return frozenset({"ScheduledNotification"})
    return TRIGGERS


# The alarm set both stacks create: (namespace, metric, what it means when missing).
FUNCTION_ALARMS = (
    ("AWS/Lambda", "Errors", "failed runs"),
    ("AWS/Lambda", "Throttles", "throttled runs"),
    ("AWS/Lambda", "Invocations", "a rule that went quiet"),
)
QUEUE_ALARM = ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "runs dropped after Lambda's retries")
AWS_MANAGED_SNS_KEY = "alias/aws/sns"
MEMBER_RULE_OK = frozenset({"CREATE_SUCCESSFUL", "UPDATE_SUCCESSFUL"})
# The outputs each template gives, and the checks read: a stack without them is not this project's.
# (rule.yaml's ConfigRuleName output is read when present, --rule-name otherwise: the rule check then
# proves it is the stack's rule by the function it runs.)
ACCOUNT_STACK_OUTPUTS = (FUNCTION_ARN, FAILED_INVOCATIONS_QUEUE_URL)
ORGANIZATION_STACK_OUTPUTS = (FUNCTION_ARN, FUNCTION_ROLE_ARN, FAILED_INVOCATIONS_QUEUE_URL)


class ClientSource(Protocol):
    def client(self, service: str, region: str | None = None) -> BaseClient: ...


class Status(Enum):
    OK = "ok"
    FAIL = "FAIL"
    SKIPPED = "SKIPPED"


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report: ``fix`` is the command for a FAIL; a SKIPPED one's ``detail`` says why."""

    name: str
    status: Status
    detail: str
    fix: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    @classmethod
    def passed(cls, name: str, detail: str) -> Check:
        return cls(name, Status.OK, detail)

    @classmethod
    def failed(cls, name: str, detail: str, fix: str) -> Check:
        return cls(name, Status.FAIL, detail, fix)

    @classmethod
    def skipped(cls, name: str, why: str) -> Check:
        return cls(name, Status.SKIPPED, why)


LABEL_WIDTH = max(len(status.value) for status in Status)


def render_checks(checks: Iterable[Check]) -> str:
    lines = []
    for check in checks:
        lines.append(f"{check.status.value:<{LABEL_WIDTH}}  {check.name}: {check.detail}")
        if check.status is Status.FAIL and check.fix:
            lines.append(f"{'':<{LABEL_WIDTH}}  fix: {check.fix}")
    return "\n".join(lines)


@dataclass(frozen=True)
class _Stack:
    check: Check
    outputs: dict[str, str]
    parameters: dict[str, str]
    missing_outputs: tuple[str, ...]
    status: str | None = None  # None: there is no stack

    @property
    def healthy(self) -> bool:
        return self.status is not None and _healthy(self.status)

    def skip_unless_outputs(self, name: str) -> Check | None:
        """A SKIPPED line for a check that needs the stack's outputs, when it has not all of them."""
        if not self.missing_outputs:
            return None
        if self.status is None:
            return Check.skipped(name, "there is no stack to name the function and queue (see stack)")
        if self.healthy:
            return Check.skipped(name, "the stack is not this project's (see stack)")
        return Check.skipped(name, f"the {self.status} stack has no output {', '.join(self.missing_outputs)}")


def _stack(clients: ClientSource, stack: str, expected: Sequence[str], template: str, deploy_command: str) -> _Stack:
    cloudformation = clients.client("cloudformation")
    try:
        found = call(cloudformation, "DescribeStacks", StackName=stack)["Stacks"][0]
    except AwsCallError as error:  # a missing stack is a finding, not a failure to run
        if "does not exist" not in str(error):
            raise
        check = Check.failed("stack", f"no stack named {stack} in this account and Region", deploy_command)
        return _Stack(check, {}, {}, tuple(expected))
    outputs = {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in found.get("Parameters", [])}
    missing = tuple(key for key in expected if key not in outputs)
    status = found["StackStatus"]
    if not _healthy(status):
        fix = f"aws cloudformation describe-stack-events --stack-name {stack}; then {deploy_command}"
        check = Check.failed("stack", f"{stack} is {status}", fix)
    elif missing:
        check = Check.failed(
            "stack",
            f"{stack} is {status} but not a stack of this project's {template}: it has no output {', '.join(missing)}",
            f"name the rule's stack with --stack NAME (aws cloudformation describe-stacks --query "
            f"'Stacks[].StackName'), or {deploy_command}",
        )
    else:
        check = Check.passed("stack", f"{stack} is {status}")
    return _Stack(check, outputs, parameters, missing, status)


def _healthy(status: str) -> bool:
    return status.endswith("_COMPLETE") and "ROLLBACK" not in status and "DELETE" not in status


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
        return Check.failed("recorder", f"no Config recorder in {region} records {RESOURCE_TYPE}", fix)
    active = [r["name"] for r in recording if statuses.get(r["name"], {}).get("recording")]
    if not active:
        names = ", ".join(r["name"] for r in recording)
        return Check.failed(
            "recorder",
            f"recorder {names} would record {RESOURCE_TYPE} in {region} but is stopped",
            f"aws configservice start-configuration-recorder --configuration-recorder-name {recording[0]['name']} "
            f"--region {region}",
        )
    return Check.passed("recorder", f"{active[0]} records {RESOURCE_TYPE} in {region}")


def describe_rule(config: BaseClient, rule_name: str) -> dict[str, Any] | None:
    try:
        rules = call(config, "DescribeConfigRules", ConfigRuleNames=[rule_name])["ConfigRules"]
    except AwsCallError as error:
        if error.code != "NoSuchConfigRuleException":
            raise
        return None
    return rules[0] if rules else None


def check_rule(
    rule: dict[str, Any] | None,
    rule_name: str,
    function_arn: str,
    redeploy: str,
    triggers: frozenset[str] = TRIGGERS,
) -> Check:
    if rule is None:
        return Check.failed("rule", f"no Config rule named {rule_name}", redeploy)
    source = rule.get("Source", {})
    problems = rule_problems(
        {d.get("MessageType") for d in source.get("SourceDetails", [])},
        rule.get("Scope", {}).get("ComplianceResourceTypes"),
        source.get("SourceIdentifier"),
        function_arn,
        triggers,
    )
    if rule.get("ConfigRuleState", "ACTIVE") != "ACTIVE":
        problems.append(f"state {rule['ConfigRuleState']}")
    return _rule_check("rule", rule_name, problems, redeploy)


def rule_problems(
    triggers: set[Any], scope: Any, runs: str | None, function_arn: str, expected: frozenset[str] = TRIGGERS
) -> list[str]:
    """What is wrong with a rule (an account's or the organization's, each read in its own shape)."""
    problems = []
    if missing := expected - triggers:
        problems.append(f"missing triggers {', '.join(sorted(missing))}")
    if extra := (TRIGGERS - expected) & triggers:
        problems.append(
            f"change triggers ({', '.join(sorted(extra))}) with the event path on: "
            "a re-evaluation may run once per user"
        )
    if scope != [RESOURCE_TYPE]:
        problems.append(f"scope is not {RESOURCE_TYPE}")
    if runs != function_arn:
        problems.append(f"runs {runs}, not the stack's function")
    return problems


def _rule_check(name: str, rule_name: str, problems: list[str], redeploy: str) -> Check:
    if problems:
        return Check.failed(name, f"{rule_name}: " + "; ".join(problems), redeploy)
    return Check.passed(name, f"{rule_name} runs the stack's function, with the expected triggers on {RESOURCE_TYPE}")


def check_last_run(config: BaseClient, rule_name: str, function_name: str) -> Check:
    statuses = call(config, "DescribeConfigRuleEvaluationStatus", ConfigRuleNames=[rule_name])[
        "ConfigRulesEvaluationStatus"
    ]
    status = statuses[0] if statuses else {}
    succeeded: datetime | None = status.get("LastSuccessfulInvocationTime")
    failed: datetime | None = status.get("LastFailedInvocationTime")
    if succeeded is None and failed is None:
        return Check.failed(
            "last run",
            f"{rule_name} has not run yet",
            f"aws configservice start-config-rules-evaluation --config-rule-names {rule_name}",
        )
    if failed is not None and (succeeded is None or failed > succeeded):
        error = f"{status.get('LastErrorCode', '')} {status.get('LastErrorMessage', '')}".strip() or "no message"
        return Check.failed(
            "last run",
            f"failed at {failed:%Y-%m-%d %H:%M} UTC: {error}",
            f"aws logs tail /aws/lambda/{function_name} --since 1d",
        )
    return Check.passed("last run", f"succeeded at {succeeded:%Y-%m-%d %H:%M} UTC")


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
        checks.append(Check.failed("alarms", detail, f"{redeploy} with AlarmEmail=<you@example.com>"))
    else:
        checks.append(Check.passed("alarms", f"{len(wanted)} alarms, each notifying a topic"))
    if not topics:
        checks.append(Check.skipped("alarm topic", "no alarm notifies an SNS topic whose subscribers could be read"))
    sns = clients.client("sns")
    for topic in sorted(topics):
        attributes = call(sns, "GetTopicAttributes", TopicArn=topic)["Attributes"]
        if attributes.get("KmsMasterKeyId") == AWS_MANAGED_SNS_KEY:
            checks.append(
                Check.failed(
                    "alarm topic",
                    f"{topic} is encrypted with {AWS_MANAGED_SNS_KEY}, which CloudWatch alarms cannot publish to",
                    f"aws sns set-topic-attributes --topic-arn {topic} --attribute-name KmsMasterKeyId "
                    "--attribute-value <a customer-managed key that grants cloudwatch.amazonaws.com kms:Decrypt and "
                    "kms:GenerateDataKey*>",
                )
            )
            continue
        subscriptions = collect(sns, "ListSubscriptionsByTopic", "Subscriptions", TopicArn=topic)
        confirmed = [s for s in subscriptions if s.get("SubscriptionArn", "").startswith("arn:")]
        if not confirmed:
            pending = len(subscriptions)
            checks.append(
                Check.failed(
                    "alarm topic",
                    f"{topic} has no confirmed subscription ({pending} pending)",
                    "confirm the e-mail from AWS Notifications, or: aws sns subscribe --topic-arn "
                    f"{topic} --protocol email --notification-endpoint <you@example.com>",
                )
            )
        else:
            checks.append(Check.passed("alarm topic", f"{topic}: {len(confirmed)} confirmed subscription(s)"))
    return checks


def check_failed_runs(sqs: BaseClient, queue_url: str) -> Check:
    attributes = call(sqs, "GetQueueAttributes", QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    waiting = int(attributes["Attributes"]["ApproximateNumberOfMessages"])
    if waiting:
        return Check.failed(
            "failed runs",
            f"{waiting} run(s) failed after Lambda's retries or were dropped",
            f"aws sqs receive-message --queue-url {queue_url} --max-number-of-messages 10 "
            "(each message holds the event and the error)",
        )
    return Check.passed("failed runs", "no run failed for good or was dropped (last 14 days)")


def _function_name(function_arn: str) -> str:
    return function_arn.rsplit(":", 1)[-1]


def _queue_name(queue_url: str) -> str:
    return queue_url.rstrip("/").rsplit("/", 1)[-1]


def check_account_stack(
    clients: ClientSource, stack: str, rule_name: str, region: str, events_stack: str | None = None
) -> list[Check]:
    """stack, recorder, rule, last run, alarms, alarm topic, failed runs, enforcement, trail, event rule."""
    checks = _rule_stack_checks(clients, stack, rule_name, region)
    events = [
        check_trail(clients.client("cloudtrail"), region),
        check_event_rule(clients, events_stack or f"{stack}-events", region),
    ]
    return checks + events


def _rule_stack_checks(clients: ClientSource, stack: str, rule_name: str, region: str) -> list[Check]:
    redeploy = f"make deploy BUCKET=<artifacts bucket> REGION={region}"
    found = _stack(clients, stack, ACCOUNT_STACK_OUTPUTS, "cloudformation/rule.yaml", redeploy)
    config = clients.client("config")
    # The recorder is the account's, not the stack's: it is checked whatever the stack is.
    checks = [found.check, check_recorder(config, region)]
    skipped = found.skip_unless_outputs("rule")
    if skipped:
        checks += [skipped, Check.skipped("last run", "the rule was not checked (see rule)")]
        enforcement = Check.skipped("enforcement", "the rule was not checked (see rule)")
        return checks + _operations_checks(clients, found, redeploy) + [enforcement]
    function_arn = found.outputs[FUNCTION_ARN]
    rule_name = found.outputs.get(CONFIG_RULE_NAME, rule_name)
    rule = describe_rule(config, rule_name)
    checks.append(check_rule(rule, rule_name, function_arn, redeploy, expected_triggers(found.parameters)))
    if rule is None:
        checks.append(Check.skipped("last run", f"there is no rule {rule_name} to have run"))
    else:
        checks.append(check_last_run(config, rule_name, _function_name(function_arn)))
    checks += _operations_checks(clients, found, redeploy)
    if rule is None:
        return checks + [Check.skipped("enforcement", f"there is no rule {rule_name} to remediate")]
    return checks + check_enforcement(clients, found, rule_name, redeploy)


def _operations_checks(clients: ClientSource, found: _Stack, redeploy: str) -> list[Check]:
    """What both stacks share: the alarms, who receives them, and runs that failed for good."""
    skipped = found.skip_unless_outputs("alarms")
    if skipped:
        return [
            skipped,
            Check.skipped("alarm topic", "the alarms were not checked (see alarms)"),
            found.skip_unless_outputs("failed runs") or skipped,
        ]
    queue_url = found.outputs[FAILED_INVOCATIONS_QUEUE_URL]
    function_name = _function_name(found.outputs[FUNCTION_ARN])
    checks = check_alarms(clients, function_name, _queue_name(queue_url), redeploy)
    return checks + [check_failed_runs(clients.client("sqs"), queue_url)]


def _member_role_accounts(cloudformation: BaseClient, stack_set: str, call_as: str) -> set[str] | None:
    """The accounts where the member-role StackSet succeeded, or None when there is no such StackSet."""
    try:
        instances = collect(cloudformation, "ListStackInstances", "Summaries", StackSetName=stack_set, CallAs=call_as)
    except AwsCallError as error:
        if error.code != "StackSetNotFoundException":
            raise
        return None
    return {
        i["Account"]
        for i in instances
        if i.get("StackInstanceStatus", {}).get("DetailedStatus", i.get("Status")) in ("SUCCEEDED", "CURRENT")
    }


def _describe_organization_rule(config: BaseClient, rule_name: str) -> dict[str, Any] | None:
    try:
        rules = call(config, "DescribeOrganizationConfigRules", OrganizationConfigRuleNames=[rule_name])
    except AwsCallError as error:
        if error.code != "NoSuchOrganizationConfigRuleException":
            raise
        return None
    return (rules["OrganizationConfigRules"] or [None])[0]


def check_organization_rule(
    rule: dict[str, Any] | None,
    rule_name: str,
    function_arn: str,
    redeploy: str,
    triggers: frozenset[str] = TRIGGERS,
) -> Check:
    if rule is None:
        return Check.failed("organization rule", f"no organization Config rule named {rule_name}", redeploy)
    metadata = rule.get("OrganizationCustomRuleMetadata", {})
    problems = rule_problems(
        set(metadata.get("OrganizationConfigRuleTriggerTypes", [])),
        metadata.get("ResourceTypesScope"),
        metadata.get("LambdaFunctionArn"),
        function_arn,
        triggers,
    )
    return _rule_check("organization rule", rule_name, problems, redeploy)


def check_member_role(clients: ClientSource, stack: str, call_as: str, redeploy: str) -> tuple[Check, set[str]]:
    """The member-role StackSet, and the accounts where it succeeded."""
    stack_set = f"{stack}-member-role"
    with_role = _member_role_accounts(clients.client("cloudformation"), stack_set, call_as)
    if with_role is None:
        return Check.failed("member role", f"no StackSet named {stack_set} deploys the member role", redeploy), set()
    return Check.passed("member role", f"StackSet {stack_set} deployed it in {len(with_role)} account(s)"), with_role


def check_organization_stack(clients: ClientSource, stack: str, rule_name: str, region: str) -> list[Check]:
    """stack, organization rule, member role, one line per member account, then the alarms and failed runs."""
    redeploy = f"make deploy-organization BUCKET=<artifacts bucket> REGION={region}"
    found = _stack(clients, stack, ORGANIZATION_STACK_OUTPUTS, "cloudformation/organization.yaml", redeploy)
    checks = [found.check]
    skipped = found.skip_unless_outputs("organization rule")
    if skipped:
        checks += [
            skipped,
            found.skip_unless_outputs("member role") or skipped,
            Check.skipped("member accounts", "the organization rule was not checked (see organization rule)"),
        ]
        return checks + _operations_checks(clients, found, redeploy)
    config = clients.client("config")
    rule = _describe_organization_rule(config, rule_name)
    checks.append(
        check_organization_rule(
            rule, rule_name, found.outputs[FUNCTION_ARN], redeploy, expected_triggers(found.parameters)
        )
    )
    role_check, with_role = check_member_role(clients, stack, found.parameters.get("CallAs", "SELF"), redeploy)
    checks.append(role_check)
    if rule is None:
        checks.append(Check.skipped("member accounts", f"there is no organization rule {rule_name} to report them"))
    else:
        checks += _member_account_checks(clients, config, rule_name, found.parameters, with_role, redeploy)
    return checks + _operations_checks(clients, found, redeploy)


def _member_account_checks(
    clients: ClientSource,
    config: BaseClient,
    rule_name: str,
    parameters: dict[str, str],
    with_role: set[str],
    redeploy: str,
) -> list[Check]:
    statuses = collect(
        config,
        "GetOrganizationConfigRuleDetailedStatus",
        "OrganizationConfigRuleDetailedStatus",
        OrganizationConfigRuleName=rule_name,
    )
    if parameters.get("CallAs", "SELF") == "SELF":
        # From the management account, the stack itself creates the role there.
        with_role = with_role | {call(clients.client("sts"), "GetCallerIdentity")["Account"]}
    checks = []
    for status in sorted(statuses, key=lambda s: s["AccountId"]):
        account = status["AccountId"]
        state = status.get("MemberAccountRuleStatus", "UNKNOWN")
        if state not in MEMBER_RULE_OK:
            error = f"{status.get('ErrorCode', '')} {status.get('ErrorMessage', '')}".strip()
            checks.append(
                Check.failed(
                    f"account {account}",
                    f"rule {state}" + (f": {error}" if error else ""),
                    f"aws configservice get-organization-config-rule-detailed-status --organization-config-rule-name "
                    f"{rule_name} --filters AccountId={account}",
                )
            )
        elif account not in with_role:
            checks.append(
                Check.failed(
                    f"account {account}",
                    f"the rule runs here but the member role {parameters.get('MemberRoleName', '')} was not deployed",
                    f"{redeploy} (leaves out accounts the StackSet does not reach), or make deploy-member-role there",
                )
            )
        else:
            checks.append(Check.passed(f"account {account}", f"rule {state}, member role deployed"))
    if not statuses:
        checks.append(Check.failed("member accounts", "the organization rule reports no member account", redeploy))
    return checks


# --- Enforcement (rule.yaml's Enforcement parameter) ---


def check_enforcement(clients: ClientSource, found: _Stack, rule_name: str, redeploy: str) -> list[Check]:
    """Off: one ok line. On: the rule's remediation, its Automatic flag, its SSM document, the daily-limit alarm."""
    mode = found.parameters.get(ENFORCEMENT, "off")
    if mode == "off":
        return [Check.passed("enforcement", "off (the stack's Enforcement parameter): nobody is put into ForceMfa")]
    fix = f"{redeploy} with Enforcement={mode}"
    remediations = call(clients.client("config"), "DescribeRemediationConfigurations", ConfigRuleNames=[rule_name]).get(
        "RemediationConfigurations", []
    )
    if not remediations:
        return [Check.failed("enforcement", f"Enforcement is {mode} but {rule_name} has no remediation", fix)]
    remediation = remediations[0]
    problems = []
    if bool(remediation.get("Automatic", False)) != (mode == "automatic"):
        problems.append(f"Automatic is {remediation.get('Automatic', False)}, not {mode == 'automatic'} ({mode})")
    document = found.outputs.get("EnforcementDocumentName")
    target = remediation.get("TargetId")
    if remediation.get("TargetType") != "SSM_DOCUMENT" or (document and target != document):
        problems.append(f"runs {target}, not the stack's document {document or '(EnforcementDocumentName)'}")
    limit_alarms = call(
        clients.client("cloudwatch"),
        "DescribeAlarmsForMetric",
        Namespace=ENFORCEMENTS_HELD_BACK_METRIC[0],
        MetricName=ENFORCEMENTS_HELD_BACK_METRIC[1],
    )["MetricAlarms"]
    if not limit_alarms:
        problems.append(f"no alarm on {ENFORCEMENTS_HELD_BACK_METRIC[1]} (MaxEnforcementsPerDay reached)")
    if problems:
        return [Check.failed("enforcement", f"{mode}: " + "; ".join(problems), fix)]
    return [
        Check.passed(
            "enforcement",
            f"{mode}: {rule_name}'s remediation runs {target}; an alarm fires when MaxEnforcementsPerDay is reached",
        )
    ]


# --- Events: re-evaluation on IAM change (cloudformation/iam-events.yaml) ---
WRITE_EVENTS = frozenset({"All", "WriteOnly"})


def _logs_management_writes(selectors: dict[str, Any]) -> bool:
    for selector in selectors.get("EventSelectors", []):
        if selector.get("IncludeManagementEvents", True) and selector.get("ReadWriteType", "All") in WRITE_EVENTS:
            return True
    for advanced in selectors.get("AdvancedEventSelectors", []):
        fields = {f["Field"]: f for f in advanced.get("FieldSelectors", [])}
        if "Management" not in fields.get("eventCategory", {}).get("Equals", []):
            continue
        read_only = fields.get("readOnly", {})
        if "true" not in read_only.get("Equals", []) or "false" in read_only.get("NotEquals", []):
            return True
    return False


def check_trail(cloudtrail: BaseClient, region: str) -> Check:
    """A trail that is logging and records management write events: without it no IAM change reaches EventBridge."""
    trails = call(cloudtrail, "DescribeTrails", includeShadowTrails=True)["trailList"]
    stopped = []
    for trail in trails:
        arn = trail["TrailARN"]
        if not _logs_management_writes(call(cloudtrail, "GetEventSelectors", TrailName=arn)):
            continue
        if call(cloudtrail, "GetTrailStatus", Name=arn).get("IsLogging"):
            return Check.passed("trail", f"{trail['Name']} logs management write events")
        stopped.append(trail["Name"])
    why = (
        f"trail {', '.join(stopped)} records management write events but is not logging"
        if stopped
        else "no CloudTrail trail records management write events"
    )
    fix = (
        f"aws cloudtrail start-logging --name {stopped[0]} --region {region}"
        if stopped
        else f"aws cloudtrail create-trail --name management-events --s3-bucket-name <log bucket> "
        f"--is-multi-region-trail --region {region}; aws cloudtrail start-logging --name management-events "
        f"--region {region}"
    )
    return Check.failed("trail", f"{why}: IAM change events cannot arrive (the hourly sweep still runs)", fix)


def check_event_rule(clients: ClientSource, events_stack: str, region: str) -> Check:
    """The event-path stack's EventBridge rule is ENABLED (SKIPPED when that stack was not deployed)."""
    deploy_command = (
        f"aws cloudformation deploy --template-file cloudformation/iam-events.yaml --stack-name {events_stack} "
        "--parameter-overrides CodeBucket=<the rule stack's CodeBucket> CodeKey=<its CodeKey> "
        f"AlarmTopicArn=<its alarm topic> --capabilities CAPABILITY_IAM --region {region}"
    )
    try:
        found = call(clients.client("cloudformation"), "DescribeStacks", StackName=events_stack)["Stacks"][0]
    except AwsCallError as error:
        if "does not exist" not in str(error):
            raise
        return Check.skipped(
            "event rule",
            f"no stack {events_stack} (re-evaluation on IAM change is not deployed; the hourly sweep alone "
            f"keeps Config current): {deploy_command}",
        )
    outputs = {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}
    if "EventRuleArn" not in outputs:
        return Check.skipped("event rule", f"{events_stack} has no output EventRuleArn: not a stack of iam-events.yaml")
    rule_name = outputs["EventRuleArn"].rsplit("/", 1)[-1]
    state = call(clients.client("events"), "DescribeRule", Name=rule_name).get("State")
    if state != "ENABLED":
        return Check.failed(
            "event rule",
            f"{rule_name} is {state}: IAM changes are not re-evaluated (the hourly sweep still runs)",
            f"{deploy_command} ReevaluateOnIamChange=true",
        )
    return Check.passed("event rule", f"{rule_name} is ENABLED")
