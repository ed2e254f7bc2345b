"""The deploy tool's enforcement: the account stack's parameters, the refusal without an operators' topic, and the
organization conformance-pack route set up in order (the organization stack and its StackSet, then the pack).

Everything runs against moto in server mode. PutOrganizationConformancePack (and Describe...) are not in moto:
for the organization route the tool runs in-process (its main(), unchanged) and those calls are answered by an
emulator built on the project's JsonServiceEmulator (Config's endpoint only), which also records what moto's
CloudFormation held at the moment the pack was put.
"""

import json

import boto3
import pytest

from mfa_audit.emulation.services import EmulatedError, JsonServiceEmulator
from tests.functional import test_deploy_tool as deploy_tool_tests
from tests.functional.test_deploy_tool import REGION, STACK, run_deploy, stack_parameters
from tools.deploy.cli import main
from tools.deploy.conformance_pack import CONFORMANCE_PACK_NAME, PACK_ROLE_PLACEHOLDER

# The deploy tool's own fixtures: the moto server's account with its artifacts bucket, the organization.
lambda_zip = deploy_tool_tests.lambda_zip
account = deploy_tool_tests.account
organization = deploy_tool_tests.organization
delegated_administrators_see_the_organization = deploy_tool_tests.delegated_administrators_see_the_organization
cloudformation_creates_stack_sets = deploy_tool_tests.cloudformation_creates_stack_sets

pytestmark = pytest.mark.filterwarnings("ignore")


# --- the account stack ---


def test_enforcement_without_an_operators_topic_is_refused_before_anything_is_uploaded_or_changed(account, lambda_zip):
    env, client = account
    refused = run_deploy(env, lambda_zip, "--enforcement", "manual", "--yes")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "deploy: Enforcement=manual needs AlarmEmail or AlarmTopicArn (every enforcement and every user held back "
        "by MaxEnforcementsPerDay goes to that topic); nothing was changed"
    ]
    assert client("cloudformation").list_stacks()["StackSummaries"] == []
    assert client("s3").list_objects_v2(Bucket="artifacts").get("KeyCount", 0) == 0


def test_enforcement_flags_set_the_account_stacks_parameters(account, lambda_zip):
    env, client = account
    done = run_deploy(
        env,
        lambda_zip,
        "--enforcement",
        "automatic",
        "--max-enforcements-per-day",
        "3",
        "--notice-sender",
        "mfa@example.com",
        "--parameter",
        "AlarmEmail=secops@example.com",
        "--yes",
    )
    assert done.returncode == 0, done.stderr
    parameters = stack_parameters(client)
    assert (parameters["Enforcement"], parameters["MaxEnforcementsPerDay"], parameters["NoticeSender"]) == (
        "automatic",
        "3",
        "mfa@example.com",
    )


def test_a_topic_kept_from_the_deployed_stack_is_enough_to_turn_enforcement_on(account, lambda_zip):
    env, client = account
    assert run_deploy(env, lambda_zip, "--parameter", "AlarmEmail=secops@example.com", "--yes").returncode == 0
    done = run_deploy(env, lambda_zip, "--enforcement", "manual", "--yes")
    assert done.returncode == 0, done.stderr
    assert stack_parameters(client)["Enforcement"] == "manual"
    assert stack_parameters(client)["AlarmEmail"] == "secops@example.com"


def test_a_setting_given_as_flag_and_parameter_is_refused(account, lambda_zip):
    env, _ = account
    refused = run_deploy(env, lambda_zip, "--enforcement", "manual", "--parameter", "Enforcement=off", "--yes")
    assert refused.returncode == 2
    assert "Enforcement is given both as a flag and as a parameter" in refused.stderr


# --- the organization conformance-pack route ---


