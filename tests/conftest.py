"""Shared fixtures: an emulated AWS account (moto) and an emulated AWS Config."""

import os
import urllib.request

import boto3
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from mfa_audit.emulation.account import SeedUser, create_user
from mfa_audit.emulation.events import RULE_NAME
from mfa_audit.emulation.services import EmulatedCloudTrail, EmulatedConfig

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIATESTKEYFORMOTO01",
    "AWS_SECRET_ACCESS_KEY": "test-secret-key-never-logged",
    "AWS_SESSION_TOKEN": "test-session-token-never-logged",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@pytest.fixture(autouse=True, scope="session")
def change_sets_set_stack_outputs():
    """moto's change sets update a stack's resources but not its outputs; CloudFormation updates both."""
    from moto.cloudformation.models import ChangeSet

    original = ChangeSet.apply

    def apply(self):
        original(self)
        self.stack.template = self.template
        self.stack._parse_template()
        self.stack.output_map = self.stack._create_output_map()

    ChangeSet.apply = apply
    yield
    ChangeSet.apply = original


@pytest.fixture(autouse=True, scope="session")
def updates_skip_resources_whose_condition_is_false():
    """moto's stack update modifies a resource whose parameters changed even when its Condition is false
    (so it is not in the stack); CloudFormation leaves such a resource out."""
    from moto.cloudformation.parsing import ResourceMap

    original = ResourceMap.build_resource_diff

    def build_resource_diff(self, other_template, parameters=None):
        diff = original(self, other_template, parameters)
        resources = other_template["Resources"]
        diff["Modify"] = [
            name
            for name in diff["Modify"]
            if "Condition" not in resources[name] or self.lazy_condition_map[resources[name]["Condition"]]
        ]
        return diff

    ResourceMap.build_resource_diff = build_resource_diff
    yield
    ResourceMap.build_resource_diff = original


@pytest.fixture
def aws(monkeypatch):
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    # moto has no CloudTrail event history; the emulated one records the test's IAM changes.
    with mock_aws(), EmulatedCloudTrail() as cloudtrail:
        yield cloudtrail


@pytest.fixture
def cloudtrail(aws):
    return aws


@pytest.fixture
def config(aws):
    with EmulatedConfig(RULE_NAME) as emulated:
        yield emulated


@pytest.fixture
def iam(aws):
    return boto3.client("iam", region_name="us-east-1")


@pytest.fixture
def add_user(iam):
    """Create a user in the emulated account: add_user("bob", password=True, devices=("fido",))."""

    def add(name, password=False, devices=(), password_age_days=400, tags=None, path="/"):
        seed = SeedUser(name, password, tuple(devices), password_age_days, tuple((tags or {}).items()), path)
        return create_user(iam, seed)

    return add


@pytest.fixture
def moto_server():
    """moto in server mode: (IAM client on it, environment that points real tools at it)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # The server keeps its state in this process's moto backends; start each test empty.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))  # noqa: S310
    env = dict(
        FAKE_CREDENTIALS, AWS_ENDPOINT_URL=endpoint, AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull
    )
    iam = boto3.client(
        "iam", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )  # noqa: S106
    yield iam, env
    server.stop()


def pytest_terminal_summary(terminalreporter):
    """Print the fault matrix (operation x fault -> outcome) when its tests ran."""
    import sys

    module = sys.modules.get("tests.functional.test_fault_matrix")
    if module is not None and module.MATRIX:
        terminalreporter.write_sep("=", "fault matrix: operation x fault -> outcome")
        terminalreporter.write_line(module.render_matrix())
