"""Deployment: a reproducible zip that runs, a template wired as documented, and least privilege."""

import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from mfa_audit.templates import Template, load_body
from tools.deploy.artifacts import upload
from tools.deploy.aws import DeployError, StillRunning
from tools.deploy.changesets import Plan, Waiting, deploy, follow_stack
from tools.deploy.parameters import parameters_from_words
from tools.deploy.stacksets import StackSetWatch
from tools.package_lambda import build, project_version

from .recorded_run import record_every_path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_TEXT = (ROOT / "cloudformation" / "rule.yaml").read_text()
TEMPLATE = load_body(TEMPLATE_TEXT)
RESOURCES = TEMPLATE["Resources"]


@pytest.fixture(scope="module")
def lambda_zip(tmp_path_factory):
    return build(tmp_path_factory.mktemp("dist") / "rule.zip"), tmp_path_factory.getbasetemp()


def test_zip_is_byte_identical_when_rebuilt(tmp_path):
    first = build(tmp_path / "first.zip")
    second = build(tmp_path / "second.zip")
    assert first == second
    assert hashlib.sha256((tmp_path / "first.zip").read_bytes()).hexdigest() == first


def test_zip_holds_the_rule_and_rdklib_only(tmp_path):
    build(tmp_path / "rule.zip")
    names = zipfile.ZipFile(tmp_path / "rule.zip").namelist()
    assert "IAM_USER_CONSOLE_MFA.py" in names and "console_mfa/verdict.py" in names
    assert "rdklib/evaluation.py" in names
    assert not [n for n in names if n.startswith(("boto3/", "botocore/", "tests/", "rdklibtest/", "mfa_audit/"))]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or ".egg-info" in n]
    assert "IAM_USER_CONSOLE_MFA_test.py" not in names


def test_zip_leaves_out_files_git_does_not_track(tmp_path):
    # A copy of the rule folder in a repository of its own, with a stray secret beside the code.
    rule_dir = tmp_path / "repo" / "IAM_USER_CONSOLE_MFA"
    shutil.copytree(ROOT / "rules" / "IAM_USER_CONSOLE_MFA", rule_dir, ignore=shutil.ignore_patterns("__pycache__"))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=rule_dir.parent, check=True)
    subprocess.run([*git, "add", "."], cwd=rule_dir.parent, check=True)
    subprocess.run([*git, "commit", "-qm", "rule"], cwd=rule_dir.parent, check=True)
    (rule_dir / ".env").write_text("AWS_SECRET_ACCESS_KEY=not-for-the-zip\n")
    (rule_dir / "console_mfa" / "scratch.py").write_text("print('untracked')\n")
    build(tmp_path / "rule.zip", rule_dir=rule_dir)
    archive = zipfile.ZipFile(tmp_path / "rule.zip")
    names = archive.namelist()
    assert ".env" not in names and "console_mfa/scratch.py" not in names
    assert "IAM_USER_CONSOLE_MFA.py" in names and "console_mfa/verdict.py" in names
    assert not any(b"not-for-the-zip" in archive.read(name) for name in names)


def test_zip_refuses_to_build_outside_a_git_checkout(tmp_path):
    rule_dir = tmp_path / "IAM_USER_CONSOLE_MFA"
    shutil.copytree(ROOT / "rules" / "IAM_USER_CONSOLE_MFA", rule_dir)
    with pytest.raises(SystemExit, match="git"):
        build(tmp_path / "rule.zip", rule_dir=rule_dir)


def _run_offline(script: str) -> subprocess.CompletedProcess:
    """``script`` in a fresh interpreter, with fake credentials (it runs against moto)."""
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID="x",
        AWS_SECRET_ACCESS_KEY="x",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
    )
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)


