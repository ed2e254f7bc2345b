"""The account stack's enforcement wiring, resolved for real parameter sets: opt-in, bounded, least privilege."""

import json
import re

import pytest

from mfa_audit.templates import EXAMPLE_ACCOUNT_ID as ACCOUNT_ID
from mfa_audit.templates import Template

RULE = Template.load("rule.yaml")
BASE = {"CodeBucket": "artifacts", "AlarmEmail": "secops@example.com"}
ENFORCEMENT_RESOURCES = {
    "EnforcementLedger",
    "EnforcementLogGroup",
    "EnforcementFunctionRole",
    "EnforcementFunction",
    "EnforcementNoticeSchedule",
    "EnforcementNoticePermission",
    "EnforcementAutomationRole",
    "EnforcementDocument",
    "EnforcementRemediation",
    "EnforcementLimitAlarm",
    "EnforcementErrorsAlarm",
}
GROUP_ARN = f"arn:aws:iam::{ACCOUNT_ID}:group/console-mfa-ForceMfa"


def stack(**given):
    return RULE.resolve({**BASE, **given})


def statements(role):
    return [s for policy in role["Properties"]["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def actions(statement):
    granted = statement["Action"]
    return {granted} if isinstance(granted, str) else set(granted)


def test_enforcement_is_off_by_default_and_creates_nothing():
    assert RULE.parameters["Enforcement"]["Default"] == "off"
    resources = stack().resources
    assert not ENFORCEMENT_RESOURCES & set(resources)
    assert "ForceMfaGroup" not in resources


@pytest.mark.parametrize(("mode", "automatic"), [("manual", False), ("automatic", True)])
def test_remediation_targets_the_document_with_the_user_id_and_runs_by_itself_only_when_automatic(mode, automatic):
    resources = stack(Enforcement=mode).resources
    assert set(resources) >= ENFORCEMENT_RESOURCES
    remediation = resources["EnforcementRemediation"]["Properties"]
    assert remediation["TargetType"] == "SSM_DOCUMENT"
    assert remediation["TargetId"] == "ref:EnforcementDocument"
    assert remediation["ResourceType"] == "AWS::IAM::User"
    assert remediation["ConfigRuleName"] == "ref:ConfigRule"
    assert remediation["Automatic"] is automatic
    assert remediation["Parameters"]["UserId"] == {"ResourceValue": {"Value": "RESOURCE_ID"}}
    assert remediation["Parameters"]["AutomationAssumeRole"] == {
        "StaticValue": {"Values": ["getatt:EnforcementAutomationRole.Arn"]}
    }
    assert 1 <= remediation["MaximumAutomaticAttempts"] <= 25
    assert 0 < remediation["RetryAttemptSeconds"] <= 3600
    controls = remediation["ExecutionControls"]["SsmControls"]
    assert 0 < controls["ConcurrentExecutionRatePercentage"] <= 25
    assert 0 < controls["ErrorPercentage"] <= 25


def test_enforcement_implies_the_force_mfa_group():
    resources = stack(Enforcement="manual", CreateForceMfaGroup="false").resources
    assert resources["ForceMfaGroup"]["Type"] == "AWS::IAM::Group"
    env = resources["EnforcementFunction"]["Properties"]["Environment"]["Variables"]
    assert env["FORCE_MFA_GROUP"] == resources["ForceMfaGroup"]["Properties"]["GroupName"] == "console-mfa-ForceMfa"


def test_the_rule_is_told_the_enforcement_mode():
    rule = stack(Enforcement="automatic").resources["ConfigRule"]["Properties"]
    assert rule["InputParameters"]["Enforcement"] == "automatic"


def test_enforcement_without_a_topic_is_refused_by_the_templates_rule():
    assert len(RULE.body["Rules"]["EnforcementTellsOperators"]["Assertions"]) == 1

    def holds(**given):
        return RULE.rule_holds("EnforcementTellsOperators", {"CodeBucket": "artifacts", **given})

    assert not holds(Enforcement="automatic")
    assert not holds(Enforcement="manual")
    assert holds(Enforcement="manual", AlarmEmail="secops@example.com")
    assert holds(Enforcement="automatic", AlarmTopicArn="arn:aws:sns:us-east-1:123456789012:secops")
    assert holds()  # enforcement off needs no topic


def test_function_role_may_write_iam_only_to_move_users_in_and_out_of_the_force_mfa_group():
    role = stack(Enforcement="automatic").resources["EnforcementFunctionRole"]
    iam_writes = {
        (action, json.dumps(s["Resource"]))
        for s in statements(role)
        for action in actions(s)
        if action.startswith("iam:") and not action.startswith(("iam:Get", "iam:List"))
    }
    assert iam_writes == {
        ("iam:AddUserToGroup", json.dumps(GROUP_ARN)),
        ("iam:RemoveUserFromGroup", json.dumps(GROUP_ARN)),
    }
    assert not [
        a for s in statements(role) for a in actions(s) if "*" in a.split(":")[1] and a != "kms:GenerateDataKey*"
    ]


def test_function_publishes_to_the_chosen_topic_only():
    new = statements(stack(Enforcement="manual").resources["EnforcementFunctionRole"])
    assert [s["Resource"] for s in new if "sns:Publish" in actions(s)] == ["ref:AlarmTopic"]
    existing_topic = "arn:aws:sns:us-east-1:123456789012:secops"
    existing = stack(Enforcement="manual", AlarmEmail="", AlarmTopicArn=existing_topic).resources
    assert [s["Resource"] for s in statements(existing["EnforcementFunctionRole"]) if "sns:Publish" in actions(s)] == [
        existing_topic
    ]
    assert (
        existing["EnforcementFunction"]["Properties"]["Environment"]["Variables"]["OPERATORS_TOPIC_ARN"]
        == existing_topic
    )


def test_automation_role_trusts_ssm_of_this_account_and_may_only_invoke_the_enforcement_function():
    role = stack(Enforcement="automatic").resources["EnforcementAutomationRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "ssm.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT_ID}
    granted = [
        (a, s["Resource"]) for p in role["Policies"] for s in p["PolicyDocument"]["Statement"] for a in actions(s)
    ]
    assert granted == [("lambda:InvokeFunction", "getatt:EnforcementFunction.Arn")]


def test_limit_alarm_watches_the_functions_held_back_metric_and_notifies_the_topic():
    from console_mfa.enforcer import HELD_BACK_METRIC, METRIC_NAMESPACE

    alarm = stack(Enforcement="automatic").resources["EnforcementLimitAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == (METRIC_NAMESPACE, HELD_BACK_METRIC)
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert alarm["AlarmActions"] == ["ref:AlarmTopic"]


def test_function_environment_carries_the_limit_and_the_notice_settings_within_the_codes_bounds():
    from console_mfa.enforcement import MAX_ENFORCEMENTS_PER_DAY, MAX_RECENT_KEY_DAYS

    env = stack(
        Enforcement="automatic", MaxEnforcementsPerDay="3", NoticeSender="mfa@example.com", RecentAccessKeyDays="10"
    ).resources["EnforcementFunction"]
    variables = env["Properties"]["Environment"]["Variables"]
    assert (variables["MAX_ENFORCEMENTS_PER_DAY"], variables["RECENT_ACCESS_KEY_DAYS"]) == ("3", "10")
    assert (variables["NOTICE_SENDER"], variables["USER_ADDRESS_TAG"]) == ("mfa@example.com", "email")
    assert variables["ENFORCEMENT_SWITCH_PARAMETER"] == "ref:EnforcementSwitch"
    assert variables["CONFIG_RULE_NAME"] == "IAM_USER_CONSOLE_MFA"
    assert RULE.parameters["MaxEnforcementsPerDay"]["MaxValue"] == MAX_ENFORCEMENTS_PER_DAY
    assert RULE.parameters["RecentAccessKeyDays"]["MaxValue"] == MAX_RECENT_KEY_DAYS
    assert RULE.parameters["MaxEnforcementsPerDay"]["Default"] <= 10


def test_the_kill_switch_is_created_on_and_only_the_function_may_read_it():
    resources = stack(Enforcement="automatic").resources
    switch = resources["EnforcementSwitch"]["Properties"]
    assert switch["Value"] == "on"
    statements = resources["EnforcementFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    (read,) = [s for s in statements if s["Action"] == "ssm:GetParameter"]
    assert read["Resource"] == "arn:aws:ssm:us-east-1:123456789012:parameter/console-mfa/enforcement-switch"
    assert switch["Name"] == "/console-mfa/enforcement-switch"


def test_users_are_emailed_only_from_the_notice_sender():
    def ses_statements(**parameters):
        resources = stack(Enforcement="automatic", **parameters).resources
        statements = resources["EnforcementFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        return [s for s in statements if s["Action"] == "ses:SendEmail"]

    assert ses_statements() == []
    (send,) = ses_statements(NoticeSender="mfa@example.com")
    assert send["Condition"] == {"StringEquals": {"ses:FromAddress": "mfa@example.com"}}


# --- the automation document: no maintained validator for SSM documents exists on PyPI, so its structure ---

SYSTEM_VARIABLES = {"automation:EXECUTION_ID"}
_VARIABLE = re.compile(r"\{\{\s*([\w:]+)\s*\}\}")


def document():
    return stack(Enforcement="automatic").resources["EnforcementDocument"]["Properties"]


def test_document_is_an_automation_of_schema_0_3_run_as_automation_assume_role():
    properties = document()
    assert properties["DocumentType"] == "Automation"
    content = properties["Content"]
    assert content["schemaVersion"] == "0.3"
    assert content["assumeRole"] == "{{ AutomationAssumeRole }}"
    assert set(content["parameters"]) == {"AutomationAssumeRole", "UserId"}
    assert all(p["type"] == "String" and p["description"] for p in content["parameters"].values())


def test_document_has_one_script_step_that_hands_the_user_id_to_the_function_and_decides_nothing():
    resolved = stack(Enforcement="automatic")
    (step,) = resolved.resources["EnforcementDocument"]["Properties"]["Content"]["mainSteps"]
    assert step["action"] == "aws:executeScript"
    # The function by its name: the function's environment names the document, so no reference back.
    assert (
        step["inputs"]["InputPayload"]["FunctionName"]
        == resolved.resources["EnforcementFunction"]["Properties"]["FunctionName"]
    )
    assert step["inputs"]["InputPayload"]["UserId"] == "{{ UserId }}"
    assert step["inputs"]["InputPayload"]["ExecutionId"] == "{{ automation:EXECUTION_ID }}"
    assert "InvokerRoleArn" not in step["inputs"]["InputPayload"]
    assert step["onFailure"] == "Abort" and step["isEnd"] is True and step["maxAttempts"] == 1
    assert step["timeoutSeconds"] <= 600  # aws:executeScript runs at most 600 s
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,128}", step["name"])


def test_the_function_confirms_automations_of_the_stacks_own_document():
    resolved = stack(Enforcement="automatic")
    variables = resolved.resources["EnforcementFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["ENFORCEMENT_DOCUMENT"] == "ref:EnforcementDocument"
    statements = resolved.resources["EnforcementFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ]
    (confirm,) = [s for s in statements if s["Action"] == "ssm:GetAutomationExecution"]
    assert confirm["Resource"] == f"arn:aws:ssm:us-east-1:{ACCOUNT_ID}:automation-execution/*"


def test_the_ledger_is_encrypted_with_the_stacks_key_which_the_function_may_use_through_dynamodb():
    resolved = stack(Enforcement="automatic")
    sse = resolved.resources["EnforcementLedger"]["Properties"]["SSESpecification"]
    assert sse == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": "getatt:FunctionLogKey.Arn"}
    statements = resolved.resources["EnforcementFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ]
    (key,) = [s for s in statements if s.get("Sid") == "UseTheStacksKeyForTheLedger"]
    assert key["Resource"] == "getatt:FunctionLogKey.Arn"
    assert key["Condition"] == {"StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}}


def test_every_variable_the_document_uses_is_one_of_its_parameters():
    content = document()["Content"]
    used = set(_VARIABLE.findall(json.dumps(content)))
    assert used - SYSTEM_VARIABLES == set(content["parameters"])


def test_document_parameter_patterns_accept_what_config_passes():
    parameters = document()["Content"]["parameters"]
    assert re.fullmatch(parameters["UserId"]["allowedPattern"], "AIDAJQABLZS4A3QDU576Q")
    assert not re.fullmatch(parameters["UserId"]["allowedPattern"], "bob")
    role = "arn:aws:iam::123456789012:role/console-mfa-EnforcementAutomationRole-ABC"
    assert re.fullmatch(parameters["AutomationAssumeRole"]["allowedPattern"], role)


# --- parliament on the new roles ---


@pytest.mark.parametrize("mode", ["manual", "automatic"])
@pytest.mark.parametrize(
    "topic", [{}, {"AlarmEmail": "", "AlarmTopicArn": "arn:aws:sns:us-east-1:123456789012:secops"}]
)
def test_parliament_finds_nothing_in_the_enforcement_roles(mode, topic):
    from parliament import analyze_policy_string

    resources = stack(Enforcement=mode, **topic).resources
    for logical_id in ("EnforcementFunctionRole", "EnforcementAutomationRole"):
        for policy in resources[logical_id]["Properties"]["Policies"]:
            findings = analyze_policy_string(json.dumps(policy["PolicyDocument"]), include_community_auditors=False)
            problems = [
                (f.issue, f.detail)
                for f in findings.findings
                if not (f.issue == "INVALID_ARN" and str(f.location.get("string", "")).startswith(("getatt:", "ref:")))
            ]
            assert not problems, (logical_id, problems)


def test_rule_parameters_fit_configs_limit_with_enforcement_on_and_every_parameter_at_its_longest():
    parameters = RULE.parameters
    longest = {
        "ExemptUsers": "u" * parameters["ExemptUsers"]["MaxLength"],
        "AllowedMfaTypes": ("virtual," * 10)[: parameters["AllowedMfaTypes"]["MaxLength"]].rstrip(","),
        "GracePeriodDays": "365",
        "ExecutionRoleName": "r" * 64,
        "Enforcement": "automatic",
    }
    sent = stack(**longest).resources["ConfigRule"]["Properties"]["InputParameters"]
    assert len(json.dumps(sent)) <= 1024, len(json.dumps(sent))
