"""The deploy tool sets up re-evaluation on IAM change: iam-events.yaml in the rule's Region wired from the rule
stack's outputs, iam-events-forwarder.yaml in us-east-1 when the rule lives elsewhere, and for an organization
the forwarders' StackSet and the member role's re-evaluation role; --no-events deploys none of it.

The real tool runs against moto in server mode (the deploy tool's own fixtures and runner). moto's
CloudFormation skips AWS::Config::*, AWS::SQS::QueuePolicy and AWS::CloudWatch::Alarm, and the StackSet resource
is emulated by test_deploy_tool's EmulatedStackSetResource.
"""

import boto3
import pytest

from mfa_audit.templates import EVENTS_SWITCH, RULE_TEMPLATE, Template
from tests.functional import test_deploy_tool as deploy_tool_tests
from tests.functional.test_deploy_tool import STACK, run_deploy
from tools.deploy.aws import StillRunning
from tools.deploy.events import events_wanted, with_events_switch
from tools.deploy.run import still_to_come

lambda_zip = deploy_tool_tests.lambda_zip
account = deploy_tool_tests.account
organization = deploy_tool_tests.organization
delegated_administrators_see_the_organization = deploy_tool_tests.delegated_administrators_see_the_organization
cloudformation_creates_stack_sets = deploy_tool_tests.cloudformation_creates_stack_sets

pytestmark = pytest.mark.filterwarnings("ignore")

EVENTS = f"{STACK}-events"
FORWARDER = f"{STACK}-events-forwarder"
RULE_DECLARES_THE_SWITCH = EVENTS_SWITCH in Template.load(RULE_TEMPLATE).declared_parameters()


def _client(env, service, region, credentials=None):
    keys = credentials or {"aws_access_key_id": "x", "aws_secret_access_key": "x"}
    return boto3.client(service, endpoint_url=env["AWS_ENDPOINT_URL"], region_name=region, **keys)


def _stacks(env, region):
    summaries = _client(env, "cloudformation", region).list_stacks()["StackSummaries"]
    return sorted(s["StackName"] for s in summaries if s["StackStatus"] != "DELETE_COMPLETE")


def _described(env, region, stack):
    found = _client(env, "cloudformation", region).describe_stacks(StackName=stack)["Stacks"][0]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in found["Parameters"]}
    return parameters, {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}


def _conditions_named(template):
    """The conditions a piece of template names in Fn::If."""
    if isinstance(template, list):
        return set().union(*(_conditions_named(item) for item in template))
    if not isinstance(template, dict):
        return set()
    named = {template["Fn::If"][0]} if isinstance(template.get("Fn::If"), list) else set()
    return named.union(*(_conditions_named(value) for value in template.values()))


@pytest.fixture(autouse=True)
def updates_follow_conditions_on_changed_parameters(monkeypatch):
    """moto modifies on update only resources that Ref a changed parameter; CloudFormation also re-evaluates a
    resource whose Fn::If names a condition built on it (the event rules' State: ReevaluateOnIamChange)."""
    from moto.cloudformation.parsing import ResourceMap, get_references_from_template

    original = ResourceMap.build_resource_diff

    def build_resource_diff(self, other_template, parameters=None):
        diff = original(self, other_template, parameters)
        changed = {p for p in parameters or {} if self.input_parameters.get(p) != parameters[p]}
        conditions = {
            name
            for name, spec in other_template.get("Conditions", {}).items()
            if changed & set(get_references_from_template(spec))
        }
        for name, resource in other_template["Resources"].items():
            kept = name in self._resource_json_map and name not in diff["Modify"]
            if kept and conditions & _conditions_named(resource):
                diff["Modify"].append(name)
        return diff

    monkeypatch.setattr(ResourceMap, "build_resource_diff", build_resource_diff)


@pytest.fixture(autouse=True)
def change_sets_keep_the_parameters_they_applied(monkeypatch):
    """moto compares a new change set's parameters with the stack's first ones (ChangeSet.apply does not keep
    them), so switching back to a first value looks like no change; CloudFormation compares with the current."""
    from moto.cloudformation.models import ChangeSet

    original = ChangeSet.apply

    def apply(self):
        original(self)
        self.stack.parameters = self.parameters

    monkeypatch.setattr(ChangeSet, "apply", apply)


