"""The organization conformance-pack route with enforcement: the three templates agree on the fixed names,
the pack's remediation is what AWS Config accepts, and the member resources exist only when asked for."""

import pytest

from mfa_audit.templates import Template

ORGANIZATION_ID = "o-abcdefghij"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:console-mfa-enforce-mfa"
FUNCTION_ROLE_ARN = "arn:aws:iam::123456789012:role/console-mfa-EnforcementFunctionRole"
INVOKER_ROLE_ARN = "arn:aws:iam::123456789012:role/console-mfa-EnforcementInvokerRole"


def organization(**given):
    return Template.load("organization.yaml").resolve(
        {
            "CodeBucket": "artifacts",
            "OrganizationId": ORGANIZATION_ID,
            "MemberRoleTemplateUrl": "https://artifacts.s3.us-east-1.amazonaws.com/member-role.yaml",
            "DeploymentOrganizationalUnitIds": "r-ab12",
            "AlarmEmail": "secops@example.com",
            **given,
        }
    )


def member(enforcement=True):
    given = {"FunctionRoleArn": "arn:aws:iam::123456789012:role/rule", "OrganizationId": ORGANIZATION_ID}
    if enforcement:
        given |= {
            "EnforcementFunctionArn": FUNCTION_ARN,
            "EnforcementFunctionRoleArn": FUNCTION_ROLE_ARN,
            "EnforcementInvokerRoleArn": INVOKER_ROLE_ARN,
        }
    return Template.load("member-role.yaml").resolve(given)


def pack(enforcement):
    return Template.load("conformance-pack.yaml").resolve({"FunctionArn": FUNCTION_ARN, "Enforcement": enforcement})


def test_member_accounts_get_the_same_force_mfa_policy_as_the_account_stack():
    account_stack = Template.load("rule.yaml").resolve({"CodeBucket": "b", "CreateForceMfaGroup": "true"})
    expected = account_stack.resources["ForceMfaPolicy"]["Properties"]["PolicyDocument"]
    assert member().resources["OrganizationForceMfaPolicy"]["Properties"]["PolicyDocument"] == expected


def test_member_accounts_get_no_enforcement_resources_unless_asked():
    enforcement = {"OrganizationForceMfaPolicy", "OrganizationForceMfaGroup", "EnforcementAutomationRole"}
    enforcement |= {"EnforcementDocument", "EnforcerRole"}
    assert enforcement <= set(member().resources)
    assert not enforcement & set(member(enforcement=False).resources)


def test_pack_remediation_names_the_member_document_and_automation_role_literally():
    members = member().resources
    raw = Template.load("conformance-pack.yaml").body["Resources"]["EnforcementRemediation"]["Properties"]
    (role_arn,) = raw["Parameters"]["AutomationAssumeRole"]["StaticValue"]["Values"]
    # AWS Config takes no intrinsic function for the role: a plain string, named as in every member account.
    assert isinstance(role_arn, str)
    assert role_arn.endswith(":role/" + members["EnforcementAutomationRole"]["Properties"]["RoleName"])
    assert raw["TargetId"] == members["EnforcementDocument"]["Properties"]["Name"]
    assert raw["ConfigRuleName"] == pack("manual").resources["IamUserConsoleMfa"]["Properties"]["ConfigRuleName"]
    document_parameters = members["EnforcementDocument"]["Properties"]["Content"]["parameters"]
    assert set(raw["Parameters"]) == set(document_parameters) == {"AutomationAssumeRole", "UserId"}
    assert raw["Parameters"]["UserId"] == {"ResourceValue": {"Value": "RESOURCE_ID"}}


@pytest.mark.parametrize("enforcement, automatic", [("manual", False), ("automatic", True)])
def test_pack_carries_the_remediation_automatic_only_when_asked(enforcement, automatic):
    stack = pack(enforcement)
    remediation = stack.resources["EnforcementRemediation"]["Properties"]
    assert remediation["Automatic"] is automatic
    assert 1 <= remediation["MaximumAutomaticAttempts"] <= 25
    assert stack.resources["IamUserConsoleMfa"]["Properties"]["InputParameters"]["Enforcement"] == enforcement


def test_pack_without_enforcement_has_no_remediation_and_no_enforcement_parameter():
    stack = pack("off")
    assert "EnforcementRemediation" not in stack.resources
    assert "Enforcement" not in stack.resources["IamUserConsoleMfa"]["Properties"]["InputParameters"]


