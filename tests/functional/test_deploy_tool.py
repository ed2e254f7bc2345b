"""The real deploy tool, run as a subprocess against moto in server mode (CloudFormation, S3, IAM, Lambda,
SNS, Logs, CloudWatch, Organizations): settings survive a redeploy, and the change set is shown first."""

import os
import subprocess
import sys

import boto3
import pytest

from tools.package_lambda import build

REGION = "us-east-1"
STACK = "iam-user-console-mfa"
pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module")
def lambda_zip(tmp_path_factory):
    path = tmp_path_factory.mktemp("dist") / "rule.zip"
    build(path)
    return path


@pytest.fixture
def account(moto_server):
    """(environment for the tool, a client factory) on an empty emulated account with an artifacts bucket."""
    _, env = moto_server

    def client(service, credentials=None):
        keys = credentials or {"aws_access_key_id": "x", "aws_secret_access_key": "x"}
        return boto3.client(service, endpoint_url=env["AWS_ENDPOINT_URL"], region_name=REGION, **keys)

    client("s3").create_bucket(Bucket="artifacts")
    return env, client


def run_deploy(env, lambda_zip, *args, stdin=None):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "CI"}
    environment.update(env)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.deploy",
            "--bucket",
            "artifacts",
            "--region",
            REGION,
            "--zip",
            str(lambda_zip),
            *args,
        ],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        input=stdin,
    )


def _as_aws_renders_it(value):
    # moto renders a CommaDelimitedList parameter as a Python list ("['a', 'b']"); AWS as "a,b".
    if value.startswith("[") and value.endswith("]"):
        return ",".join(item.strip().strip("'") for item in value[1:-1].split(",") if item.strip())
    return value


def stack_parameters(client, stack=STACK):
    described = client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    return {p["ParameterKey"]: _as_aws_renders_it(p["ParameterValue"]) for p in described["Parameters"]}


def test_first_deployment_shows_the_change_set_then_creates_the_stack(account, lambda_zip):
    env, client = account
    done = run_deploy(
        env, lambda_zip, "--parameter", "GracePeriodDays=14", "--parameter", "ExemptUsers=breakglass", "--yes"
    )
    assert done.returncode == 0, done.stderr
    assert "Change set for stack iam-user-console-mfa (create)" in done.stdout
    assert "GracePeriodDays: '14' (new)" in done.stdout
    assert "Add Function [AWS::Lambda::Function]" in done.stdout
    assert "CREATE_COMPLETE" in done.stdout
    assert stack_parameters(client)["ExemptUsers"] == "breakglass"
    function = client("lambda").get_function(FunctionName=f"{STACK}-iam-user-console-mfa")["Configuration"]
    assert function["Handler"] == "IAM_USER_CONSOLE_MFA.lambda_handler"


def test_redeploy_without_parameters_keeps_every_setting(account, lambda_zip):
    env, client = account
    run_deploy(env, lambda_zip, "--parameter", "GracePeriodDays=14", "--parameter", "ExemptUsers=breakglass", "--yes")
    before = stack_parameters(client)
    again = run_deploy(env, lambda_zip, "--yes")
    assert again.returncode == 0, again.stderr
    assert stack_parameters(client) == before
    assert (before["GracePeriodDays"], before["ExemptUsers"]) == ("14", "breakglass")
    assert "UNCHANGED" in again.stdout


def test_redeploy_with_one_parameter_changes_only_that_one(account, lambda_zip):
    env, client = account
    run_deploy(env, lambda_zip, "--parameter", "GracePeriodDays=14", "--parameter", "ExemptUsers=breakglass", "--yes")
    before = stack_parameters(client)
    changed = run_deploy(env, lambda_zip, "--parameter", "GracePeriodDays=7", "--yes")
    assert changed.returncode == 0, changed.stderr
    after = stack_parameters(client)
    assert {k for k in before if before[k] != after[k]} == {"GracePeriodDays"}
    assert after["GracePeriodDays"] == "7" and after["ExemptUsers"] == "breakglass"
    parameter_lines = changed.stdout.split("  parameters:")[1].split("  resources:")[0].strip().splitlines()
    assert [line.strip() for line in parameter_lines] == ["GracePeriodDays: '14' -> '7'"]


def test_without_yes_or_a_terminal_nothing_is_applied(account, lambda_zip):
    env, client = account
    run_deploy(env, lambda_zip, "--parameter", "GracePeriodDays=14", "--yes")
    refused = run_deploy(env, lambda_zip, "--parameter", "GracePeriodDays=30")
    assert refused.returncode == 2
    assert "GracePeriodDays: '14' -> '30'" in refused.stdout  # shown before refusing
    assert "--yes" in refused.stderr and "nothing was changed" in refused.stderr
    assert stack_parameters(client)["GracePeriodDays"] == "14"
    pending = client("cloudformation").list_change_sets(StackName=STACK)["Summaries"]
    assert [c for c in pending if c["ExecutionStatus"] == "AVAILABLE"] == []


def test_ci_true_applies_without_asking(account, lambda_zip):
    env, client = account
    done = run_deploy({**env, "CI": "true"}, lambda_zip, "--parameter", "GracePeriodDays=3")
    assert done.returncode == 0, done.stderr
    assert stack_parameters(client)["GracePeriodDays"] == "3"


def test_an_unknown_parameter_is_refused_by_name_before_anything_is_deployed(account, lambda_zip):
    env, client = account
    refused = run_deploy(env, lambda_zip, "--parameter", "GracePeriodDay=3", "--yes")
    assert refused.returncode == 2
    assert "GracePeriodDay" in refused.stderr and "GracePeriodDays" in refused.stderr
    assert client("cloudformation").list_stacks()["StackSummaries"] == []