def _as_condition_references(condition):
    if isinstance(condition, list):
        return [_as_condition_references(item) for item in condition]
    if not isinstance(condition, dict):
        return condition
    if list(condition) == ["Fn::Condition"]:
        return {"Condition": condition["Fn::Condition"]}
    return {key: _as_condition_references(value) for key, value in condition.items()}


@pytest.fixture(autouse=True)
def conditions_read_short_form_condition_references(monkeypatch):
    """moto reads YAML's ``!Condition X`` as ``Fn::Condition``, which its Fn::Or does not know, so the rule
    stack's HasAlarmTarget (and its AlarmTopicArn output) is always false there; CloudFormation reads it as
    ``{"Condition": X}``."""
    from moto.cloudformation import parsing

    original = parsing.parse_condition

    def parse_condition(condition, resources_map, condition_map):
        return original(_as_condition_references(condition), resources_map, condition_map)

    monkeypatch.setattr(parsing, "parse_condition", parse_condition)


def _rule_state(env, region, rule_arn):
    return _client(env, "events", region).describe_rule(Name=rule_arn.rsplit("/", 1)[-1])["State"]


# --- one account ---


def test_a_rule_in_eu_west_1_gets_its_event_stack_there_and_the_forwarder_in_us_east_1(account, lambda_zip):
    env, _ = account
    done = run_deploy(env, lambda_zip, "--region", "eu-west-1", "--parameter", "AlarmEmail=secops@example.com", "--yes")
    assert done.returncode == 0, done.stderr
    assert _stacks(env, "eu-west-1") == [STACK, EVENTS]
    assert _stacks(env, "us-east-1") == [FORWARDER]
    rule, rule_outputs = _described(env, "eu-west-1", STACK)
    events, events_outputs = _described(env, "eu-west-1", EVENTS)
    # The same zip, by the same content-addressed key, and the rule stack's name and alarm topic.
    assert {key: events[key] for key in ("CodeBucket", "CodeKey", "CodeObjectVersion")} == {
        key: rule[key] for key in ("CodeBucket", "CodeKey", "CodeObjectVersion")
    }
    # moto skips the Config rule, and with it the output: the tool then leaves iam-events.yaml's default, the rule's
    # fixed name.
    assert events["ConfigRuleName"] == rule_outputs.get("ConfigRuleName", "IAM_USER_CONSOLE_MFA")
    assert events["AlarmTopicArn"] == rule_outputs["AlarmTopicArn"] != ""
    assert (events["OrganizationId"], events["ReevaluateOnIamChange"]) == ("", "true")
    forwarder, forwarder_outputs = _described(env, "us-east-1", FORWARDER)
    assert forwarder["TargetEventBusArn"] == events_outputs["EventBusArn"]
    assert events_outputs["EventBusArn"] == "arn:aws:events:eu-west-1:123456789012:event-bus/default"
    forward_rule = forwarder_outputs["ForwardRuleArn"].rsplit("/", 1)[-1]
    targets = _client(env, "events", "us-east-1").list_targets_by_rule(Rule=forward_rule)["Targets"]
    assert [t["Arn"] for t in targets] == [events_outputs["EventBusArn"]]
    function = _client(env, "lambda", "eu-west-1").get_function_configuration(
        FunctionName=events_outputs["FunctionArn"]
    )
    assert function["Handler"] == "reevaluation_handler.handler"
    assert f"stack {EVENTS} in eu-west-1: CREATE_COMPLETE" in done.stdout and "runs the local zip" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == (
        f"check it with: .venv/bin/mfa-audit doctor --stack {STACK} --events-stack {EVENTS} --region eu-west-1"
    )


def test_a_rule_in_us_east_1_gets_no_forwarder(account, lambda_zip):
    env, _ = account
    done = run_deploy(env, lambda_zip, "--yes")
    assert done.returncode == 0, done.stderr
    assert _stacks(env, "us-east-1") == [STACK, EVENTS]
    _, outputs = _described(env, "us-east-1", EVENTS)
    assert _rule_state(env, "us-east-1", outputs["EventRuleArn"]) == "ENABLED"


