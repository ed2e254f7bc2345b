"""Shared fixtures: an emulated AWS account (moto) and an emulated AWS Config."""

import boto3
import pytest
from moto import mock_aws

from mfa_audit.emulated_account import SeedUser, create_user
from mfa_audit.emulated_services import EmulatedCloudTrail, EmulatedConfig
from mfa_audit.events import RULE_NAME

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIATESTKEYFORMOTO01",
    "AWS_SECRET_ACCESS_KEY": "test-secret-key-never-logged",
    "AWS_SESSION_TOKEN": "test-session-token-never-logged",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


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

    def add(name, password=False, devices=(), password_age_days=400):
        return create_user(iam, SeedUser(name, password, tuple(devices), password_age_days))

    return add


def pytest_terminal_summary(terminalreporter):
    """Print the fault matrix (operation x fault -> outcome) when its tests ran."""
    import sys

    module = sys.modules.get("tests.functional.test_fault_matrix")
    if module is not None and module.MATRIX:
        terminalreporter.write_sep("=", "fault matrix: operation x fault -> outcome")
        terminalreporter.write_line(module.render_matrix())