# --- the organization stack ---


@pytest.fixture
def delegated_administrators_see_the_organization(monkeypatch):
    """Real AWS lets a delegated administrator list the organization's accounts and OUs; moto answers
    those calls only in the management account, so route a member account's calls there."""
    from moto.organizations import models

    for name in ("list_accounts", "list_accounts_for_parent", "list_organizational_units_for_parent"):
        original = getattr(models.OrganizationsBackend, name)

        def routed(self, *args, _original=original, **kwargs):
            if self.org is None and self.account_id in models.organizations_backends.master_accounts:
                management, partition = models.organizations_backends.master_accounts[self.account_id]
                self = models.organizations_backends[management][partition]
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(models.OrganizationsBackend, name, routed)


@pytest.fixture
def organization(account, delegated_administrators_see_the_organization):
    """Management account 123456789012; OU 'in-scope' with two accounts, OU 'elsewhere' with one."""
    env, client = account
    organizations = client("organizations")
    organization_id = organizations.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root = organizations.list_roots()["Roots"][0]["Id"]
    in_scope = organizations.create_organizational_unit(ParentId=root, Name="in-scope")["OrganizationalUnit"]["Id"]
    elsewhere = organizations.create_organizational_unit(ParentId=root, Name="elsewhere")["OrganizationalUnit"]["Id"]
    accounts = {}
    for name, unit in [("admin", in_scope), ("member", in_scope), ("outsider-ou", elsewhere)]:
        status = organizations.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
        organizations.move_account(AccountId=status["AccountId"], SourceParentId=root, DestinationParentId=unit)
        accounts[name] = status["AccountId"]
    return env, client, organization_id, {"root": root, "in-scope": in_scope, "elsewhere": elsewhere}, accounts


def _credentials_in(client, account_id):
    credentials = client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole", RoleSessionName="deploy"
    )["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
    }


def test_from_the_management_account_the_role_is_created_there_and_accounts_outside_the_ous_are_left_out(
    organization, lambda_zip
):
    env, client, organization_id, units, accounts = organization
    done = run_deploy(
        env,
        lambda_zip,
        "--organization",
        "--parameter",
        f"DeploymentOrganizationalUnitIds={units['in-scope']}",
        "--yes",
    )
    assert done.returncode == 0, done.stderr
    parameters = stack_parameters(client)
    assert parameters["OrganizationId"] == organization_id
    assert parameters["CallAs"] == "SELF"
    assert parameters["AccountsWithoutMemberRole"] == accounts["outsider-ou"]
    # The management account's member role, from the same template, by this stack.
    role = client("iam").get_role(RoleName="iam-user-console-mfa-reader")["Role"]
    assert role["Arn"].startswith("arn:aws:iam::123456789012:")
    assert "member role in the management account 123456789012: created by this stack" in done.stdout


def test_deployed_to_the_root_by_default_so_every_account_gets_the_role(organization, lambda_zip):
    env, client, _, units, _ = organization
    done = run_deploy(env, lambda_zip, "--organization", "--yes")
    assert done.returncode == 0, done.stderr
    parameters = stack_parameters(client)
    assert parameters["DeploymentOrganizationalUnitIds"] == units["root"]
    assert parameters["AccountsWithoutMemberRole"] == ""


def test_a_delegated_administrator_deploys_as_delegated_admin_and_the_management_account_is_left_out(
    organization, lambda_zip
):
    env, client, _, units, accounts = organization
    admin = {**env, **_credentials_in(client, accounts["admin"])}
    done = run_deploy(
        admin, lambda_zip, "--organization", "--parameter", f"DeploymentOrganizationalUnitIds={units['root']}", "--yes"
    )
    assert done.returncode == 0, done.stderr
    admin_keys = {k.lower(): v for k, v in _credentials_in(client, accounts["admin"]).items()}
    parameters = stack_parameters(lambda service: client(service, admin_keys))
    assert parameters["CallAs"] == "DELEGATED_ADMIN"
    assert parameters["AccountsWithoutMemberRole"] == "123456789012"
    assert "deploy member-role.yaml there" in done.stdout


def test_a_delegated_administrator_includes_the_management_account_once_its_role_is_deployed(organization, lambda_zip):
    env, client, _, _, accounts = organization
    function_role = f"arn:aws:iam::{accounts['admin']}:role/console-mfa-function"
    organization_id = client("organizations").describe_organization()["Organization"]["Id"]
    # With the management account's own credentials:
    member_role = run_deploy(
        env,
        lambda_zip,
        "--member-role",
        "--parameter",
        f"FunctionRoleArn={function_role}",
        "--parameter",
        f"OrganizationId={organization_id}",
        "--yes",
    )
    assert member_role.returncode == 0, member_role.stderr
    assert client("iam").get_role(RoleName="iam-user-console-mfa-reader")["Role"]["RoleName"]
    admin = {**env, **_credentials_in(client, accounts["admin"])}
    done = run_deploy(admin, lambda_zip, "--organization", "--management-account-has-role", "--yes")
    assert done.returncode == 0, done.stderr
    admin_keys = {k.lower(): v for k, v in _credentials_in(client, accounts["admin"]).items()}
    assert stack_parameters(lambda service: client(service, admin_keys))["AccountsWithoutMemberRole"] == ""


def test_call_as_that_contradicts_the_caller_is_refused(organization, lambda_zip):
    env, client, *_ = organization
    refused = run_deploy(env, lambda_zip, "--organization", "--parameter", "CallAs=DELEGATED_ADMIN", "--yes")
    assert refused.returncode == 2
    assert "must deploy as SELF" in refused.stderr