def test_the_event_stack_pins_the_zips_version_as_the_rule_stack_does(account, lambda_zip):
    env, client = account
    client("s3").put_bucket_versioning(Bucket="artifacts", VersioningConfiguration={"Status": "Enabled"})
    done = run_deploy(env, lambda_zip, "--yes")
    assert done.returncode == 0, done.stderr
    rule, _ = _described(env, "us-east-1", STACK)
    events, _ = _described(env, "us-east-1", EVENTS)
    assert rule["CodeObjectVersion"] and events["CodeObjectVersion"] == rule["CodeObjectVersion"]


def test_no_events_deploys_no_event_stack_and_gives_the_rule_its_change_trigger(account, lambda_zip):
    env, _ = account
    done = run_deploy(env, lambda_zip, "--region", "eu-west-1", "--no-events", "--yes")
    assert done.returncode == 0, done.stderr
    assert _stacks(env, "eu-west-1") == [STACK] and _stacks(env, "us-east-1") == []
    rule, _ = _described(env, "eu-west-1", STACK)
    # ReevaluateOnIamChange is passed only to a rule template that declares it.
    assert rule.get("ReevaluateOnIamChange") == ("false" if RULE_DECLARES_THE_SWITCH else None)
    assert "--events-stack" not in done.stdout


def test_no_events_after_events_switches_both_event_stacks_off_and_a_plain_redeploy_keeps_them_off(account, lambda_zip):
    env, _ = account
    assert run_deploy(env, lambda_zip, "--region", "eu-west-1", "--yes").returncode == 0
    off = run_deploy(env, lambda_zip, "--region", "eu-west-1", "--no-events", "--yes")
    assert off.returncode == 0, off.stderr
    events, events_outputs = _described(env, "eu-west-1", EVENTS)
    forwarder, forwarder_outputs = _described(env, "us-east-1", FORWARDER)
    assert events["ReevaluateOnIamChange"] == forwarder["ReevaluateOnIamChange"] == "false"
    assert _rule_state(env, "eu-west-1", events_outputs["EventRuleArn"]) == "DISABLED"
    assert _rule_state(env, "us-east-1", forwarder_outputs["ForwardRuleArn"]) == "DISABLED"
    again = run_deploy(env, lambda_zip, "--region", "eu-west-1", "--yes")
    assert again.returncode == 0, again.stderr
    assert _described(env, "eu-west-1", EVENTS)[0]["ReevaluateOnIamChange"] == "false"
    back_on = run_deploy(env, lambda_zip, "--region", "eu-west-1", "--events", "--yes")
    assert back_on.returncode == 0, back_on.stderr
    # moto replaces an updated event rule under a new name: read it again.
    forwarder, forwarder_outputs = _described(env, "us-east-1", FORWARDER)
    assert forwarder["ReevaluateOnIamChange"] == "true"
    assert _rule_state(env, "us-east-1", forwarder_outputs["ForwardRuleArn"]) == "ENABLED"


def test_the_flag_and_the_parameter_together_are_refused_before_anything_is_deployed(account, lambda_zip):
    env, _ = account
    refused = run_deploy(env, lambda_zip, "--no-events", "--parameter", "ReevaluateOnIamChange=false", "--yes")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "deploy: ReevaluateOnIamChange is given both as a flag (--events / --no-events) and as a parameter"
    ]
    assert _stacks(env, "us-east-1") == []


def test_the_parameter_alone_turns_the_event_path_off(account, lambda_zip):
    env, _ = account
    done = run_deploy(env, lambda_zip, "--parameter", "ReevaluateOnIamChange=false", "--yes")
    assert done.returncode == 0, done.stderr
    assert _stacks(env, "us-east-1") == [STACK]


# --- an organization ---