def test_organization_function_uses_the_names_the_member_accounts_get():
    members = member().resources
    variables = organization(Enforcement="automatic").resources["EnforcementFunction"]["Properties"]["Environment"]
    variables = variables["Variables"]
    assert variables["FORCE_MFA_GROUP"] == members["OrganizationForceMfaGroup"]["Properties"]["GroupName"]
    assert variables["MEMBER_ENFORCER_ROLE"] == members["EnforcerRole"]["Properties"]["RoleName"]
    assert variables["ENFORCEMENT_DOCUMENT"] == members["EnforcementDocument"]["Properties"]["Name"]
    assert variables["ORGANIZATION_ID"] == ORGANIZATION_ID
    role = organization(Enforcement="automatic").resources["EnforcementFunctionRole"]
    (assume,) = [
        s for s in role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"] if s["Action"] == "sts:AssumeRole"
    ]
    assert assume["Resource"].endswith(":role/" + variables["MEMBER_ENFORCER_ROLE"])
    assert assume["Condition"] == {"StringEquals": {"aws:ResourceOrgID": ORGANIZATION_ID}}
    (add,) = [
        s
        for s in members["EnforcerRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        if "iam:AddUserToGroup" in s["Action"]
    ]
    assert add["Resource"].endswith(":group/" + variables["FORCE_MFA_GROUP"])


def test_only_its_daily_schedule_and_the_members_automation_role_may_invoke_the_function():
    resources = organization(Enforcement="manual").resources
    permissions = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::Permission"]
    # Guard Rules Registry LAMBDA_NO_WILDCARD_PRINCIPALS: no principal but EventBridge, for the stack's own rule.
    (daily,) = [p for p in permissions if p["FunctionName"] == "getatt:EnforcementFunction.Arn"]
    assert (daily["Principal"], daily["SourceArn"]) == ("events.amazonaws.com", "getatt:EnforcementDailySchedule.Arn")
    invoker = resources["EnforcementInvokerRole"]["Properties"]
    automation_role = member().resources["EnforcementAutomationRole"]["Properties"]["RoleName"]
    assert invoker["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:PrincipalOrgID": ORGANIZATION_ID},
                "ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::*:role/{automation_role}"},
            },
        }
    ]
    (invoke,) = invoker["Policies"][0]["PolicyDocument"]["Statement"]
    assert (invoke["Action"], invoke["Resource"]) == ("lambda:InvokeFunction", "getatt:EnforcementFunction.Arn")
    # The member's automation role may only assume that invoker role.
    (statement,) = member().resources["EnforcementAutomationRole"]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ]
    assert (statement["Action"], statement["Resource"]) == ("sts:AssumeRole", INVOKER_ROLE_ARN)
    trust = member().resources["EnforcerRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [
        {
            "Effect": "Allow",
            "Principal": {"AWS": FUNCTION_ROLE_ARN},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORGANIZATION_ID}},
        }
    ]


@pytest.mark.parametrize(("given", "reserved"), [({}, "10"), ({"EnforcementReservedConcurrency": "25"}, "25")])
def test_the_organization_function_has_reserved_concurrency_by_default(given, reserved):
    function = organization(Enforcement="manual", **given).resources["EnforcementFunction"]["Properties"]
    assert function["ReservedConcurrentExecutions"] == reserved


def test_the_organization_function_reserves_nothing_when_asked_for_none():
    function = organization(Enforcement="manual", EnforcementReservedConcurrency="").resources["EnforcementFunction"]
    assert "ReservedConcurrentExecutions" not in function["Properties"]


def test_the_organization_ledger_is_encrypted_with_the_stacks_key():
    sse = organization(Enforcement="manual").resources["EnforcementLedger"]["Properties"]["SSESpecification"]
    assert sse == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": "getatt:FunctionLogKey.Arn"}


def test_member_document_invokes_the_organizations_function_with_its_own_account_and_execution():
    properties = member().resources["EnforcementDocument"]["Properties"]
    # A named document: a changed content must become a new version, not a replacement under the same name.
    assert properties["UpdateMethod"] == "NewVersion"
    (step,) = properties["Content"]["mainSteps"]
    assert step["action"] == "aws:executeScript"
    assert step["inputs"]["InputPayload"] == {
        "FunctionName": FUNCTION_ARN,
        "UserId": "{{ UserId }}",
        "ExecutionId": "{{ automation:EXECUTION_ID }}",
        "AccountId": "{{ global:ACCOUNT_ID }}",
        "InvokerRoleArn": INVOKER_ROLE_ARN,
    }


def test_both_documents_run_the_same_script_step():
    account_stack = Template.load("rule.yaml").resolve(
        {"CodeBucket": "b", "Enforcement": "manual", "AlarmEmail": "a@b.c"}
    )
    (account_step,) = account_stack.resources["EnforcementDocument"]["Properties"]["Content"]["mainSteps"]
    (member_step,) = member().resources["EnforcementDocument"]["Properties"]["Content"]["mainSteps"]
    same = {k: v for k, v in account_step.items() if k != "inputs"}
    assert same == {k: v for k, v in member_step.items() if k != "inputs"}
    for key in ("Runtime", "Handler", "Script"):
        assert account_step["inputs"][key] == member_step["inputs"][key]


def test_the_packs_remediation_depends_on_its_rule():
    raw = Template.load("conformance-pack.yaml").body["Resources"]["EnforcementRemediation"]
    assert raw["DependsOn"] == "IamUserConsoleMfa"


@pytest.mark.parametrize("enforcement, rule_created", [("off", True), ("manual", False), ("automatic", False)])
def test_the_organization_rule_gives_way_to_the_pack_when_enforcement_is_on(enforcement, rule_created):
    stack = organization(Enforcement=enforcement)
    assert ("OrganizationRule" in stack.resources) is rule_created
    assert ("EnforcementFunction" in stack.resources) is not rule_created
    stackset = {
        p["ParameterKey"]: p["ParameterValue"]
        for p in stack.resources["MemberRoleStackSet"]["Properties"]["Parameters"]
    }
    management = stack.resources["ManagementAccountMemberRole"]["Properties"]["Parameters"]
    if rule_created:
        assert stackset["EnforcementFunctionArn"] == management["EnforcementFunctionArn"] == ""
    else:
        assert stackset["EnforcementFunctionArn"] == management["EnforcementFunctionArn"] != ""
        assert stackset["EnforcementFunctionRoleArn"] == management["EnforcementFunctionRoleArn"] != ""
