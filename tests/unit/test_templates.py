"""Deployment traps no linter catches, checked on what each template resolves to for real parameter sets."""

import json
import re

import pytest

from mfa_audit.emulation.iam_policy import ALLOW, EXPLICIT_DENY, IMPLICIT_DENY, decision
from mfa_audit.emulation.walkthrough import USER_GUIDE_PATH
from mfa_audit.templates import EXAMPLE_ACCOUNT_ID as ACCOUNT_ID
from mfa_audit.templates import Template

from .test_guard_rules import _template_document

RULE = Template.load("rule.yaml")
ORGANIZATION = Template.load("organization.yaml")
CONFORMANCE_PACK = Template.load("conformance-pack.yaml")
FUNCTION_STACKS = {"rule.yaml": RULE, "organization.yaml": ORGANIZATION}
REQUIRED = {
    "rule.yaml": {"CodeBucket": "artifacts"},
    "organization.yaml": {
        "CodeBucket": "artifacts",
        "OrganizationId": "o-abcdefghij",
        "MemberRoleTemplateUrl": "https://artifacts.s3.us-east-1.amazonaws.com/member-role.yaml",
        "DeploymentOrganizationalUnitIds": "r-ab12",
    },
    "conformance-pack.yaml": {"FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f"},
}
TEMPLATES = {"rule.yaml": RULE, "organization.yaml": ORGANIZATION, "conformance-pack.yaml": CONFORMANCE_PACK}
# AWS Config's limit on a rule's InputParameters (ConfigRule and OrganizationCustomRuleMetadata alike).
INPUT_PARAMETERS_LIMIT = 1024


def _stack(name, **given):
    return TEMPLATES[name].resolve({**REQUIRED[name], **given})


def _of_type(stack, resource_type):
    return {k: r for k, r in stack.resources.items() if r["Type"] == resource_type}


def _input_parameters(stack):
    rules = _of_type(stack, "AWS::Config::ConfigRule") or _of_type(stack, "AWS::Config::OrganizationConfigRule")
    (rule,) = rules.values()
    properties = rule["Properties"]
    raw = properties.get("InputParameters") or properties["OrganizationCustomRuleMetadata"]["InputParameters"]
    return raw if isinstance(raw, dict) else json.loads(raw)


# --- alarms that deliver ---


