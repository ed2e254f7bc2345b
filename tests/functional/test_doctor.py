"""mfa-audit doctor: moto holds the stack, alarms, topic and queue; botocore's Stubber answers the Config
calls moto lacks (rule evaluation status, organization rules), checked against the real service model."""

from datetime import datetime, timezone
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from mfa_audit.doctor import Status, check_account_stack, check_organization_stack, render_checks
from mfa_audit.templates import ENFORCEMENTS_HELD_BACK_METRIC
from tools.deploy.changesets import deploy

from .test_cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_CHECKS = [
    "stack",
    "recorder",
    "rule",
    "last run",
    "alarms",
    "alarm topic",
    "failed runs",
    "enforcement",
    "trail",
    "event rule",
]
REGION = "us-east-1"
STACK = "iam-user-console-mfa"
RULE = "IAM_USER_CONSOLE_MFA"
FUNCTION = f"{STACK}-iam-user-console-mfa"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:123456789012:function:{FUNCTION}"
TRIGGERS = [
    {"EventSource": "aws.config", "MessageType": "ConfigurationItemChangeNotification"},
    {"EventSource": "aws.config", "MessageType": "OversizedConfigurationItemChangeNotification"},
    {
        "EventSource": "aws.config",
        "MessageType": "ScheduledNotification",
        "MaximumExecutionFrequency": "TwentyFour_Hours",
    },
]
# What the templates give the rule while the event path is on (ReevaluateOnIamChange, the default).
PERIODIC_ONLY = TRIGGERS[2:]
EARLIER = datetime(2026, 11, 28, 6, 0, tzinfo=timezone.utc)
LATER = datetime(2026, 11, 29, 6, 0, tzinfo=timezone.utc)
pytestmark = pytest.mark.filterwarnings("ignore")


class Clients:
    """moto's clients, except the ones a test replaces with stubbed ones."""

    def __init__(self, **replaced):
        self.replaced = replaced

    def client(self, service, region=None):
        if service == "cloudtrail" and service not in self.replaced:
            return _stubbed_cloudtrail()
        return self.replaced.get(service) or boto3.client(service, region_name=REGION)


def _deployed_stack(template, parameters, stack=STACK):
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="artifacts")
    s3.put_object(Bucket="artifacts", Key="code.zip", Body=b"never run here")
    body = (ROOT / "cloudformation" / template).read_text()
    deploy(boto3.client("cloudformation", region_name=REGION), stack, body, parameters, say=lambda _: None)
    outputs = boto3.client("cloudformation", region_name=REGION).describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in outputs["Outputs"]}


def _stack_topic():
    # moto leaves out outputs whose condition combines others (AlarmTopicArn); the stack made one topic.
    (topic,) = boto3.client("sns", region_name=REGION).list_topics()["Topics"]
    return topic["TopicArn"]


def _alarms(outputs, skip=(), topic=None):
    """The four alarms as the template defines them (moto's CloudFormation does not create alarms)."""
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    queue_name = outputs["FailedInvocationsQueueUrl"].rsplit("/", 1)[-1]
    wanted = [
        ("Errors", "AWS/Lambda", "FunctionName", FUNCTION),
        ("Throttles", "AWS/Lambda", "FunctionName", FUNCTION),
        ("Invocations", "AWS/Lambda", "FunctionName", FUNCTION),
        ("ApproximateNumberOfMessagesVisible", "AWS/SQS", "QueueName", queue_name),
    ]
    for metric, namespace, dimension, value in wanted:
        if metric in skip:
            continue
        cloudwatch.put_metric_alarm(
            AlarmName=f"{STACK}-{metric}",
            Namespace=namespace,
            MetricName=metric,
            Dimensions=[{"Name": dimension, "Value": value}],
            Statistic="Sum",
            Period=300,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            AlarmActions=[topic or _stack_topic()],
        )