def test_zip_imports_and_runs_the_handler(tmp_path):
    build(tmp_path / "rule.zip")
    script = textwrap.dedent(f"""
        import sys, json
        sys.path.insert(0, {str(tmp_path / "rule.zip")!r})
        from moto import mock_aws
        import boto3
        import console_mfa, IAM_USER_CONSOLE_MFA
        assert console_mfa.__file__.startswith({str(tmp_path / "rule.zip")!r}), console_mfa.__file__
        from mfa_audit.emulation.services import EmulatedCloudTrail, EmulatedConfig
        from mfa_audit.emulation.events import scheduled_event
        with mock_aws(), EmulatedCloudTrail(), EmulatedConfig("IAM_USER_CONSOLE_MFA") as config:
            iam = boto3.client("iam")
            iam.create_user(UserName="bob")
            iam.create_login_profile(UserName="bob", Password="Emulated-Passw0rd!")
            print(json.dumps(IAM_USER_CONSOLE_MFA.lambda_handler(scheduled_event(), None)))
    """)
    completed = _run_offline(script)
    assert completed.returncode == 0, completed.stderr
    assert '"NON_COMPLIANT": 1' in completed.stdout


def test_the_zip_carries_the_version_and_the_handler_logs_it_without_package_metadata(tmp_path):
    build(tmp_path / "rule.zip")
    assert zipfile.ZipFile(tmp_path / "rule.zip").read("console_mfa/VERSION").decode().strip() == project_version()
    script = textwrap.dedent(f"""
        import sys, json, logging
        from importlib import metadata
        installed = metadata.version
        def ours_not_installed(name):  # as in Lambda: no metadata of this project's package, only the zip
            if name == "iam-user-console-mfa":
                raise metadata.PackageNotFoundError(name)
            return installed(name)
        metadata.version = ours_not_installed
        sys.path.insert(0, {str(tmp_path / "rule.zip")!r})
        records = []
        logging.getLogger("console_mfa").addHandler(type("H", (logging.Handler,), {{"emit": lambda s, r: records.append(r)}})())
        from moto import mock_aws
        import IAM_USER_CONSOLE_MFA
        from mfa_audit.emulation.services import EmulatedCloudTrail, EmulatedConfig
        from mfa_audit.emulation.events import scheduled_event
        with mock_aws(), EmulatedCloudTrail(), EmulatedConfig("IAM_USER_CONSOLE_MFA"):
            IAM_USER_CONSOLE_MFA.lambda_handler(scheduled_event(), None)
        (line,) = [json.loads(r.getMessage()) for r in records if r.getMessage().startswith("{{")]
        print(line["version"])
    """)
    completed = _run_offline(script)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip().splitlines()[-1] == project_version()


def test_without_the_event_path_the_rule_has_all_three_triggers_and_iam_user_scope():
    # With the event path on (the default) the rule is periodic-only: tests/unit/test_rule_triggers.py.
    given = {"CodeBucket": "artifacts", "ReevaluateOnIamChange": "false", "MaximumExecutionFrequency": "Six_Hours"}
    rule = Template.load("rule.yaml").resolve(given).resources["ConfigRule"]["Properties"]
    assert rule["Scope"] == {"ComplianceResourceTypes": ["AWS::IAM::User"]}
    assert rule["Source"]["Owner"] == "CUSTOM_LAMBDA"
    assert rule["Source"]["SourceIdentifier"] == "getatt:Function.Arn"
    kinds = {detail["MessageType"]: detail for detail in rule["Source"]["SourceDetails"]}
    assert set(kinds) == {
        "ConfigurationItemChangeNotification",
        "OversizedConfigurationItemChangeNotification",
        "ScheduledNotification",
    }
    assert kinds["ScheduledNotification"]["MaximumExecutionFrequency"] == "Six_Hours"