def test_the_organization_gets_the_event_stack_the_forwarders_stackset_and_the_reevaluation_role(
    organization, lambda_zip
):
    env, client, organization_id, units, accounts = organization
    done = run_deploy(env, lambda_zip, "--organization", "--yes")
    assert done.returncode == 0, done.stderr
    events, events_outputs = _described(env, "us-east-1", EVENTS)
    assert events["OrganizationId"] == organization_id
    # OrganizationId opens the central bus to the organization's forwarders (moto skips AWS::Events::EventBusPolicy;
    # tests/unit/test_event_templates.py checks the policy the template builds from it).
    member_role = deploy_tool_tests._stack_set()
    assert member_role.parameters["ReevaluationFunctionRoleArn"] == events_outputs["FunctionRoleArn"]
    forwarders = deploy_tool_tests._stack_set(name=f"{STACK}-iam-events-forwarder")
    assert forwarders.parameters == {"TargetEventBusArn": events_outputs["EventBusArn"]}
    assert forwarders.operation_preferences == member_role.operation_preferences
    instances = forwarders.instances.stack_instances
    assert {i.region_name for i in instances} == {"us-east-1"}
    assert {i.account_id for i in instances} == set(accounts.values())
    assert "iam-events-forwarder.yaml" not in forwarders.template and "ForwardRule" in forwarders.template
    # The management account's own member role (this stack's nested stack) has the re-evaluation role too.
    assert client("iam").get_role(RoleName="iam-user-console-mfa-reevaluator")["Role"]
    assert "IAM-events forwarder StackSet" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == (
        f"check it with: .venv/bin/mfa-audit doctor --organization --stack {STACK} --region us-east-1"
    )


def test_from_a_delegated_administrator_the_forwarders_leave_out_its_own_account(organization, lambda_zip):
    env, client, _, _, accounts = organization
    admin = {**env, **deploy_tool_tests._credentials_in(client, accounts["admin"])}
    done = run_deploy(admin, lambda_zip, "--organization", "--yes")
    assert done.returncode == 0, done.stderr
    forwarders = deploy_tool_tests._stack_set(accounts["admin"], f"{STACK}-iam-events-forwarder")
    assert {i.account_id for i in forwarders.instances.stack_instances} == {
        accounts["member"],
        accounts["outsider-ou"],
    }
    assert "the management account 123456789012 (no StackSet reaches it)" in done.stdout


def test_the_organization_with_no_events_has_no_forwarders_and_no_reevaluation_role(organization, lambda_zip):
    env, *_ = organization
    done = run_deploy(env, lambda_zip, "--organization", "--no-events", "--yes")
    assert done.returncode == 0, done.stderr
    assert EVENTS not in _stacks(env, "us-east-1")
    assert deploy_tool_tests._stack_set().parameters["ReevaluationFunctionRoleArn"] == ""
    stack_sets = _client(env, "cloudformation", "us-east-1").list_stack_sets()["Summaries"]
    assert [s["StackSetName"] for s in stack_sets] == [f"{STACK}-member-role"]


# --- the pieces ---


RULE_WITH_THE_SWITCH = """
Parameters:
  CodeBucket: {Type: String}
  ReevaluateOnIamChange: {Type: String, Default: "true"}
"""


@pytest.mark.parametrize(("on", "value"), [(True, "true"), (False, "false")])
def test_a_rule_template_that_declares_the_switch_gets_it(on, value):
    assert with_events_switch(RULE_WITH_THE_SWITCH, {"CodeBucket": "b"}, on) == {
        "CodeBucket": "b",
        "ReevaluateOnIamChange": value,
    }


def test_a_rule_template_without_the_switch_does_not_get_it():
    assert with_events_switch("Parameters:\n  CodeBucket: {Type: String}\n", {"CodeBucket": "b"}, False) == {
        "CodeBucket": "b"
    }


@pytest.mark.parametrize(
    ("flag", "given", "rule", "events", "wanted"),
    [
        (None, {}, {}, {}, True),
        (False, {}, {"ReevaluateOnIamChange": "true"}, {}, False),
        (None, {"ReevaluateOnIamChange": "false"}, {"ReevaluateOnIamChange": "true"}, {}, False),
        (None, {}, {"ReevaluateOnIamChange": "false"}, {"ReevaluateOnIamChange": "true"}, False),
        (None, {}, {}, {"ReevaluateOnIamChange": "false"}, False),
        (True, {}, {}, {"ReevaluateOnIamChange": "false"}, True),
    ],
)
def test_the_event_path_is_as_asked_else_as_deployed_else_on(flag, given, rule, events, wanted):
    assert events_wanted(flag, given, rule, events) is wanted


def test_a_timeout_names_the_stacks_not_deployed_yet():
    with pytest.raises(StillRunning) as stopped, still_to_come("stack x-events in eu-west-1"):
        raise StillRunning("stopped waiting after 2 minutes: stack x is still UPDATE_IN_PROGRESS")
    assert str(stopped.value).endswith(
        "; not deployed yet: stack x-events in eu-west-1 (run the tool again once it has finished)"
    )