def _stubbed_config(recording_group=None, recording=True, triggers=PERIODIC_ONLY, evaluation_status=None, rule=True):
    config = boto3.client("config", region_name=REGION)
    stubber = Stubber(config)
    group = recording_group or {"allSupported": True, "includeGlobalResourceTypes": True}
    stubber.add_response(
        "describe_configuration_recorders",
        {
            "ConfigurationRecorders": [
                {"name": "default", "roleARN": "arn:aws:iam::123456789012:role/c", "recordingGroup": group}
            ]
        },
    )
    stubber.add_response(
        "describe_configuration_recorder_status",
        {"ConfigurationRecordersStatus": [{"name": "default", "recording": recording}]},
    )
    if not rule:
        stubber.add_client_error(
            "describe_config_rules", "NoSuchConfigRuleException", "The ConfigRule provided is not found.", 400
        )
        stubber.activate()
        return config
    stubber.add_response(
        "describe_config_rules",
        {
            "ConfigRules": [
                {
                    "ConfigRuleName": RULE,
                    "Scope": {"ComplianceResourceTypes": ["AWS::IAM::User"]},
                    "Source": {"Owner": "CUSTOM_LAMBDA", "SourceIdentifier": FUNCTION_ARN, "SourceDetails": triggers},
                    "ConfigRuleState": "ACTIVE",
                }
            ]
        },
        {"ConfigRuleNames": [RULE]},
    )
    if evaluation_status is None:
        evaluation_status = {"LastSuccessfulInvocationTime": LATER}
    status = {"ConfigRuleName": RULE, **evaluation_status}
    stubber.add_response(
        "describe_config_rule_evaluation_status", {"ConfigRulesEvaluationStatus": [status]}, {"ConfigRuleNames": [RULE]}
    )
    stubber.activate()
    config._stubber_for_test = stubber
    return config


@pytest.fixture
def healthy_account(aws):
    outputs = _deployed_stack(
        "rule.yaml", {"CodeBucket": "artifacts", "CodeKey": "code.zip", "AlarmEmail": "secops@example.com"}
    )
    _alarms(outputs)
    _deployed_stack("iam-events.yaml", {"CodeBucket": "artifacts", "CodeKey": "code.zip"}, stack=f"{STACK}-events")
    return outputs


def _stubbed_cloudtrail(logging=True, read_write="All", trail=True):
    """The project's CloudTrail emulation answers LookupEvents only: the trail reads are stubbed."""
    cloudtrail = boto3.client("cloudtrail", region_name=REGION)
    stubber = Stubber(cloudtrail)
    arn = f"arn:aws:cloudtrail:{REGION}:123456789012:trail/management"
    trails = [{"Name": "management", "TrailARN": arn}] if trail else []
    stubber.add_response("describe_trails", {"trailList": trails}, {"includeShadowTrails": True})
    if trail:
        selectors = [{"ReadWriteType": read_write, "IncludeManagementEvents": True}]
        stubber.add_response("get_event_selectors", {"EventSelectors": selectors}, {"TrailName": arn})
        if read_write != "ReadOnly":
            stubber.add_response("get_trail_status", {"IsLogging": logging}, {"Name": arn})
    stubber.activate()
    return cloudtrail


def _by_name(checks):
    return {check.name: check for check in checks}


def test_a_healthy_deployment_passes_every_check(healthy_account):
    checks = check_account_stack(Clients(config=_stubbed_config()), STACK, RULE, REGION)
    assert [c.name for c in checks] == ACCOUNT_CHECKS
    assert all(c.ok for c in checks), render_checks(checks)
    report = render_checks(checks)
    assert (
        "ok       rule: IAM_USER_CONSOLE_MFA runs the stack's function, with the expected triggers on AWS::IAM::User"
        in report
    )
    assert "fix:" not in report and "SKIPPED" not in report


def test_a_rule_missing_its_scheduled_trigger_fails_naming_it(healthy_account):
    checks = _by_name(check_account_stack(Clients(config=_stubbed_config(triggers=TRIGGERS[:2])), STACK, RULE, REGION))
    assert not checks["rule"].ok
    assert "ScheduledNotification" in checks["rule"].detail and "make deploy" in checks["rule"].fix