def test_every_rule_parameter_is_passed_through_with_the_codes_validation():
    from console_mfa.policy import MAX_GRACE_PERIOD_DAYS, RULE_PARAMETERS

    passed = RESOURCES["ConfigRule"]["Properties"]["InputParameters"]
    assert set(RULE_PARAMETERS) <= set(passed)
    grace = TEMPLATE["Parameters"]["GracePeriodDays"]
    assert (grace["MinValue"], grace["MaxValue"]) == (0, MAX_GRACE_PERIOD_DAYS)
    import re

    allowed = re.compile(TEMPLATE["Parameters"]["AllowedMfaTypes"]["AllowedPattern"])
    assert allowed.match("fido") and allowed.match("virtual,hardware,fido")
    assert not allowed.match("sms") and not allowed.match("fido,")
    exempt = re.compile(TEMPLATE["Parameters"]["ExemptUsers"]["AllowedPattern"])
    assert exempt.match("") and exempt.match("alice, bob") and exempt.match("arn:aws:iam::123456789012:user/ops/alice")
    assert not exempt.match("alice,,bob") and not exempt.match("alice,")


def test_only_config_of_this_account_may_invoke_the_function():
    permission = RESOURCES["ConfigInvokePermission"]["Properties"]
    assert permission["Principal"] == "config.amazonaws.com"
    assert permission["SourceAccount"] == {"Ref": "AWS::AccountId"}


def test_alarms_watch_errors_and_silence():
    errors = RESOURCES["FunctionErrorsAlarm"]["Properties"]
    assert errors["MetricName"] == "Errors" and errors["Namespace"] == "AWS/Lambda"
    assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "Function"}}]
    silent = RESOURCES["FunctionSilentAlarm"]["Properties"]
    assert silent["MetricName"] == "Invocations" and silent["TreatMissingData"] == "breaching"


def test_function_runtime_timeout_and_retry_settings():
    function = RESOURCES["Function"]["Properties"]
    assert function["Runtime"] == "python3.12"
    assert function["Handler"] == "IAM_USER_CONSOLE_MFA.lambda_handler"
    assert function["Timeout"] == 900
    assert function["Environment"]["Variables"]["AWS_RETRY_MODE"] == "adaptive"
    assert RESOURCES["FunctionLogGroup"]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def _granted_actions():
    actions = set()
    for statement in RESOURCES["FunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]:
        if "Fn::If" in statement:
            statement = statement["Fn::If"][1]
        granted = statement["Action"]
        actions |= {granted} if isinstance(granted, str) else set(granted)
    return actions


def test_role_grants_exactly_the_actions_the_code_calls(cloudtrail, monkeypatch):
    called = set(record_every_path(cloudtrail, monkeypatch))
    # Lambda itself uses the role to write logs and to record failed runs; the code calls the rest.
    granted = _granted_actions() - {"logs:CreateLogStream", "logs:PutLogEvents", "sqs:SendMessage"}
    assert called == granted
    assert not [action for action in granted if "*" in action]


# moto's CloudFormation builds IAM, Lambda and S3 resources but skips Config rules and alarms
# (checked above from the template instead).
@pytest.mark.filterwarnings("ignore:Tried to parse AWS::")
def test_stack_creates_in_emulated_cloudformation(aws, tmp_path):
    build(tmp_path / "rule.zip")
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="rule-artifacts")
    uploaded = upload(s3, "rule-artifacts", tmp_path / "rule.zip", expected_owner="123456789012")
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    parameters = {
        "CodeBucket": "rule-artifacts",
        "CodeKey": uploaded.key,
        "GracePeriodDays": "14",
        "ExecutionRoleName": "mfa-rule-reader",
    }
    status = deploy(cloudformation, "console-mfa", TEMPLATE_TEXT, parameters)
    assert status == "CREATE_COMPLETE"
    function = boto3.client("lambda", region_name="us-east-1").get_function(
        FunctionName="console-mfa-iam-user-console-mfa"
    )
    assert function["Configuration"]["Handler"] == "IAM_USER_CONSOLE_MFA.lambda_handler"
    assert function["Configuration"]["Timeout"] == 900
    policy = boto3.client("lambda", region_name="us-east-1").get_policy(FunctionName="console-mfa-iam-user-console-mfa")
    assert "config.amazonaws.com" in policy["Policy"] and "123456789012" in policy["Policy"]
    # Deploying the same again is a no-op update, not an error.
    assert deploy(cloudformation, "console-mfa", TEMPLATE_TEXT, parameters) in ("UNCHANGED", "UPDATE_COMPLETE")


