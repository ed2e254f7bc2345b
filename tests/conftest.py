"""Shared fixtures: an emulated AWS account (moto) and an emulated AWS Config."""

import os
import urllib.request
from contextlib import contextmanager

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
def standard_retry_mode():
    """botocore's standard retry mode for every test (test_faults.py keeps a test of the default).

    The rule's default, adaptive, adds a token bucket that, after a throttle, waits on a threading condition: the
    tests' patched time.sleep does not reach it, so a test of throttling waited for real (19 s for one test).
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_RETRY_MODE", "standard")
        yield


@pytest.fixture(autouse=True, scope="session")
def one_botocore_data_loader():
    """Every botocore session in the test process shares one data loader, and so its parsed service models.

    The rule builds a new boto3 session per invocation, as it should in Lambda; in the tests, which invoke it
    thousands of times, each new session parsed IAM's and Config's service models from JSON again (a third of a
    simulated day's time). The models are only read, as within one session, where botocore shares them too.
    """
    import botocore.session

    original = botocore.session.create_loader
    loaders = {}

    def create_loader(search_path_string=None):
        if search_path_string not in loaders:
            loaders[search_path_string] = original(search_path_string)
        return loaders[search_path_string]

    botocore.session.create_loader = create_loader
    yield
    botocore.session.create_loader = original


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


@contextmanager
def _emulated_account(patch):
    """An emulated account (moto) and its CloudTrail event history, with fake credentials set by ``patch``."""
    for name, value in FAKE_CREDENTIALS.items():
        patch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        patch.delenv(name, raising=False)
    # moto has no CloudTrail event history; the emulated one records the test's IAM changes.
    with mock_aws(), EmulatedCloudTrail() as cloudtrail:
        yield cloudtrail


@pytest.fixture
def aws(monkeypatch):
    with _emulated_account(monkeypatch) as cloudtrail:
        yield cloudtrail


@pytest.fixture(scope="class")
def aws_for_the_class():
    """``aws`` shared by the tests of one class, for a class of tests that only read what its fixtures build
    (a deployed stack, say) instead of building it for each test."""
    with pytest.MonkeyPatch.context() as patch, _emulated_account(patch) as cloudtrail:
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


@pytest.fixture(scope="session")
def moto_server_endpoint():
    """One moto server per test process (each xdist worker has its own): its URL. Starting one takes a
    second; ``moto_server`` empties it for each test instead."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def moto_server(moto_server_endpoint):
    """moto in server mode, empty: (IAM client on it, environment that points real tools at it)."""
    endpoint = moto_server_endpoint
    # The server keeps its state in this process's moto backends; start each test empty.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))  # noqa: S310
    env = dict(
        FAKE_CREDENTIALS, AWS_ENDPOINT_URL=endpoint, AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull
    )
    iam = boto3.client(
        "iam", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )  # noqa: S106
    yield iam, env


# The fault matrix's cells (operation -> column -> outcome), gathered from the test reports: under pytest-xdist
# the tests run in worker processes and only their reports reach the process that prints the summary.
FAULT_MATRIX: dict[str, dict[str, str]] = {}


def pytest_runtest_logreport(report):
    if report.when != "call" or not report.user_properties:
        return
    from tests.functional.test_fault_matrix import MATRIX_PROPERTY

    for name, value in report.user_properties:
        if name == MATRIX_PROPERTY:
            column, cells = value
            for action, outcome in cells.items():
                FAULT_MATRIX.setdefault(action, {})[column] = outcome


def pytest_terminal_summary(terminalreporter):
    """Print the fault matrix (operation x fault -> outcome) when its tests ran."""
    if FAULT_MATRIX:
        from tests.functional.test_fault_matrix import matrix_table

        terminalreporter.write_sep("=", "fault matrix: operation x fault -> outcome")
        terminalreporter.write_line(matrix_table(FAULT_MATRIX))
