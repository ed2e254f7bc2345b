"""The real deploy tool against moto in server mode (CloudFormation, S3, IAM, Lambda, SNS, Logs, CloudWatch,
Organizations): settings survive a redeploy, and the change set is shown first.

The tool runs in this process (its ``main``, with the environment a shell would give it), one moto server
serving the whole module; the tests of what a terminal and the exit status see run it as a subprocess.
"""

import base64
import contextlib
import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock
from urllib.parse import urlparse

import boto3
import pytest

from tools.deploy.cli import main
from tools.package_lambda import build

ROOT = Path(__file__).resolve().parents[2]

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


def _tool_environment(env):
    """This environment without AWS settings or CI, plus ``env``: what the tool sees when run from a shell."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "CI"}, **env}


def _arguments(lambda_zip, args):
    return ["--bucket", "artifacts", "--region", REGION, "--zip", str(lambda_zip), *args]


def run_deploy(env, lambda_zip, *args):
    """``python -m tools.deploy ...`` in this process: its exit status and what it printed."""
    stdout, stderr = io.StringIO(), io.StringIO()
    arguments = _arguments(lambda_zip, args)
    with (
        mock.patch.dict(os.environ, _tool_environment(env), clear=True),
        mock.patch.object(sys, "stdin", io.StringIO()),
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
    ):
        try:
            status = main(arguments)
        except SystemExit as exit:  # argparse's refusals
            status = exit.code
    return subprocess.CompletedProcess(arguments, status, stdout.getvalue(), stderr.getvalue())


def run_deploy_process(env, lambda_zip, *args):
    """``python -m tools.deploy ...`` as a process without a terminal: for what only a real process shows."""
    return subprocess.run(
        [sys.executable, "-m", "tools.deploy", *_arguments(lambda_zip, args)],
        capture_output=True,
        text=True,
        env=_tool_environment(env),
        timeout=300,
        stdin=subprocess.DEVNULL,
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
    refused = run_deploy_process(env, lambda_zip, "--parameter", "GracePeriodDays=30")
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


def _accounts_under(caller, parent_ids):
    """The accounts a service-managed StackSet reaches: every account below the OUs, never the management account."""
    from moto.organizations import models

    backend = models.organizations_backends[caller]["aws"]
    if backend.org is None and caller in models.organizations_backends.master_accounts:
        management, partition = models.organizations_backends.master_accounts[caller]
        backend = models.organizations_backends[management][partition]
    units, pending = set(), list(parent_ids)
    while pending:
        unit = pending.pop()
        units.add(unit)
        pending += [ou.id for ou in backend.ou if ou.parent_id == unit]
    return [a.id for a in backend.accounts if a.parent_id in units and a.id != backend.org.master_account_id]


class EmulatedStackSetResource:
    """AWS::CloudFormation::StackSet as CloudFormation creates it: the template read from its S3 URL at that
    moment, then instances in every account of the target OUs (moto's CloudFormation skips this resource)."""

    def __init__(self, stack_set):
        self.stack_set = stack_set

    @property
    def physical_resource_id(self):
        return f"{self.stack_set.name}:{self.stack_set.id}"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        from moto.cloudformation.models import cloudformation_backends
        from moto.s3.models import s3_backends

        properties = cloudformation_json["Properties"]
        url = urlparse(properties["TemplateURL"])
        template = s3_backends[account_id]["aws"].get_object(url.hostname.split(".s3.")[0], url.path.lstrip("/"))
        backend = cloudformation_backends[account_id][region_name]
        parameters = {p["ParameterKey"]: p["ParameterValue"] for p in properties.get("Parameters", [])}
        stack_set = backend.create_stack_set(
            name=properties["StackSetName"],
            template=template.value.decode(),
            parameters=parameters,
            tags={},
            permission_model=properties["PermissionModel"],
            admin_role=None,
            exec_role=None,
            description=properties.get("Description"),
        )
        stack_set.operation_preferences = properties.get("OperationPreferences")
        accounts = []
        for group in properties["StackInstancesGroup"]:
            targets = group["DeploymentTargets"]
            reached = _accounts_under(account_id, targets["OrganizationalUnitIds"])
            if targets.get("AccountFilterType") == "DIFFERENCE":
                reached = [a for a in reached if a not in (targets.get("Accounts") or [])]
            accounts += [a for a in reached if a not in accounts]
        regions = sorted({r for g in properties["StackInstancesGroup"] for r in g["Regions"]})
        stack_set.instances.create_instances(
            accounts, regions, properties.get("Parameters", []), {}, permission_model="SERVICE_MANAGED"
        )
        stack_set._create_operation(
            operation_id="create-1", action="CREATE", status="SUCCEEDED", accounts=accounts, regions=regions
        )
        return cls(stack_set)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        pass

    def delete(self, account_id, region_name):
        pass


@pytest.fixture
def cloudformation_creates_stack_sets(monkeypatch):
    from moto.cloudformation import parsing

    original = parsing.resource_class_from_type

    def resource_class_from_type(resource_type):
        if resource_type == "AWS::CloudFormation::StackSet":
            return EmulatedStackSetResource
        return original(resource_type)

    monkeypatch.setattr(parsing, "resource_class_from_type", resource_class_from_type)


def _stack_set(account_id="123456789012", name=f"{STACK}-member-role"):
    from moto.cloudformation.models import cloudformation_backends

    return cloudformation_backends[account_id][REGION].describe_stack_set(name)


@pytest.fixture
def organization(account, delegated_administrators_see_the_organization, cloudformation_creates_stack_sets):
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


def test_stackset_rolls_out_in_parallel_with_the_documented_failure_tolerance(organization, lambda_zip):
    env, *_ = organization
    done = run_deploy(env, lambda_zip, "--organization", "--yes")
    assert done.returncode == 0, done.stderr
    preferences = _stack_set().operation_preferences
    assert preferences["ConcurrencyMode"] == "SOFT_FAILURE_TOLERANCE"
    assert preferences["RegionConcurrencyType"] == "PARALLEL"
    assert (str(preferences["MaxConcurrentPercentage"]), str(preferences["FailureTolerancePercentage"])) == ("25", "10")


def test_accounts_where_the_member_role_failed_are_named_with_the_reason(organization, lambda_zip, monkeypatch):
    from moto.cloudformation.models import StackInstance

    env, client, _, units, accounts = organization
    original = StackInstance.to_dict

    def an_scp_denies_create_role_in_member(self):
        described = original(self)
        if self.account_id == accounts["member"]:
            described["StackInstanceStatus"] = {"DetailedStatus": "FAILED"}
            described["Status"] = "OUTDATED"
            described["StatusReason"] = "iam:CreateRole denied by a service control policy"
        return described

    monkeypatch.setattr(StackInstance, "to_dict", an_scp_denies_create_role_in_member)
    done = run_deploy(
        env,
        lambda_zip,
        "--organization",
        "--parameter",
        f"DeploymentOrganizationalUnitIds={units['in-scope']}",
        "--yes",
    )
    assert done.returncode == 0, done.stderr
    assert "of 2 accounts, 1 succeeded, 1 failed, 0 pending" in done.stdout
    assert (
        f"member role not deployed in account {accounts['member']}: iam:CreateRole denied by a service control policy"
        in done.stderr
    )
    assert f"list-stack-instances --stack-set-name {STACK}-member-role --call-as SELF" in done.stderr


def test_a_member_role_template_changed_in_the_bucket_after_upload_fails_the_deploy(
    organization, lambda_zip, monkeypatch
):
    env, *_ = organization
    _someone_rewrites_after_upload(monkeypatch, "member-role", b"Resources: {}\n")
    done = run_deploy(env, lambda_zip, "--organization", "--yes")
    assert done.returncode == 2
    assert "holds a template that is not the local member-role.yaml" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


# --- deploy integrity ---


def _someone_rewrites_after_upload(monkeypatch, key_part, content):
    """Another writer to the bucket replaces the object after the deploy tool's upload, before CloudFormation reads it."""
    from moto.cloudformation.models import CloudFormationBackend
    from moto.s3.models import s3_backends

    original = CloudFormationBackend.execute_change_set

    def overwritten_first(self, *args, **kwargs):
        s3 = s3_backends[self.account_id]["aws"]
        for bucket in list(s3.buckets.values()):
            for key in [k for k in list(bucket.keys) if key_part in k]:
                s3.put_object(bucket.name, key, content)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(CloudFormationBackend, "execute_change_set", overwritten_first)


@pytest.fixture
def lambda_reads_the_pinned_version(monkeypatch):
    """Lambda installs Code.S3ObjectVersion when given, as AWS does (moto reads the latest version)."""
    from moto.awslambda import models
    from moto.s3.models import s3_backends

    def object_of(account_id, partition, data):
        return s3_backends[account_id][partition].get_object(
            data["S3Bucket"], data["S3Key"], version_id=data.get("S3ObjectVersion")
        )

    monkeypatch.setattr(models, "_validate_s3_bucket_and_key", object_of)


@pytest.fixture
def s3_requests(monkeypatch):
    """Every S3 request the server receives: (method, path, the x-amz-expected-bucket-owner header)."""
    from moto.s3.responses import S3Response

    seen = []
    original = S3Response.setup_class

    def recorded(self, request, *args, **kwargs):
        original(self, request, *args, **kwargs)
        seen.append((request.method, urlparse(request.url).path, request.headers.get("x-amz-expected-bucket-owner")))

    monkeypatch.setattr(S3Response, "setup_class", recorded)
    return seen


def test_every_s3_call_names_the_callers_account_as_the_bucket_owner(account, lambda_zip, s3_requests):
    env, _ = account
    done = run_deploy(env, lambda_zip, "--yes")
    assert done.returncode == 0, done.stderr
    calls = [r for r in s3_requests if "iam-user-console-mfa/" in r[1]]
    assert calls and {owner for *_, owner in calls} == {"123456789012"}


def test_a_given_bucket_owner_is_the_one_every_s3_call_names(account, lambda_zip, s3_requests):
    env, _ = account
    run_deploy(env, lambda_zip, "--bucket-owner", "999999999999", "--yes")
    calls = [r for r in s3_requests if "iam-user-console-mfa/" in r[1]]
    assert calls and {owner for *_, owner in calls} == {"999999999999"}


def test_the_code_key_holds_the_zips_full_sha256_and_the_function_runs_that_zip(account, lambda_zip):
    env, client = account
    done = run_deploy(env, lambda_zip, "--yes")
    assert done.returncode == 0, done.stderr
    digest = hashlib.sha256(lambda_zip.read_bytes())
    assert stack_parameters(client)["CodeKey"] == f"iam-user-console-mfa/rule-{digest.hexdigest()}.zip"
    assert f"runs the local zip (CodeSha256 {base64.b64encode(digest.digest()).decode()})" in done.stdout


def test_a_zip_replaced_in_an_unversioned_bucket_after_upload_fails_loudly(account, lambda_zip, monkeypatch):
    env, _ = account
    _someone_rewrites_after_upload(monkeypatch, ".zip", b"PK\x05\x06" + b"\0" * 18)
    done = run_deploy(env, lambda_zip, "--yes")
    assert done.returncode == 2
    assert "runs code with SHA-256" in done.stderr and "not the local zip's" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_in_a_versioned_bucket_the_stack_pins_the_uploaded_version_so_a_later_write_is_not_installed(
    account, lambda_zip, monkeypatch, lambda_reads_the_pinned_version
):
    env, client = account
    client("s3").put_bucket_versioning(Bucket="artifacts", VersioningConfiguration={"Status": "Enabled"})
    _someone_rewrites_after_upload(monkeypatch, ".zip", b"PK\x05\x06" + b"\0" * 18)
    # The rule's stack alone: each stack's execution would be one more rewrite.
    done = run_deploy(env, lambda_zip, "--no-events", "--yes")
    assert done.returncode == 0, done.stderr
    pinned = stack_parameters(client)["CodeObjectVersion"]
    versions = client("s3").list_object_versions(Bucket="artifacts")["Versions"]
    assert len(versions) == 2 and pinned in {v["VersionId"] for v in versions if not v["IsLatest"]}
    assert "runs the local zip" in done.stdout


def test_redeploying_the_same_zip_into_a_versioned_bucket_changes_nothing(account, lambda_zip):
    env, client = account
    client("s3").put_bucket_versioning(Bucket="artifacts", VersioningConfiguration={"Status": "Enabled"})
    assert run_deploy(env, lambda_zip, "--yes").returncode == 0
    again = run_deploy(env, lambda_zip, "--yes")
    assert again.returncode == 0, again.stderr
    assert "UNCHANGED" in again.stdout and "runs the local zip" in again.stdout
    assert len(client("s3").list_object_versions(Bucket="artifacts")["Versions"]) == 1


# --- refused and failed runs ---


def _stacks_in_review(client):
    summaries = client("cloudformation").list_stacks()["StackSummaries"]
    return [s["StackName"] for s in summaries if s["StackStatus"] == "REVIEW_IN_PROGRESS"]


def test_a_refused_first_deployment_leaves_no_stack_in_review(account, lambda_zip):
    env, client = account
    refused = run_deploy_process(env, lambda_zip)
    assert refused.returncode == 2 and "nothing was changed" in refused.stderr
    assert _stacks_in_review(client) == []


def test_a_server_error_is_one_line_and_the_next_deploy_neither_hangs_nor_finds_a_stack_in_review(account, lambda_zip):
    env, client = account
    failed = run_deploy(env, lambda_zip, "--parameter", "GracePeriodDays=abc", "--yes")
    assert failed.returncode == 2
    assert "Traceback" not in failed.stderr and "<html" not in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1 and failed.stderr.startswith("deploy: ")
    assert _stacks_in_review(client) == []
    again = run_deploy(env, lambda_zip, "--yes")
    assert again.returncode == 0, again.stderr
    assert "CREATE_COMPLETE" in again.stdout


def test_missing_credentials_are_one_line_that_says_how_to_give_them(account, lambda_zip):
    env, _ = account
    without = {
        k: v for k, v in env.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    }
    done = run_deploy_process(without, lambda_zip, "--yes")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert "no AWS credentials found" in done.stderr and "AWS_PROFILE" in done.stderr


# --- PARAMS ---


def test_params_from_the_environment_keep_spaces_and_commas(account, lambda_zip):
    env, client = account
    done = run_deploy({**env, "MFA_DEPLOY_PARAMS": "ExemptUsers=alice, bob GracePeriodDays=7"}, lambda_zip, "--yes")
    assert done.returncode == 0, done.stderr
    parameters = stack_parameters(client)
    assert (parameters["ExemptUsers"], parameters["GracePeriodDays"]) == ("alice, bob", "7")


def test_make_hands_params_to_the_tool_verbatim_and_no_shell_runs_them(tmp_path):
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "python").write_text('#!/bin/sh\nprintf "%s" "$MFA_DEPLOY_PARAMS" > "$(dirname "$0")/params"\n')
    (fake_bin / "python").chmod(0o755)
    stamp = tmp_path / "installed"
    stamp.touch()
    params = "ExemptUsers=alice, bob `touch " + str(tmp_path / "ran") + "` $HOME $(REGION) GracePeriodDays=7"
    made = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "deploy-member-role",
            f"BIN={fake_bin}",
            f"STAMP={stamp}",
            "REGION=us-east-1",
            f"PARAMS={params}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    assert (fake_bin / "params").read_text() == params
    assert not (tmp_path / "ran").exists()


def test_a_stack_someone_left_in_review_is_deployed_over_without_hanging(account, lambda_zip):
    env, client = account
    cloudformation = client("cloudformation")
    cloudformation.create_change_set(
        StackName=STACK,
        ChangeSetName="left-behind",
        ChangeSetType="CREATE",
        TemplateBody=(ROOT / "cloudformation" / "member-role.yaml").read_text(),
        Parameters=[
            {"ParameterKey": "FunctionRoleArn", "ParameterValue": "arn:aws:iam::123456789012:role/f"},
            {"ParameterKey": "OrganizationId", "ParameterValue": "o-abcdefghij"},
        ],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    assert _stacks_in_review(client) == [STACK]
    done = run_deploy(env, lambda_zip, "--yes", "--wait-minutes", "2")
    assert done.returncode == 0, done.stderr
    assert "CREATE_COMPLETE" in done.stdout and "runs the local zip" in done.stdout