def test_a_rule_that_kept_its_change_triggers_with_the_event_path_on_fails_naming_the_cost(healthy_account):
    checks = _by_name(check_account_stack(Clients(config=_stubbed_config(triggers=TRIGGERS)), STACK, RULE, REGION))
    assert not checks["rule"].ok
    assert "once per user" in checks["rule"].detail and "ConfigurationItemChangeNotification" in checks["rule"].detail


def test_with_the_event_path_off_the_rule_needs_all_three_triggers(aws):
    outputs = _deployed_stack(
        "rule.yaml",
        {
            "CodeBucket": "artifacts",
            "CodeKey": "code.zip",
            "AlarmEmail": "x@example.com",
            "ReevaluateOnIamChange": "false",
        },
    )
    _alarms(outputs)
    periodic = _by_name(check_account_stack(Clients(config=_stubbed_config()), STACK, RULE, REGION))
    assert not periodic["rule"].ok and "missing triggers ConfigurationItemChangeNotification" in periodic["rule"].detail
    every = _by_name(check_account_stack(Clients(config=_stubbed_config(triggers=TRIGGERS)), STACK, RULE, REGION))
    assert every["rule"].ok


def test_a_failed_last_run_shows_the_error_and_where_to_read_more(healthy_account):
    status = {
        "LastSuccessfulInvocationTime": EARLIER,
        "LastFailedInvocationTime": LATER,
        "LastErrorCode": "MissingPermissionError",
        "LastErrorMessage": "Access denied for iam:ListMFADevices",
    }
    checks = _by_name(
        check_account_stack(Clients(config=_stubbed_config(evaluation_status=status)), STACK, RULE, REGION)
    )
    assert not checks["last run"].ok
    assert "iam:ListMFADevices" in checks["last run"].detail
    assert checks["last run"].fix == f"aws logs tail /aws/lambda/{FUNCTION} --since 1d"


def test_a_rule_that_never_ran_says_how_to_start_it(healthy_account):
    checks = _by_name(check_account_stack(Clients(config=_stubbed_config(evaluation_status={})), STACK, RULE, REGION))
    assert not checks["last run"].ok
    assert "start-config-rules-evaluation --config-rule-names IAM_USER_CONSOLE_MFA" in checks["last run"].fix


@pytest.mark.parametrize(
    ("group", "recording", "problem"),
    [
        ({"allSupported": True, "includeGlobalResourceTypes": False}, True, "no Config recorder"),
        ({"allSupported": False, "resourceTypes": ["AWS::S3::Bucket"]}, True, "no Config recorder"),
        (
            {
                "recordingStrategy": {"useOnly": "EXCLUSION_BY_RESOURCE_TYPES"},
                "exclusionByResourceTypes": {"resourceTypes": ["AWS::IAM::User"]},
            },
            True,
            "no Config recorder",
        ),
        ({"allSupported": False, "resourceTypes": ["AWS::IAM::User"]}, False, "is stopped"),
    ],
    ids=["global-types-off", "iam-not-included", "iam-excluded", "stopped"],
)
def test_a_recorder_that_does_not_record_iam_users_fails_with_the_command(healthy_account, group, recording, problem):
    config = _stubbed_config(recording_group=group, recording=recording)
    checks = _by_name(check_account_stack(Clients(config=config), STACK, RULE, REGION))
    assert not checks["recorder"].ok and problem in checks["recorder"].detail
    assert "aws configservice" in checks["recorder"].fix


def test_a_missing_throttles_alarm_fails(aws):
    outputs = _deployed_stack(
        "rule.yaml", {"CodeBucket": "artifacts", "CodeKey": "code.zip", "AlarmEmail": "a@example.com"}
    )
    _alarms(outputs, skip=("Throttles",))
    checks = _by_name(check_account_stack(Clients(config=_stubbed_config()), STACK, RULE, REGION))
    assert not checks["alarms"].ok and "Throttles" in checks["alarms"].detail