class EmulatedOrganizationPacks(JsonServiceEmulator):
    """Config's organization conformance-pack calls; each put records what CloudFormation held at that moment."""

    def __init__(self, endpoint):
        super().__init__("config-service")
        self.endpoint = endpoint
        self.packs: dict[str, dict] = {}
        self.stack_status_when_put: list[str] = []
        self.operations = {
            "PutOrganizationConformancePack": self._put,
            "DescribeOrganizationConformancePacks": self._describe,
        }

    def _put(self, params):
        cloudformation = boto3.client(
            "cloudformation", endpoint_url=self.endpoint, region_name=REGION, aws_access_key_id="x",
            aws_secret_access_key="x",
        )  # fmt: skip
        self.stack_status_when_put.append(cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"])
        self.packs[params["OrganizationConformancePackName"]] = params
        arn = f"arn:aws:config:{REGION}:123456789012:organization-conformance-pack/{params['OrganizationConformancePackName']}-x"
        return {"OrganizationConformancePackArn": arn}

    def _describe(self, params):
        names = params.get("OrganizationConformancePackNames") or list(self.packs)
        missing = [name for name in names if name not in self.packs]
        if missing:
            raise EmulatedError("NoSuchOrganizationConformancePackException", 400, f"no pack {missing}")
        return {"OrganizationConformancePacks": [self.packs[name] for name in names]}


@pytest.fixture
def in_process(organization, monkeypatch):
    """The tool's main() in this process, against the moto server, with Config's pack calls emulated."""
    env, *_ = organization
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CI", raising=False)
    with EmulatedOrganizationPacks(env["AWS_ENDPOINT_URL"]) as packs:
        yield organization, packs


def run_in_process(lambda_zip, *args):
    return main(["--bucket", "artifacts", "--region", REGION, "--zip", str(lambda_zip), *args])


def _outputs(client):
    stack = client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def test_organization_enforcement_deploys_the_member_resources_first_then_the_pack_with_its_remediation(
    in_process, lambda_zip, capsys
):
    (_, client, _, units, accounts), packs = in_process
    code = run_in_process(
        lambda_zip,
        "--organization",
        "--enforcement",
        "automatic",
        "--parameter",
        "AlarmEmail=secops@example.com",
        "--parameter",
        f"DeploymentOrganizationalUnitIds={units['in-scope']}",
        "--parameter",
        "GracePeriodDays=14",
        "--yes",
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "route: the organization conformance pack with the rule and its remediation (Enforcement=automatic)" in out
    outputs = _outputs(client)
    # The StackSet carries the enforcement function to every member account.
    stack_set = client("cloudformation").describe_stack_set(StackSetName=f"{STACK}-member-role")["StackSet"]
    stack_set_parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack_set["Parameters"]}
    assert stack_set_parameters["EnforcementFunctionArn"] == outputs["EnforcementFunctionArn"]
    # The pack came after the stack (and with it the StackSet) had finished.
    assert packs.stack_status_when_put == ["CREATE_COMPLETE"]
    pack = packs.packs[CONFORMANCE_PACK_NAME]
    inputs = {p["ParameterName"]: p["ParameterValue"] for p in pack["ConformancePackInputParameters"]}
    assert inputs["FunctionArn"] == outputs["FunctionArn"]
    assert inputs["ExecutionRoleName"] == "iam-user-console-mfa-reader"
    assert (inputs["Enforcement"], inputs["GracePeriodDays"]) == ("automatic", "14")
    assert "arn:aws:iam::123456789012:role/iam-user-console-mfa-enforcement-automation" in pack["TemplateBody"]
    assert PACK_ROLE_PLACEHOLDER not in pack["TemplateBody"]
    # Accounts the member role (and so the automation role) does not reach are left out of the pack too.
    assert pack["ExcludedAccounts"] == [accounts["outsider-ou"]]


def test_organization_enforcement_without_a_topic_is_refused_before_anything_is_deployed(
    in_process, lambda_zip, capsys
):
    (_, client, *_), packs = in_process
    assert run_in_process(lambda_zip, "--organization", "--enforcement", "manual", "--yes") == 2
    assert "Enforcement=manual needs AlarmEmail or AlarmTopicArn" in capsys.readouterr().err
    assert client("cloudformation").list_stacks()["StackSummaries"] == []
    assert packs.packs == {}


def test_without_enforcement_the_organization_rule_route_puts_no_pack(in_process, lambda_zip, capsys):
    _, packs = in_process
    assert run_in_process(lambda_zip, "--organization", "--yes") == 0
    assert "route: the organization Config rule, without enforcement" in capsys.readouterr().out
    assert packs.packs == {}


def test_turning_the_organization_routes_enforcement_off_is_refused_while_the_pack_exists(
    in_process, lambda_zip, capsys
):
    (_, client, *_), packs = in_process
    on = ["--organization", "--enforcement", "manual", "--parameter", "AlarmEmail=secops@example.com", "--yes"]
    assert run_in_process(lambda_zip, *on) == 0
    capsys.readouterr()
    assert run_in_process(lambda_zip, "--organization", "--enforcement", "off", "--yes") == 2
    error = capsys.readouterr().err
    assert "delete-organization-conformance-pack --organization-conformance-pack-name iam-user-console-mfa" in error
    assert stack_parameters(client)["Enforcement"] == "manual"
    assert json.dumps(list(packs.packs)) == '["iam-user-console-mfa"]'
