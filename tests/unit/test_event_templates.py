"""The event path's templates (iam-events.yaml, iam-events-forwarder.yaml, member-role.yaml's re-evaluation role),
resolved for real parameter sets: what they match, what they may do, and that switching off stops everything."""

import json

import pytest
from console_mfa.reevaluation import REEVALUATING_EVENTS

from mfa_audit.templates import EXAMPLE_ACCOUNT_ID as ACCOUNT_ID
from mfa_audit.templates import Template

EVENTS = Template.load("iam-events.yaml")
FORWARDER = Template.load("iam-events-forwarder.yaml")
MEMBER_ROLE = Template.load("member-role.yaml")
CODE = {"CodeBucket": "artifacts"}
ORGANIZATION = {"OrganizationId": "o-abcdefghij"}
CENTRAL_BUS = "arn:aws:events:eu-west-1:999999999999:event-bus/default"
MEMBER_ROLE_REQUIRED = {"FunctionRoleArn": "arn:aws:iam::999999999999:role/f", "OrganizationId": "o-abcdefghij"}
REEVALUATOR = "arn:aws:iam::999999999999:role/console-mfa-events-FunctionRole-abc"


def events_stack(**given):
    return EVENTS.resolve({**CODE, **given})


def statements(role):
    return [s for policy in role["Properties"]["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def actions(role):
    found = set()
    for statement in statements(role):
        found |= {statement["Action"]} if isinstance(statement["Action"], str) else set(statement["Action"])
    return found


@pytest.mark.parametrize(
    ("template", "rule", "given"),
    [(EVENTS, "ChangeRule", CODE), (FORWARDER, "ForwardRule", {"TargetEventBusArn": CENTRAL_BUS})],
    ids=["coalescer", "forwarder"],
)
def test_event_rules_match_the_iam_changes_the_function_handles_and_only_calls_that_succeeded(template, rule, given):
    pattern = template.resolve(given).resources[rule]["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.iam"] and pattern["detail-type"] == ["AWS API Call via CloudTrail"]
    assert tuple(pattern["detail"]["eventName"]) == REEVALUATING_EVENTS
    assert pattern["detail"]["errorCode"] == [{"exists": False}]


def test_switched_off_nothing_is_matched_or_read():
    stack = events_stack(ReevaluateOnIamChange="false")
    assert stack.resources["ChangeRule"]["Properties"]["State"] == "DISABLED"
    assert stack.resources["QueueReader"]["Properties"]["Enabled"] is False
    forwarder = FORWARDER.resolve({"TargetEventBusArn": CENTRAL_BUS, "ReevaluateOnIamChange": "false"})
    assert forwarder.resources["ForwardRule"]["Properties"]["State"] == "DISABLED"


def test_on_by_default():
    stack = events_stack()
    assert stack.resources["ChangeRule"]["Properties"]["State"] == "ENABLED"
    assert stack.resources["QueueReader"]["Properties"]["Enabled"] is True


def test_refused_changes_come_back_after_configs_minute_and_end_in_an_alarmed_dead_letter_queue():
    stack = events_stack(AlarmTopicArn="arn:aws:sns:us-east-1:123456789012:secops")
    queue = stack.resources["ChangeQueue"]["Properties"]
    function = stack.resources["Function"]["Properties"]
    reader = stack.resources["QueueReader"]["Properties"]
    assert queue["VisibilityTimeout"] > 60 and queue["VisibilityTimeout"] >= function["Timeout"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == "getatt:DeadLetterQueue.Arn"
    assert reader["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert queue["SqsManagedSseEnabled"] is True
    assert stack.resources["DeadLetterQueue"]["Properties"]["SqsManagedSseEnabled"] is True
    (dead_letter_alarm,) = [
        a["Properties"]
        for a in stack.resources.values()
        if a["Type"] == "AWS::CloudWatch::Alarm"
        and a["Properties"]["Dimensions"] == [{"Name": "QueueName", "Value": "getatt:DeadLetterQueue.QueueName"}]
    ]
    assert dead_letter_alarm["AlarmActions"] == ["arn:aws:sns:us-east-1:123456789012:secops"]
    target = stack.resources["ChangeRule"]["Properties"]["Targets"][0]
    assert target["DeadLetterConfig"]["Arn"] == "getatt:DeadLetterQueue.Arn"


def test_only_this_stacks_event_rule_may_write_to_the_queues():
    (statement,) = events_stack().resources["EventBridgeSendsToTheQueues"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": "getatt:ChangeRule.Arn"}}


def test_the_function_is_the_rules_zip_with_the_coalescers_handler():
    import importlib

    function = events_stack().resources["Function"]["Properties"]
    module, _, name = function["Handler"].rpartition(".")
    assert callable(getattr(importlib.import_module(module), name))
    assert function["Code"] == {"S3Bucket": "artifacts", "S3Key": "IAM_USER_CONSOLE_MFA.zip"}


def test_one_account_starts_its_own_rule_and_assumes_nothing():
    stack = events_stack()
    role = stack.resources["FunctionRole"]
    assert "config:StartConfigRulesEvaluation" in actions(role) and "sts:AssumeRole" not in actions(role)
    # It waits for the event history to show each change before starting the rule (console_mfa.reevaluation).
    assert "cloudtrail:LookupEvents" in actions(role)
    assert "OrganizationPutsEvents" not in stack.resources
    assert stack.resources["Function"]["Properties"]["Environment"]["Variables"]["MEMBER_ROLE_NAME"] == ""


def test_an_organization_lets_its_members_put_events_and_starts_their_rule_only_through_the_member_role():
    stack = events_stack(**ORGANIZATION)
    policy = stack.resources["OrganizationPutsEvents"]["Properties"]["Statement"]
    assert policy["Action"] == "events:PutEvents"
    assert policy["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}
    role = stack.resources["FunctionRole"]
    assert "config:StartConfigRulesEvaluation" not in actions(role)
    (assume,) = [s for s in statements(role) if s["Action"] == "sts:AssumeRole"]
    assert assume["Resource"] == "arn:aws:iam::*:role/iam-user-console-mfa-reevaluator"
    assert assume["Condition"] == {"StringEquals": {"aws:ResourceOrgID": "o-abcdefghij"}}
    variables = stack.resources["Function"]["Properties"]["Environment"]["Variables"]
    assert variables["MEMBER_ROLE_NAME"] == "iam-user-console-mfa-reevaluator"


def test_forwarder_may_put_events_on_the_target_bus_only():
    stack = FORWARDER.resolve({"TargetEventBusArn": CENTRAL_BUS})
    role = stack.resources["ForwardRole"]
    assert [(s["Action"], s["Resource"]) for s in statements(role)] == [("events:PutEvents", CENTRAL_BUS)]
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}
    target = stack.resources["ForwardRule"]["Properties"]["Targets"][0]
    assert target == {"Id": "reevaluation-bus", "Arn": CENTRAL_BUS, "RoleArn": "getatt:ForwardRole.Arn"}


def test_member_role_stack_has_no_reevaluation_role_unless_asked_and_the_reader_still_only_reads():
    without = MEMBER_ROLE.resolve(MEMBER_ROLE_REQUIRED)
    assert "ReevaluationRole" not in without.resources
    with_it = MEMBER_ROLE.resolve({**MEMBER_ROLE_REQUIRED, "ReevaluationFunctionRoleArn": REEVALUATOR})
    assert actions(with_it.resources["EvaluationRole"]) == actions(without.resources["EvaluationRole"])
    assert not {"config:StartConfigRulesEvaluation"} & actions(with_it.resources["EvaluationRole"])
    role = with_it.resources["ReevaluationRole"]
    assert actions(role) == {
        "config:DescribeConfigRules",
        "config:StartConfigRulesEvaluation",
        "cloudtrail:LookupEvents",
    }
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"AWS": REEVALUATOR}
    assert trust["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}


def _roles():
    yield "account", events_stack().resources["FunctionRole"]
    yield "organization", events_stack(**ORGANIZATION).resources["FunctionRole"]
    yield "forwarder", FORWARDER.resolve({"TargetEventBusArn": CENTRAL_BUS}).resources["ForwardRole"]
    member = MEMBER_ROLE.resolve({**MEMBER_ROLE_REQUIRED, "ReevaluationFunctionRoleArn": REEVALUATOR})
    yield "member", member.resources["ReevaluationRole"]


@pytest.mark.parametrize(("where", "role"), list(_roles()), ids=lambda value: value if isinstance(value, str) else "")
def test_parliament_finds_nothing_in_the_event_paths_roles(where, role):
    from parliament import analyze_policy_string

    for policy in role["Properties"]["Policies"]:
        findings = analyze_policy_string(
            json.dumps(policy["PolicyDocument"]), include_community_auditors=False
        ).findings
        problems = [
            (f.issue, f.detail)
            for f in findings
            if not (f.issue == "INVALID_ARN" and str(f.location.get("string", "")).startswith("getatt:"))
        ]
        assert not problems, (where, problems)