def test_alarms_to_a_topic_on_the_aws_managed_key_fail(aws):
    outputs = _deployed_stack("rule.yaml", {"CodeBucket": "artifacts", "CodeKey": "code.zip"})
    sns = boto3.client("sns", region_name=REGION)
    topic = sns.create_topic(Name="old", Attributes={"KmsMasterKeyId": "alias/aws/sns"})["TopicArn"]
    _alarms(outputs, topic=topic)
    checks = _by_name(check_account_stack(Clients(config=_stubbed_config()), STACK, RULE, REGION))
    assert not checks["alarm topic"].ok and "cannot publish" in checks["alarm topic"].detail


def test_an_unconfirmed_subscription_fails(healthy_account):
    topic = _stack_topic()
    sns = boto3.client("sns", region_name=REGION)
    stubber = Stubber(sns)
    stubber.add_response("get_topic_attributes", {"Attributes": {"TopicArn": topic}}, {"TopicArn": topic})
    stubber.add_response(
        "list_subscriptions_by_topic",
        {"Subscriptions": [{"SubscriptionArn": "PendingConfirmation", "Protocol": "email", "TopicArn": topic}]},
        {"TopicArn": topic},
    )
    stubber.activate()
    checks = _by_name(check_account_stack(Clients(config=_stubbed_config(), sns=sns), STACK, RULE, REGION))
    assert not checks["alarm topic"].ok and "1 pending" in checks["alarm topic"].detail


def test_runs_waiting_in_the_failed_invocations_queue_fail(healthy_account):
    boto3.client("sqs", region_name=REGION).send_message(
        QueueUrl=healthy_account["FailedInvocationsQueueUrl"],
        MessageBody='{"requestContext": {"condition": "RetriesExhausted"}}',
    )
    checks = _by_name(check_account_stack(Clients(config=_stubbed_config()), STACK, RULE, REGION))
    assert not checks["failed runs"].ok and checks["failed runs"].detail.startswith("1 run(s)")


def test_no_stack_fails_saying_how_to_deploy_and_lists_every_check_it_could_not_make(aws):
    checks = check_account_stack(Clients(), STACK, RULE, REGION)
    assert [c.name for c in checks] == ACCOUNT_CHECKS
    assert checks[0].status is Status.FAIL and checks[0].fix.startswith("make deploy")
    assert checks[1].status is Status.FAIL and "no Config recorder" in checks[1].detail  # the account's, checked
    # The trail is the account's and the event path a stack of its own: both are checked without the rule's stack.
    skipped = [c for c in checks[2:] if c.name not in ("trail", "event rule")]
    assert {c.status for c in skipped} == {Status.SKIPPED}
    assert all("there is no stack" in c.detail or "not checked" in c.detail for c in skipped)
    assert all(c.fix is None for c in skipped)
    event_rule = checks[ACCOUNT_CHECKS.index("event rule")]
    assert event_rule.status is Status.SKIPPED and "iam-events.yaml" in event_rule.detail


def test_a_missing_rule_fails_and_its_last_run_is_skipped_not_read(healthy_account):
    checks = _by_name(check_account_stack(Clients(config=_stubbed_config(rule=False)), STACK, RULE, REGION))
    assert checks["rule"].status is Status.FAIL and "no Config rule named IAM_USER_CONSOLE_MFA" in checks["rule"].detail
    assert checks["last run"].status is Status.SKIPPED and "no rule" in checks["last run"].detail
    assert checks["alarms"].ok and checks["failed runs"].ok


