"""The account stack's remediation as SSM runs it: the document's script fails the automation on any function
error, and the function acts only for a running automation of the stack's own document for that UserId.

moto runs no SSM Automation: mfa_audit.emulation.automation runs rule.yaml's own script step and answers
GetAutomationExecution, and the script's Lambda Invoke is the handler in-process (a raise becomes Lambda's
FunctionError, as Lambda returns it).
"""

from datetime import datetime, timedelta, timezone

import boto3
import pytest
from console_mfa.exceptions import UnconfirmedAutomationError
from enforcement_handler import handler

from mfa_audit.emulation.automation import EmulatedAutomation, EmulatedLambda, run_enforcement_document
from mfa_audit.templates import Template
from tests.functional.enforcement_stack import DOCUMENT_NAME, LEDGER, deploy_enforcement

ACCOUNT = "123456789012"
STACK = Template.load("rule.yaml").resolve(
    {"CodeBucket": "artifacts", "Enforcement": "automatic", "AlarmEmail": "secops@example.com"}
)
DOCUMENT = STACK.resources["EnforcementDocument"]["Properties"]["Content"]
GROUP = STACK.resources["EnforcementFunction"]["Properties"]["Environment"]["Variables"]["FORCE_MFA_GROUP"]


@pytest.fixture
def account(config, iam, monkeypatch):
    """The stack's group, ledger, topic and kill switch, the function's environment as the template sets it,
    enforcement started long ago (so the start's grace is over), and SSM."""
    stack = deploy_enforcement(monkeypatch, iam, NoticeSender="")
    assert stack.environment["ENFORCEMENT_DOCUMENT"] == DOCUMENT_NAME  # the stack's own document
    config.rule_parameters = {"Enforcement": "automatic", "GracePeriodDays": "14"}
    with EmulatedAutomation() as automation, EmulatedLambda(handler) as function:
        # The first daily run, a month ago: users existing then have had their grace since.
        handler({"action": "notify"}, clock=lambda: datetime.now(timezone.utc) - timedelta(days=30))
        yield {"automation": automation, "function": function}


def group_members(iam):
    return {u["UserName"] for u in iam.get_group(GroupName=GROUP)["Users"]}


def run_document(account, user):
    return run_enforcement_document(DOCUMENT, DOCUMENT_NAME, {"UserId": user["UserId"]}, ACCOUNT, account["automation"])


def only_execution(account):
    (execution,) = account["automation"].executions.values()
    return execution


def test_the_document_invokes_the_stacks_function_and_succeeds_with_its_outcome(account, add_user, iam):
    bob = add_user("bob", password=True, password_age_days=30)
    assert run_document(account, bob)["outcome"] == "enforced"
    assert account["function"].invoked == [STACK.resources["EnforcementFunction"]["Properties"]["FunctionName"]]
    assert only_execution(account)["AutomationExecutionStatus"] == "Success"
    assert group_members(iam) == {"bob"}


def test_a_refusal_is_a_successful_automation_named_in_its_result(account, add_user):
    new = add_user("new-hire", password=True, password_age_days=2)
    assert run_document(account, new)["outcome"] == "in_grace"
    assert only_execution(account)["AutomationExecutionStatus"] == "Success"


def test_a_function_error_fails_the_automation(account, add_user, iam, monkeypatch):
    monkeypatch.setenv("OPERATORS_TOPIC_ARN", "not-a-topic")
    bob = add_user("bob", password=True, password_age_days=30)
    with pytest.raises(RuntimeError, match=r"failed \(Unhandled\).*OPERATORS_TOPIC_ARN"):
        run_document(account, bob)
    assert only_execution(account)["AutomationExecutionStatus"] == "Failed"
    assert group_members(iam) == set()


@pytest.mark.parametrize("payload", [None, {}, {"errorMessage": "Task timed out after 300.00 seconds"}])
def test_a_result_without_an_outcome_fails_the_automation(account, add_user, payload):
    account["function"].function = lambda event: payload
    with pytest.raises(RuntimeError, match="returned no outcome"):
        run_document(account, add_user("bob", password=True, password_age_days=30))
    assert only_execution(account)["AutomationExecutionStatus"] == "Failed"


# --- only a running automation of the stack's own document, for that UserId, has a user enforced ---


def invoke_directly(user, execution_id=None):
    """What anyone allowed lambda:InvokeFunction can send, without (or with) an automation's id."""
    event = {"action": "enforce", "UserId": user["UserId"]}
    if execution_id is not None:
        event["ExecutionId"] = execution_id
    return handler(event)


def test_an_invocation_without_an_automation_changes_nothing(account, add_user, iam):
    bob = add_user("bob", password=True, password_age_days=30)
    ledger = boto3.client("dynamodb", region_name="us-east-1")
    before = ledger.scan(TableName=LEDGER)["Items"]
    with pytest.raises(UnconfirmedAutomationError, match="not an automation execution id"):
        invoke_directly(bob)
    assert group_members(iam) == set()
    assert ledger.scan(TableName=LEDGER)["Items"] == before


@pytest.mark.parametrize(
    "document, status, other_user, why",
    [
        ("SomeoneElses-Document", "InProgress", False, "not this account's"),
        # A document of the same name shared from another account: run by its ARN, never this stack's own.
        (f"arn:aws:ssm:us-east-1:999999999999:document/{DOCUMENT_NAME}", "InProgress", False, "not this account's"),
        (DOCUMENT_NAME, "Success", False, "its status is 'Success'"),
        (DOCUMENT_NAME, "InProgress", True, "another user's"),
    ],
)
def test_an_automation_of_another_document_state_or_user_is_refused(
    account, add_user, iam, document, status, other_user, why
):
    bob = add_user("bob", password=True, password_age_days=30)
    carol = add_user("carol", password=True, password_age_days=30)
    execution = account["automation"].start(ACCOUNT, document, (carol if other_user else bob)["UserId"], status)
    with pytest.raises(UnconfirmedAutomationError, match=why):
        invoke_directly(bob, execution)
    assert group_members(iam) == set()


def test_the_stacks_own_document_is_confirmed_by_its_arn_too(account, add_user, iam):
    bob = add_user("bob", password=True, password_age_days=30)
    own = f"arn:aws:ssm:us-east-1:{ACCOUNT}:document/{DOCUMENT_NAME}"
    execution = account["automation"].start(ACCOUNT, own, bob["UserId"])
    assert invoke_directly(bob, execution)["outcome"] == "enforced"