@pytest.mark.parametrize("name", FUNCTION_STACKS)
def test_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use(name):
    stack = _stack(name, AlarmEmail="secops@example.com")
    (topic,) = _of_type(stack, "AWS::SNS::Topic").values()
    key_ref = topic["Properties"]["KmsMasterKeyId"]
    assert key_ref != "alias/aws/sns"
    key = stack.resources[key_ref.removeprefix("ref:")]
    assert key["Type"] == "AWS::KMS::Key" and key["Properties"]["EnableKeyRotation"] is True
    grants = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"} and s["Effect"] == "Allow"
    ]
    assert len(grants) == 1
    assert set(grants[0]["Action"]) >= {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert grants[0]["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}


@pytest.mark.parametrize("name", TEMPLATES)
def test_no_topic_uses_the_aws_managed_sns_key(name):
    text = json.dumps(TEMPLATES[name].body)
    assert "alias/aws/sns" not in text


def _alarm_signals(stack):
    return {
        (a["Properties"]["Namespace"], a["Properties"]["MetricName"], a["Properties"]["ComparisonOperator"])
        for a in _of_type(stack, "AWS::CloudWatch::Alarm").values()
    }


def test_both_stacks_alarm_on_errors_throttles_silence_and_dropped_runs():
    expected = {
        ("AWS/Lambda", "Errors", "GreaterThanOrEqualToThreshold"),
        ("AWS/Lambda", "Throttles", "GreaterThanOrEqualToThreshold"),
        ("AWS/Lambda", "Invocations", "LessThanThreshold"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "GreaterThanOrEqualToThreshold"),
    }
    assert _alarm_signals(_stack("rule.yaml")) == expected
    # The organization stack also counts events refused for accounts outside the organization.
    refused = ("IAM_USER_CONSOLE_MFA", "RefusedOutsideAccounts", "GreaterThanOrEqualToThreshold")
    assert _alarm_signals(_stack("organization.yaml")) == expected | {refused}


@pytest.mark.parametrize("name", FUNCTION_STACKS)
def test_silence_alarm_needs_two_quiet_days_and_treats_no_data_as_quiet(name):
    (silent,) = [
        a["Properties"]
        for a in _of_type(_stack(name), "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "Invocations"
    ]
    assert (silent["Period"], silent["EvaluationPeriods"], silent["Threshold"]) == (86400, 2, 1)
    assert silent["TreatMissingData"] == "breaching"


@pytest.mark.parametrize("name", FUNCTION_STACKS)
@pytest.mark.parametrize(
    ("target", "expected_actions"),
    [
        ({"AlarmEmail": "secops@example.com"}, ["ref:AlarmTopic"]),
        ({"AlarmTopicArn": "arn:aws:sns:us-east-1:123456789012:secops"}, ["arn:aws:sns:us-east-1:123456789012:secops"]),
        ({}, None),
    ],
    ids=["new-topic", "existing-topic", "no-topic"],
)
def test_every_alarm_notifies_the_chosen_topic(name, target, expected_actions):
    for alarm in _of_type(_stack(name, **target), "AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"].get("AlarmActions") == expected_actions


@pytest.mark.parametrize("name", FUNCTION_STACKS)
def test_failed_or_dropped_async_runs_go_to_a_queue_the_function_role_may_write(name):
    stack = _stack(name)
    (invoke_config,) = _of_type(stack, "AWS::Lambda::EventInvokeConfig").values()
    destination = invoke_config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination == "getatt:FailedInvocationsQueue.Arn"
    assert invoke_config["Properties"]["MaximumRetryAttempts"] == 2
    queue = stack.resources["FailedInvocationsQueue"]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    statements = stack.resources["FunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert {"sqs:SendMessage": destination} == {
        s["Action"]: s["Resource"] for s in statements if s["Action"] == "sqs:SendMessage"
    }


# --- parameters that Lambda and Config accept ---


@pytest.mark.parametrize("name", FUNCTION_STACKS)
def test_no_reserved_concurrency_unless_asked_for(name):
    assert "ReservedConcurrentExecutions" not in _stack(name).resources["Function"]["Properties"]
    given = _stack(name, ReservedConcurrency="25").resources["Function"]["Properties"]
    assert given["ReservedConcurrentExecutions"] == "25"


@pytest.mark.parametrize("name", TEMPLATES)
def test_rule_parameters_leave_out_keys_without_a_value(name):
    optional_blank = {k: "" for k in ("ExemptUsers", "ExecutionRoleName") if k in TEMPLATES[name].parameters}
    sent = _input_parameters(_stack(name, **optional_blank))
    assert "" not in sent.values()
    assert "ExemptUsers" not in sent


@pytest.mark.parametrize("name", TEMPLATES)
def test_rule_parameters_fit_configs_limit_with_every_parameter_at_its_longest(name):
    parameters = TEMPLATES[name].parameters
    longest = {"ExemptUsers": "u" * parameters["ExemptUsers"]["MaxLength"]}
    longest["AllowedMfaTypes"] = ("virtual," * 10)[: parameters["AllowedMfaTypes"]["MaxLength"]].rstrip(",")
    longest["GracePeriodDays"] = "365"
    longest["ExemptionTag"] = "t" * parameters["ExemptionTag"]["MaxLength"]
    longest["MaxExemptionDays"] = "365"
    for role_parameter in ("ExecutionRoleName", "MemberRoleName"):
        if role_parameter in parameters:
            longest[role_parameter] = "r" * 64
    # organization.yaml's Enforcement replaces its organization rule by the conformance pack, whose rule carries it.
    if "Enforcement" in parameters and name != "organization.yaml":
        longest["Enforcement"] = "automatic"
    sent = _input_parameters(_stack(name, **longest))
    # The most generous serialisation CloudFormation could use for a map (", " and ": ").
    assert len(json.dumps(sent)) <= INPUT_PARAMETERS_LIMIT, len(json.dumps(sent))
    assert sent["ExemptUsers"] == longest["ExemptUsers"]


@pytest.mark.parametrize("name", TEMPLATES)
def test_templates_agree_on_the_exempt_users_limit_and_pattern(name):
    exempt = TEMPLATES[name].parameters["ExemptUsers"]
    assert exempt["MaxLength"] == RULE.parameters["ExemptUsers"]["MaxLength"]
    assert exempt["AllowedPattern"] == RULE.parameters["ExemptUsers"]["AllowedPattern"]


# --- organization rollout ---


def test_stackset_acts_as_self_from_the_management_account_and_creates_the_role_here_too():
    stack = _stack("organization.yaml", CallAs="SELF")
    assert stack.resources["MemberRoleStackSet"]["Properties"]["CallAs"] == "SELF"
    nested = stack.resources["ManagementAccountMemberRole"]["Properties"]
    assert nested["TemplateURL"] == REQUIRED["organization.yaml"]["MemberRoleTemplateUrl"]
    assert nested["Parameters"]["RoleName"] == "iam-user-console-mfa-reader"


def test_stackset_acts_as_delegated_admin_from_a_delegated_administrator_and_leaves_the_role_to_it():
    stack = _stack("organization.yaml", CallAs="DELEGATED_ADMIN")
    assert stack.resources["MemberRoleStackSet"]["Properties"]["CallAs"] == "DELEGATED_ADMIN"
    assert "ManagementAccountMemberRole" not in stack.resources


@pytest.mark.parametrize(
    ("own", "without_role", "excluded"),
    [
        ("", "", None),
        ("111111111111", "", ["111111111111"]),
        ("", "222222222222,333333333333", ["222222222222", "333333333333"]),
        ("111111111111", "222222222222", ["111111111111", "222222222222"]),
    ],
)
def test_organization_rule_leaves_out_own_exclusions_and_accounts_without_the_role(own, without_role, excluded):
    stack = _stack("organization.yaml", ExcludedAccounts=own, AccountsWithoutMemberRole=without_role)
    assert stack.resources["OrganizationRule"]["Properties"].get("ExcludedAccounts") == excluded


# --- the ForceMfa policy, against AWS's current force-MFA example ---

FORCE_MFA = _stack("rule.yaml", CreateForceMfaGroup="true").resources["ForceMfaPolicy"]["Properties"]["PolicyDocument"]
USER = f"arn:aws:iam::{ACCOUNT_ID}:user/bob"
USER_WITH_PATH = f"arn:aws:iam::{ACCOUNT_ID}:user/ops/team-a/bob"
OTHER_USER = f"arn:aws:iam::{ACCOUNT_ID}:user/alice"
MFA = f"arn:aws:iam::{ACCOUNT_ID}:mfa/"
WITHOUT_MFA, WITH_MFA, LONG_TERM_KEYS = "false", "true", None


@pytest.mark.parametrize(
    ("action", "resource", "mfa", "expected"),
    [
        # Setting up MFA before having it
        ("iam:CreateVirtualMFADevice", MFA + "bob", WITHOUT_MFA, ALLOW),
        ("iam:CreateVirtualMFADevice", MFA + "bob-phone", WITHOUT_MFA, ALLOW),
        ("iam:CreateVirtualMFADevice", MFA + "bobs-phone", WITHOUT_MFA, EXPLICIT_DENY),  # not named after bob
        ("iam:EnableMFADevice", USER, WITHOUT_MFA, ALLOW),
        ("iam:EnableMFADevice", USER_WITH_PATH, WITHOUT_MFA, ALLOW),
        ("iam:GetMFADevice", USER, WITHOUT_MFA, ALLOW),  # FIDO security keys: the console reads the device
        ("iam:ListMFADevices", USER_WITH_PATH, WITHOUT_MFA, ALLOW),
        ("iam:ResyncMFADevice", USER, WITHOUT_MFA, ALLOW),
        ("iam:ListVirtualMFADevices", "*", WITHOUT_MFA, ALLOW),
        ("iam:DeleteVirtualMFADevice", MFA + "bob", WITHOUT_MFA, ALLOW),
        ("iam:GetUser", USER, WITHOUT_MFA, ALLOW),
        ("iam:ListUsers", "*", WITHOUT_MFA, ALLOW),  # IAM > Users, the user guide's second path
        ("sts:GetSessionToken", "*", WITHOUT_MFA, IMPLICIT_DENY),  # not denied; granted elsewhere
        # Changing one's own password (also at first sign-in, before MFA)
        ("iam:ChangePassword", USER, WITHOUT_MFA, ALLOW),
        ("iam:ChangePassword", USER_WITH_PATH, WITHOUT_MFA, ALLOW),
        ("iam:GetAccountPasswordPolicy", "*", WITHOUT_MFA, ALLOW),
        # Never someone else's
        ("iam:EnableMFADevice", OTHER_USER, WITHOUT_MFA, EXPLICIT_DENY),
        ("iam:EnableMFADevice", OTHER_USER, WITH_MFA, IMPLICIT_DENY),
        ("iam:ChangePassword", OTHER_USER, WITH_MFA, IMPLICIT_DENY),
        ("iam:DeleteVirtualMFADevice", MFA + "alice", WITH_MFA, IMPLICIT_DENY),
        ("iam:EnableMFADevice", f"arn:aws:iam::{ACCOUNT_ID}:user/ops/bobby", WITHOUT_MFA, EXPLICIT_DENY),
        # Removing MFA needs MFA
        ("iam:DeactivateMFADevice", USER, WITHOUT_MFA, EXPLICIT_DENY),
        ("iam:DeactivateMFADevice", USER, WITH_MFA, ALLOW),
        ("iam:DeactivateMFADevice", USER_WITH_PATH, WITH_MFA, ALLOW),
        # Everything else is denied until the user signs in with MFA
        ("s3:ListAllMyBuckets", "*", WITHOUT_MFA, EXPLICIT_DENY),
        ("s3:ListAllMyBuckets", "*", LONG_TERM_KEYS, EXPLICIT_DENY),
        ("iam:CreateAccessKey", USER, WITHOUT_MFA, EXPLICIT_DENY),
        ("s3:ListAllMyBuckets", "*", WITH_MFA, IMPLICIT_DENY),  # not denied; granted elsewhere
    ],
)
def test_force_mfa_policy(action, resource, mfa, expected):
    context = {"aws:username": "bob"}
    if mfa is not None:
        context["aws:MultiFactorAuthPresent"] = mfa
    assert decision(FORCE_MFA["Statement"], action, resource, context) == expected


# What an administrator's own policy may grant besides the group's (IAMFullAccess, in short).
BROAD_IAM_RIGHTS = {"Effect": "Allow", "Action": "iam:*", "Resource": "*"}


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("iam:EnableMFADevice", OTHER_USER),
        ("iam:ResyncMFADevice", OTHER_USER),
        ("iam:ChangePassword", OTHER_USER),
        ("iam:GetMFADevice", OTHER_USER),
        ("iam:CreateVirtualMFADevice", MFA + "alice"),
        ("iam:DeleteVirtualMFADevice", MFA + "alice"),
    ],
)
def test_enforced_user_with_broad_iam_rights_cannot_self_serve_on_other_users_without_mfa(action, resource):
    statements = [*FORCE_MFA["Statement"], BROAD_IAM_RIGHTS]
    without_mfa = {"aws:username": "bob", "aws:MultiFactorAuthPresent": "false"}
    assert decision(statements, action, resource, without_mfa) == EXPLICIT_DENY
    # Signed in with MFA, the group no longer stands in the way of the user's own rights.
    assert decision(statements, action, resource, {**without_mfa, "aws:MultiFactorAuthPresent": "true"}) == ALLOW


def test_enforced_user_with_broad_iam_rights_keeps_self_service_on_themselves_without_mfa():
    statements = [*FORCE_MFA["Statement"], BROAD_IAM_RIGHTS]
    without_mfa = {"aws:username": "bob", "aws:MultiFactorAuthPresent": "false"}
    assert decision(statements, "iam:EnableMFADevice", USER, without_mfa) == ALLOW
    assert decision(statements, "iam:CreateVirtualMFADevice", MFA + "bob", without_mfa) == ALLOW
    assert decision(statements, "iam:CreateAccessKey", USER, without_mfa) == EXPLICIT_DENY


@pytest.mark.parametrize(("action", "resource"), USER_GUIDE_PATH)
def test_every_request_of_the_user_guides_path_is_allowed_without_mfa(action, resource):
    """docs/enforcement-user-guide.md's clicks, for a user with no other permission (the group's alone)."""
    concrete = resource.format(account=ACCOUNT_ID, user="bob")
    assert (
        decision(
            FORCE_MFA["Statement"], action, concrete, {"aws:username": "bob", "aws:MultiFactorAuthPresent": "false"}
        )
        == ALLOW
    )


# --- every policy in every template, through parliament (a maintained IAM policy linter) ---


def _policies(name):
    """(where, document, is_key_policy) for every policy a template creates, with every option on."""
    options = {
        "rule.yaml": {
            "CreateForceMfaGroup": "true",
            "AlarmEmail": "a@example.com",
            "ExecutionRoleName": "reader",
            "Enforcement": "automatic",
        },
        "organization.yaml": {"AlarmEmail": "a@example.com", "Enforcement": "automatic"},
    }
    if name == "member-role.yaml":
        stack = Template.load(name).resolve(
            {
                "FunctionRoleArn": "arn:aws:iam::123456789012:role/f",
                "OrganizationId": "o-abcdefghij",
                "EnforcementFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:e",
                "EnforcementFunctionRoleArn": "arn:aws:iam::123456789012:role/e",
                "EnforcementInvokerRoleArn": "arn:aws:iam::123456789012:role/i",
            }
        )
    else:
        stack = _stack(name, **options[name])
    for logical_id, resource in stack.resources.items():
        properties = resource["Properties"]
        if resource["Type"] == "AWS::IAM::Role":
            for policy in properties.get("Policies", []):
                yield f"{logical_id}/{policy['PolicyName']}", policy["PolicyDocument"], False
        elif resource["Type"] == "AWS::IAM::ManagedPolicy":
            yield logical_id, properties["PolicyDocument"], False
        elif resource["Type"] == "AWS::KMS::Key":
            yield logical_id, properties["KeyPolicy"], True


def _finding_matters(finding, is_key_policy):
    # In a key policy, Resource "*" means the key itself.
    if is_key_policy and finding.issue == "RESOURCE_STAR":
        return False
    # Placeholders for attributes CloudFormation fills in at deployment (e.g. getatt:Queue.Arn, ref:Topic).
    placeholder = str(finding.location.get("string", "")).startswith(("getatt:", "ref:"))
    return not (finding.issue == "INVALID_ARN" and placeholder)


@pytest.mark.parametrize("name", ["rule.yaml", "organization.yaml", "member-role.yaml"])
def test_parliament_finds_nothing_in_any_policy(name):
    from parliament import analyze_policy_string

    checked = 0
    for where, document, is_key_policy in _policies(name):
        findings = analyze_policy_string(json.dumps(document), include_community_auditors=False).findings
        problems = [(f.issue, f.detail) for f in findings if _finding_matters(f, is_key_policy)]
        assert not problems, (where, problems)
        checked += 1
    assert checked >= 1


# --- member-role rollout over hundreds of accounts ---


def test_member_role_stackset_deploys_many_accounts_at_once_and_survives_a_few_failing():
    preferences = _stack("organization.yaml").resources["MemberRoleStackSet"]["Properties"]["OperationPreferences"]
    # CloudFormation's defaults (one account at a time, stop at the first failure) are what this replaces.
    assert preferences["RegionConcurrencyType"] == "PARALLEL"
    # Strict mode would cap the concurrency at the failure tolerance plus one account.
    assert preferences["ConcurrencyMode"] == "SOFT_FAILURE_TOLERANCE"
    concurrent, tolerated = int(preferences["MaxConcurrentPercentage"]), int(preferences["FailureTolerancePercentage"])
    assert (concurrent, tolerated) == (25, 10)
    assert "MaxConcurrentCount" not in preferences and "FailureToleranceCount" not in preferences


def test_member_role_rollout_preferences_are_parameters_within_cloudformations_ranges():
    parameters = ORGANIZATION.parameters
    assert (
        parameters["MemberRoleMaxConcurrentPercentage"]["MinValue"],
        parameters["MemberRoleMaxConcurrentPercentage"]["MaxValue"],
    ) == (1, 100)
    assert (
        parameters["MemberRoleFailureTolerancePercentage"]["MinValue"],
        parameters["MemberRoleFailureTolerancePercentage"]["MaxValue"],
    ) == (0, 100)
    given = _stack(
        "organization.yaml", MemberRoleMaxConcurrentPercentage="50", MemberRoleFailureTolerancePercentage="0"
    )
    preferences = given.resources["MemberRoleStackSet"]["Properties"]["OperationPreferences"]
    assert (preferences["MaxConcurrentPercentage"], preferences["FailureTolerancePercentage"]) == ("50", "0")


# --- the code Lambda installs ---


@pytest.mark.parametrize("name", FUNCTION_STACKS)
def test_every_function_built_from_the_zip_is_pinned_to_the_uploaded_object_version_when_there_is_one(name):
    # Every optional function switched on, so that none escapes the check.
    switched_on = (
        {"Enforcement": "manual", "AlarmEmail": "secops@example.com"}
        if "Enforcement" in TEMPLATES[name].parameters
        else {}
    )
    version = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
    pinned = _of_type(_stack(name, CodeKey="k", CodeObjectVersion=version, **switched_on), "AWS::Lambda::Function")
    assert pinned
    for function in pinned.values():
        assert function["Properties"]["Code"] == {"S3Bucket": "artifacts", "S3Key": "k", "S3ObjectVersion": version}
    for function in _of_type(_stack(name, CodeKey="k", **switched_on), "AWS::Lambda::Function").values():
        assert "S3ObjectVersion" not in function["Properties"]["Code"]


# --- the failed-invocations destination on a first deployment ---


def _references(node):
    """Logical ids a template node names through Ref, Fn::GetAtt or Fn::Sub."""
    found = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".")[0])
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                found |= {name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text)}
            found |= _references(value)
    elif isinstance(node, list):
        for item in node:
            found |= _references(item)
    return found