def test_alarms_that_notify_no_topic_leave_the_topic_check_skipped(aws):
    outputs = _deployed_stack("rule.yaml", {"CodeBucket": "artifacts", "CodeKey": "code.zip"})
    _alarms(outputs, topic=f"arn:aws:sns:{REGION}:123456789012:replaced-below")
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    for alarm in cloudwatch.describe_alarms()["MetricAlarms"]:
        settings = {key: alarm[key] for key in ("AlarmName", "Namespace", "MetricName", "Dimensions", "Statistic")}
        cloudwatch.put_metric_alarm(
            **settings,
            Period=300,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            AlarmActions=[],
        )
    checks = _by_name(check_account_stack(Clients(config=_stubbed_config()), STACK, RULE, REGION))
    assert checks["alarms"].status is Status.FAIL and "notify no one" in checks["alarms"].detail
    assert checks["alarm topic"].status is Status.SKIPPED


def test_a_skipped_check_is_printed_with_why_and_no_fix_line():
    from mfa_audit.doctor import Check

    report = render_checks([Check.passed("stack", "s is CREATE_COMPLETE"), Check.skipped("rule", "no rule name")])
    assert report.splitlines() == ["ok       stack: s is CREATE_COMPLETE", "SKIPPED  rule: no rule name"]


# --- the organization stack ---


def test_organization_doctor_reports_each_member_account(aws):
    outputs = _deployed_stack(
        "organization.yaml",
        {
            "CodeBucket": "artifacts",
            "CodeKey": "code.zip",
            "OrganizationId": "o-abcdefghij",
            "MemberRoleTemplateUrl": "https://artifacts.s3.us-east-1.amazonaws.com/member-role.yaml",
            "DeploymentOrganizationalUnitIds": "r-ab12",
            "CallAs": "DELEGATED_ADMIN",
            "AlarmEmail": "secops@example.com",
        },
    )
    _alarms(outputs)
    config = boto3.client("config", region_name=REGION)
    config_stub = Stubber(config)
    config_stub.add_response(
        "describe_organization_config_rules",
        {
            "OrganizationConfigRules": [
                {
                    "OrganizationConfigRuleName": RULE,
                    "OrganizationConfigRuleArn": f"arn:aws:config:{REGION}:123456789012:organization-config-rule/{RULE}-x",
                    "OrganizationCustomRuleMetadata": {
                        "LambdaFunctionArn": FUNCTION_ARN,
                        # Periodic only: the organization stack's event path is on by default.
                        "OrganizationConfigRuleTriggerTypes": ["ScheduledNotification"],
                        "ResourceTypesScope": ["AWS::IAM::User"],
                    },
                }
            ]
        },
        {"OrganizationConfigRuleNames": [RULE]},
    )
    config_stub.add_response(
        "get_organization_config_rule_detailed_status",
        {
            "OrganizationConfigRuleDetailedStatus": [
                {
                    "AccountId": "111111111111",
                    "ConfigRuleName": "OrgConfigRule-x",
                    "MemberAccountRuleStatus": "CREATE_SUCCESSFUL",
                },
                {
                    "AccountId": "222222222222",
                    "ConfigRuleName": "OrgConfigRule-x",
                    "MemberAccountRuleStatus": "CREATE_FAILED",
                    "ErrorCode": "NoAvailableConfigurationRecorderException",
                    "ErrorMessage": "no recorder",
                },
                {
                    "AccountId": "333333333333",
                    "ConfigRuleName": "OrgConfigRule-x",
                    "MemberAccountRuleStatus": "CREATE_SUCCESSFUL",
                },
            ]
        },
        {"OrganizationConfigRuleName": RULE},
    )
    config_stub.activate()
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    real_stack = cloudformation.describe_stacks(StackName=STACK)
    cloudformation_stub = Stubber(cloudformation)
    cloudformation_stub.add_response("describe_stacks", real_stack, {"StackName": STACK})
    cloudformation_stub.add_response(
        "list_stack_instances",
        {
            "Summaries": [
                {
                    "StackSetId": "s:1",
                    "Region": REGION,
                    "Account": "111111111111",
                    "Status": "CURRENT",
                    "StackInstanceStatus": {"DetailedStatus": "SUCCEEDED"},
                },
                {
                    "StackSetId": "s:1",
                    "Region": REGION,
                    "Account": "222222222222",
                    "Status": "CURRENT",
                    "StackInstanceStatus": {"DetailedStatus": "SUCCEEDED"},
                },
            ]
        },
        {"StackSetName": f"{STACK}-member-role", "CallAs": "DELEGATED_ADMIN"},
    )
    cloudformation_stub.activate()
    listed = check_organization_stack(Clients(config=config, cloudformation=cloudformation), STACK, RULE, REGION)
    assert Status.SKIPPED not in {c.status for c in listed}, render_checks(listed)
    checks = _by_name(listed)
    assert checks["organization rule"].ok and checks["member role"].ok
    assert checks["account 111111111111"].ok
    assert (
        not checks["account 222222222222"].ok
        and "NoAvailableConfigurationRecorder" in checks["account 222222222222"].detail
    )
    assert not checks["account 333333333333"].ok and "member role" in checks["account 333333333333"].detail
    assert checks["alarms"].ok and checks["failed runs"].ok