# --- following a long deployment (botocore's Stubber: moto finishes every stack at once) ---

STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/iam-user-console-mfa/1"
WATCH = StackSetWatch("iam-user-console-mfa-member-role", "DELEGATED_ADMIN")


class FakeClock:
    """Time that passes only when the code under test sleeps."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def _one_round(stubber, status, events, instances, operation_status="RUNNING"):
    stack = {
        "StackName": "iam-user-console-mfa",
        "StackId": STACK_ID,
        "StackStatus": status,
        "CreationTime": datetime(2026, 1, 1, tzinfo=timezone.utc),
    }
    stubber.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": STACK_ID})
    stubber.add_response("describe_stack_events", {"StackEvents": events}, {"StackName": STACK_ID})
    stubber.add_response(
        "list_stack_set_operations",
        {
            "Summaries": [
                {
                    "OperationId": "op-1",
                    "Action": "CREATE",
                    "Status": operation_status,
                    "CreationTimestamp": datetime(2026, 1, 1, tzinfo=timezone.utc),
                }
            ]
        },
        {"StackSetName": WATCH.name, "CallAs": WATCH.call_as},
    )
    stubber.add_response(
        "list_stack_instances",
        {"Summaries": instances},
        {"StackSetName": WATCH.name, "CallAs": WATCH.call_as},
    )


def _event(number, resource, status, reason=""):
    event = {
        "StackId": STACK_ID,
        "EventId": f"event-{number}",
        "StackName": "iam-user-console-mfa",
        "LogicalResourceId": resource,
        "ResourceStatus": status,
        "Timestamp": datetime(2026, 1, 1, 12, 0, number, tzinfo=timezone.utc),
    }
    if reason:
        event["ResourceStatusReason"] = reason
    return event


def _instance(account, detailed, reason=""):
    instance = {
        "StackSetId": "ss:1",
        "Region": "us-east-1",
        "Account": account,
        "Status": "CURRENT",
        "StackInstanceStatus": {"DetailedStatus": detailed},
    }
    if reason:
        instance["StatusReason"] = reason
    return instance


def test_a_long_stackset_rollout_is_followed_with_each_new_event_and_the_accounts_counts():
    cloudformation = boto3.client(
        "cloudformation", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    printed = []
    with Stubber(cloudformation) as stubber:
        _one_round(
            stubber,
            "CREATE_IN_PROGRESS",
            [_event(1, "MemberRoleStackSet", "CREATE_IN_PROGRESS")],
            [
                _instance("111111111111", "SUCCEEDED"),
                _instance("222222222222", "RUNNING"),
                _instance("333333333333", "PENDING"),
            ],
        )
        _one_round(
            stubber,
            "CREATE_COMPLETE",
            [
                _event(3, "iam-user-console-mfa", "CREATE_COMPLETE"),
                _event(2, "MemberRoleStackSet", "CREATE_COMPLETE"),
                _event(1, "MemberRoleStackSet", "CREATE_IN_PROGRESS"),
            ],
            [
                _instance("111111111111", "SUCCEEDED"),
                _instance("222222222222", "SUCCEEDED"),
                _instance("333333333333", "FAILED", "Role name taken"),
            ],
            "SUCCEEDED",
        )
        clock = FakeClock()
        planned = Plan("iam-user-console-mfa", "cs-1", True, stack_id=STACK_ID)
        status = follow_stack(
            cloudformation, planned, "us-east-1", Waiting(3600, 10, clock, clock.sleep), printed.append, WATCH
        )
    assert status == "CREATE_COMPLETE"
    assert printed == [
        "  12:00:01 MemberRoleStackSet CREATE_IN_PROGRESS",
        "  member role StackSet iam-user-console-mfa-member-role (operation CREATE RUNNING): of 3 accounts, 1 succeeded, 0 failed, 2 pending",
        "  12:00:02 MemberRoleStackSet CREATE_COMPLETE",
        "  12:00:03 iam-user-console-mfa CREATE_COMPLETE",
        "  member role StackSet iam-user-console-mfa-member-role (operation CREATE SUCCEEDED): of 3 accounts, 2 succeeded, 1 failed, 0 pending",
    ]


def test_on_its_own_timeout_it_says_what_is_still_running_and_the_commands_to_follow_it():
    cloudformation = boto3.client(
        "cloudformation", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    clock = FakeClock()
    with Stubber(cloudformation) as stubber:
        for _ in range(4):
            _one_round(stubber, "UPDATE_IN_PROGRESS", [], [_instance("111111111111", "RUNNING")])
        planned = Plan("iam-user-console-mfa", "cs-1", False, stack_id=STACK_ID)
        with pytest.raises(StillRunning) as stopped:
            follow_stack(
                cloudformation, planned, "us-east-1", Waiting(30, 10, clock, clock.sleep), lambda _: None, WATCH
            )
    message = str(stopped.value)
    assert "still UPDATE_IN_PROGRESS" in message and "CloudFormation carries on" in message
    assert "aws cloudformation describe-stack-events --stack-name iam-user-console-mfa --region us-east-1" in message
    assert (
        "aws cloudformation list-stack-instances --stack-set-name iam-user-console-mfa-member-role "
        "--call-as DELEGATED_ADMIN --region us-east-1"
    ) in message
    assert clock.now == 30


# --- PARAMS syntax ---


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("ExemptUsers=alice, bob GracePeriodDays=7", {"ExemptUsers": "alice, bob", "GracePeriodDays": "7"}),
        ("GracePeriodDays=14 AlarmEmail=a@b.c", {"GracePeriodDays": "14", "AlarmEmail": "a@b.c"}),
        ("ExemptUsers='alice, x=y' GracePeriodDays=7", {"ExemptUsers": "alice, x=y", "GracePeriodDays": "7"}),
        ("ExemptUsers=`id` $HOME", {"ExemptUsers": "`id` $HOME"}),
        ("ExemptUsers=", {"ExemptUsers": ""}),
    ],
)
def test_params_words_keep_spaces_commas_and_shell_characters_as_text(words, expected):
    assert parameters_from_words(words) == expected


@pytest.mark.parametrize(
    "words", ["alice GracePeriodDays=7", "GracePeriodDays=7 GracePeriodDays=8", "ExemptUsers='alice"]
)
def test_params_words_that_cannot_be_read_one_way_are_refused_naming_the_variable(words):
    with pytest.raises(DeployError, match="MFA_DEPLOY_PARAMS"):
        parameters_from_words(words)


def test_a_caller_who_may_not_read_the_stackset_still_has_the_stack_followed_to_the_end():
    cloudformation = boto3.client(
        "cloudformation", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    printed = []
    stack = {"StackName": "iam-user-console-mfa", "StackId": STACK_ID, "CreationTime": datetime(2026, 1, 1)}
    with Stubber(cloudformation) as stubber:
        stubber.add_response("describe_stacks", {"Stacks": [{**stack, "StackStatus": "UPDATE_IN_PROGRESS"}]})
        stubber.add_response("describe_stack_events", {"StackEvents": []})
        stubber.add_client_error("list_stack_set_operations", "AccessDenied", "not allowed", 403)
        stubber.add_response("describe_stacks", {"Stacks": [{**stack, "StackStatus": "UPDATE_COMPLETE"}]})
        stubber.add_response("describe_stack_events", {"StackEvents": []})
        clock = FakeClock()
        planned = Plan("iam-user-console-mfa", "cs-1", False, stack_id=STACK_ID)
        status = follow_stack(
            cloudformation, planned, "us-east-1", Waiting(3600, 10, clock, clock.sleep), printed.append, WATCH
        )
    assert status == "UPDATE_COMPLETE"
    assert len(printed) == 1 and "cannot read the StackSet's progress" in printed[0]