def _created_before(template, logical_id):
    """Every resource CloudFormation must finish before creating ``logical_id`` (DependsOn and references)."""
    resources = template.body["Resources"]
    pending, found = [logical_id], set()
    while pending:
        resource = resources[pending.pop()]
        depends = resource.get("DependsOn", [])
        direct = ({depends} if isinstance(depends, str) else set(depends)) | _references(resource.get("Properties", {}))
        for name in direct & set(resources) - found:
            found.add(name)
            pending.append(name)
    return found


@pytest.mark.parametrize("name", FUNCTION_STACKS)
def test_the_on_failure_destination_is_configured_only_after_the_role_may_send_to_it(name):
    # Lambda checks the function's role for permission on the destination when the configuration is set
    # (InvalidParameterValueException otherwise), so the grant must exist before, not beside it.
    template = FUNCTION_STACKS[name]
    resources = template.body["Resources"]
    (config_id,) = [k for k, r in resources.items() if r["Type"] == "AWS::Lambda::EventInvokeConfig"]
    before = _created_before(template, config_id)
    assert {"FunctionRole", "Function", "FailedInvocationsQueue"} <= before
    # The grant is inside the role resource: no separate policy that CloudFormation could create later.
    grants = [
        s
        for s in resources["FunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        if isinstance(s, dict) and s.get("Action") == "sqs:SendMessage"
    ]
    assert grants and grants[0]["Resource"] == {"Fn::GetAtt": ["FailedInvocationsQueue", "Arn"]}
    # Any policy attached to the role from outside (a key grant for an encrypted queue, say) comes first too.
    attached = {
        k
        for k, r in resources.items()
        if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::KMS::Key")
        and "FunctionRole" in _references(r.get("Properties", {}))
    }
    assert attached <= before


# --- the checks adopted from AWS's Guard Rules Registry (README: "What the stack creates") ---

# The retention periods CloudWatch Logs accepts (PutRetentionPolicy).
LOG_RETENTION_PERIODS = {
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
}


@pytest.mark.parametrize("name", FUNCTION_STACKS)
def test_function_logs_are_encrypted_with_a_key_cloudwatch_logs_may_use_for_the_stacks_log_groups_only(name):
    # With enforcement on, each stack has a second function whose log lines name users too.
    stack = _stack(name, Enforcement="manual", AlarmEmail="ops@example.com")
    log_groups = [
        stack.resources[function["Properties"]["LoggingConfig"]["LogGroup"].removeprefix("ref:")]["Properties"]
        for function in _of_type(stack, "AWS::Lambda::Function").values()
    ]
    arns = {f"arn:aws:logs:us-east-1:{ACCOUNT_ID}:log-group:{group['LogGroupName']}" for group in log_groups}
    (key_id,) = {group["KmsKeyId"].removeprefix("getatt:").removesuffix(".Arn") for group in log_groups}
    key = stack.resources[key_id]
    assert key["Type"] == "AWS::KMS::Key" and key["Properties"]["EnableKeyRotation"] is True
    for_logs = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "logs.us-east-1.amazonaws.com"}
    ]
    using = [s for s in for_logs if any(a.startswith(("kms:Encrypt", "kms:Decrypt")) for a in s["Action"])]
    assert len(using) == 1
    (condition,) = using[0]["Condition"]["StringEquals"].values()
    assert set([condition] if isinstance(condition, str) else condition) == arns
    unconditioned = [s for s in for_logs if "Condition" not in s]
    assert [s["Action"] for s in unconditioned] == ["kms:DescribeKey"]