# --- the command ---


def test_doctor_exits_1_on_an_account_without_the_stack(moto_server):
    _, env = moto_server
    done = run_cli("doctor", "--region", REGION, env=env)
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("FAIL     stack: no stack named iam-user-console-mfa")


def _stack_of_someone_else(endpoint, name):
    """A healthy stack that is not this project's: one SNS topic, no outputs."""
    template = '{"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}'
    cloudformation = boto3.client(
        "cloudformation", endpoint_url=endpoint, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )  # noqa: S106
    cloudformation.create_stack(StackName=name, TemplateBody=template)


@pytest.mark.parametrize("organization", [False, True], ids=["account", "organization"])
def test_doctor_fails_a_stack_that_is_not_this_projects_and_skips_what_it_cannot_check(moto_server, organization):
    _, env = moto_server
    _stack_of_someone_else(env["AWS_ENDPOINT_URL"], "someone-elses")
    flags = ["--organization"] if organization else []
    done = run_cli("doctor", "--stack", "someone-elses", "--region", REGION, *flags, env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("FAIL     stack: someone-elses is CREATE_COMPLETE but not a stack of this project's")
    assert "no output FunctionArn" in lines[0]
    assert not [line for line in lines if line.startswith("ok ") and "stack:" in line]
    skipped = [line for line in lines if line.startswith("SKIPPED  ")]
    names = {"organization rule", "member accounts"} if organization else {"rule", "last run"}
    assert {line.split(":")[0].removeprefix("SKIPPED  ") for line in skipped} >= names | {"alarms", "failed runs"}


def test_doctor_exits_1_when_a_check_is_skipped_even_if_nothing_failed(aws, monkeypatch):
    from mfa_audit import cli, doctor
    from mfa_audit.doctor import Check

    listed = [Check.passed("stack", "iam-user-console-mfa is CREATE_COMPLETE"), Check.skipped("rule", "why")]
    monkeypatch.setattr(doctor, "check_account_stack", lambda *_: listed)
    assert cli.main(["doctor", "--quiet"]) == 1


def test_doctor_exits_2_when_it_cannot_run(tmp_path):
    done = run_cli(
        "doctor",
        "--region",
        REGION,
        env={"AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")},
    )
    assert done.returncode == 2
    assert "no AWS credentials" in done.stderr


def test_a_healthy_deployment_with_enforcement_off_says_so(healthy_account):
    checks = _by_name(check_account_stack(Clients(config=_stubbed_config()), STACK, RULE, REGION))
    assert checks["enforcement"].ok and "off" in checks["enforcement"].detail
    assert checks["trail"].ok and checks["event rule"].ok, render_checks(checks.values())


def _with_enforcement(stubber, remediations):
    stubber.add_response(
        "describe_remediation_configurations", {"RemediationConfigurations": remediations}, {"ConfigRuleNames": [RULE]}
    )