@pytest.mark.parametrize("name", FUNCTION_STACKS)
def test_log_retention_can_only_be_a_period_cloudwatch_logs_accepts(name):
    stack = _stack(name)
    (log_group,) = _of_type(stack, "AWS::Logs::LogGroup").values()
    assert int(log_group["Properties"]["RetentionInDays"]) in LOG_RETENTION_PERIODS
    parameter = _template_document(name)["Parameters"]["LogRetentionDays"]
    assert set(parameter["AllowedValues"]) <= LOG_RETENTION_PERIODS


@pytest.mark.parametrize("name", FUNCTION_STACKS)
def test_failed_invocations_queue_is_encrypted_at_rest(name):
    (queue,) = _of_type(_stack(name), "AWS::SQS::Queue").values()
    assert queue["Properties"].get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in queue["Properties"]


# Resource types whose explicit names the registry's CFN_NO_EXPLICIT_RESOURCE_NAMES flags, and the name property.
_NAME_PROPERTIES = {
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::Role": "RoleName",
    "AWS::SSM::Document": "Name",
}


def test_only_the_member_roles_and_the_force_mfa_group_have_fixed_names():
    named = set()
    for name in ("rule.yaml", "organization.yaml", "member-role.yaml", "aggregator.yaml"):
        for logical_id, resource in _template_document(name)["Resources"].items():
            if _NAME_PROPERTIES.get(resource["Type"]) in resource.get("Properties", {}):
                named.add(f"{name}/{logical_id}")
    # The member roles are assumed by name in every account; people add users to the group by hand; the
    # organization conformance pack's remediation names its document and role literally in every account.
    assert named == {
        "member-role.yaml/EvaluationRole",
        "member-role.yaml/ReevaluationRole",
        "rule.yaml/ForceMfaGroup",
        "member-role.yaml/OrganizationForceMfaGroup",
        "member-role.yaml/EnforcementAutomationRole",
        "member-role.yaml/EnforcerRole",
        "member-role.yaml/EnforcementDocument",
    }