def _enforcing_stack(monkeypatch, mode):
    from mfa_audit import doctor

    original = doctor._stack

    def with_enforcement(*args, **kwargs):
        found = original(*args, **kwargs)
        outputs = {**found.outputs, "EnforcementDocumentName": "enforce-doc"}
        parameters = {**found.parameters, "Enforcement": mode}
        return doctor._Stack(found.check, outputs, parameters, found.missing_outputs, found.status)

    monkeypatch.setattr(doctor, "_stack", with_enforcement)


def _config_with_remediations(remediations):
    config = _stubbed_config()
    stubber = config._stubber_for_test
    _with_enforcement(stubber, remediations)
    return config


REMEDIATION = {"ConfigRuleName": RULE, "TargetType": "SSM_DOCUMENT", "TargetId": "enforce-doc", "Automatic": True}


def test_enforcement_on_without_a_remediation_fails(healthy_account, monkeypatch):
    _enforcing_stack(monkeypatch, "automatic")
    checks = _by_name(check_account_stack(Clients(config=_config_with_remediations([])), STACK, RULE, REGION))
    assert not checks["enforcement"].ok and "has no remediation" in checks["enforcement"].detail
    assert "Enforcement=automatic" in checks["enforcement"].fix


def test_manual_enforcement_with_an_automatic_remediation_fails(healthy_account, monkeypatch):
    _enforcing_stack(monkeypatch, "manual")
    config = _config_with_remediations([REMEDIATION])
    checks = _by_name(check_account_stack(Clients(config=config), STACK, RULE, REGION))
    assert not checks["enforcement"].ok and "Automatic is True" in checks["enforcement"].detail


def test_automatic_enforcement_with_its_document_and_limit_alarm_passes(healthy_account, monkeypatch):
    _enforcing_stack(monkeypatch, "automatic")
    boto3.client("cloudwatch", region_name=REGION).put_metric_alarm(
        AlarmName="limit",
        Namespace=ENFORCEMENTS_HELD_BACK_METRIC[0],
        MetricName=ENFORCEMENTS_HELD_BACK_METRIC[1],
        Statistic="Sum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    checks = _by_name(
        check_account_stack(Clients(config=_config_with_remediations([REMEDIATION])), STACK, RULE, REGION)
    )
    assert checks["enforcement"].ok, checks["enforcement"]


def test_without_a_trail_events_cannot_arrive(aws):
    from mfa_audit.doctor import check_trail

    check = check_trail(_stubbed_cloudtrail(trail=False), REGION)
    assert not check.ok and "cannot arrive" in check.detail and "hourly sweep still runs" in check.detail
    assert "create-trail" in check.fix


def test_a_trail_that_is_not_logging_fails_with_start_logging(aws):
    from mfa_audit.doctor import check_trail

    check = check_trail(_stubbed_cloudtrail(logging=False), REGION)
    assert not check.ok and "not logging" in check.detail
    assert check.fix.startswith("aws cloudtrail start-logging --name management")


def test_a_trail_of_read_events_only_does_not_count(aws):
    from mfa_audit.doctor import check_trail

    assert not check_trail(_stubbed_cloudtrail(read_write="ReadOnly"), REGION).ok


def test_a_disabled_event_rule_fails(healthy_account):
    from mfa_audit.doctor import check_event_rule

    events = boto3.client("events", region_name=REGION)
    (rule,) = [r["Name"] for r in events.list_rules()["Rules"]]
    events.disable_rule(Name=rule)
    check = check_event_rule(Clients(), f"{STACK}-events", REGION)
    assert check.status is Status.FAIL and "DISABLED" in check.detail
    assert "ReevaluateOnIamChange=true" in check.fix


def test_no_event_stack_is_skipped_with_the_deploy_command(aws):
    from mfa_audit.doctor import check_event_rule

    check = check_event_rule(Clients(), f"{STACK}-events", REGION)
    assert check.status is Status.SKIPPED and "cloudformation/iam-events.yaml" in check.detail
