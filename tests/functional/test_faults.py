"""Faults: retried when they clear, loud when they do not, and never a COMPLIANT for an unchecked user."""

import time
from datetime import datetime, timezone

import boto3
import pytest
from botocore.stub import Stubber
from console_mfa.aws import AwsClients
from console_mfa.exceptions import AwsCallError, EvaluationDeliveryError, MissingPermissionError
from IAM_USER_CONSOLE_MFA import lambda_handler

from mfa_audit.emulation.events import scheduled_event

from .faults import iam_error


@pytest.fixture
def no_sleep(monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda seconds: None)


def test_throttling_that_clears_is_retried_and_verdicts_are_right(config, add_user, monkeypatch):
    # The rule's own retry mode, adaptive (tests/conftest.py sets standard for every other test).
    monkeypatch.delenv("AWS_RETRY_MODE")
    assert AwsClients.from_session(boto3.Session()).iam.meta.config.retries["mode"] == "adaptive"
    bob = add_user("bob", password=True)
    alice = add_user("alice", password=True, devices=("virtual",))
    with iam_error("ListMFADevices", "Throttling", times=2) as seen:
        lambda_handler(scheduled_event(), None)
    assert seen["faults"] == 2 and seen["calls"] == 4  # 2 throttled + one success per user
    results = {e["ComplianceResourceId"]: e["ComplianceType"] for e in config.sent}
    assert results == {bob["UserId"]: "NON_COMPLIANT", alice["UserId"]: "COMPLIANT"}


def test_throttling_that_never_clears_fails_naming_the_action(config, add_user, monkeypatch):
    monkeypatch.setenv("AWS_RETRY_MODE", "standard")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")
    add_user("bob", password=True)
    with iam_error("GetLoginProfile", "Throttling", times=1000) as seen, pytest.raises(AwsCallError) as raised:
        lambda_handler(scheduled_event(), None)
    assert seen["calls"] == 3
    assert "iam:GetLoginProfile" in str(raised.value) and "Throttling" in str(raised.value)
    assert config.put_calls == []


def test_access_denied_fails_naming_the_missing_permission(config, add_user):
    add_user("bob", password=True, devices=("fido",))
    with (
        iam_error("ListMFADevices", "AccessDenied", times=1000, status=403),
        pytest.raises(MissingPermissionError) as raised,
    ):
        lambda_handler(scheduled_event(), None)
    assert raised.value.action == "iam:ListMFADevices"
    assert "grant iam:ListMFADevices" in str(raised.value)
    assert config.put_calls == []


def test_access_denied_on_list_users_fails(config, add_user):
    add_user("bob", password=True)
    with (
        iam_error("ListUsers", "AccessDenied", times=1000, status=403),
        pytest.raises(MissingPermissionError, match="iam:ListUsers"),
    ):
        lambda_handler(scheduled_event(), None)
    assert config.put_calls == []


def test_server_error_is_retried(config, add_user):
    bob = add_user("bob", password=True, devices=("hardware",))
    with iam_error("GetLoginProfile", "ServiceFailure", times=2, status=500):
        lambda_handler(scheduled_event(), None)
    assert config.sent[0]["ComplianceResourceId"] == bob["UserId"]
    assert config.sent[0]["ComplianceType"] == "COMPLIANT"


def test_rejected_evaluations_are_sent_again(config, add_user, no_sleep):
    bob = add_user("bob", password=True)
    rejected_once = set()

    def reject_first_time(evaluation):
        key = evaluation["ComplianceResourceId"]
        if key in rejected_once:
            return False
        rejected_once.add(key)
        return True

    config.rejects = reject_first_time
    lambda_handler(scheduled_event(), None)
    assert len(config.put_calls) == 2
    assert config.results[bob["UserId"]]["ComplianceType"] == "NON_COMPLIANT"


def test_evaluations_rejected_for_good_fail_the_invocation(config, add_user, no_sleep):
    add_user("bob", password=True)
    config.rejects = lambda evaluation: True
    with pytest.raises(EvaluationDeliveryError, match="rejected 1 of 1"):
        lambda_handler(scheduled_event(), None)
    assert len(config.put_calls) == 3
    assert config.results == {}


JAN_1 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def _listed_user(number):
    return {
        "Path": "/",
        "UserName": f"user{number}",
        "UserId": f"AIDAEXAMPLE{number:010d}",
        "Arn": f"arn:aws:iam::123456789012:user/user{number}",
        "CreateDate": JAN_1,
    }


def test_every_page_of_list_users_and_list_mfa_devices_is_read(config):
    # moto ignores MaxItems/Marker, so paging is driven through the Stubber against the real model.
    import boto3

    clients = AwsClients.from_session(boto3.Session(), "us-east-1", max_workers=1)  # the Stubber answers in order
    stub = Stubber(clients.iam)
    stub.add_response(
        "list_users", {"Users": [_listed_user(1)], "IsTruncated": True, "Marker": "page2"}, {"MaxItems": 1000}
    )
    stub.add_response(
        "list_users", {"Users": [_listed_user(2)], "IsTruncated": False}, {"Marker": "page2", "MaxItems": 1000}
    )
    for number in (1, 2):
        stub.add_response(
            "get_login_profile",
            {"LoginProfile": {"UserName": f"user{number}", "CreateDate": JAN_1}},
            {"UserName": f"user{number}"},
        )
        sms = {
            "UserName": f"user{number}",
            "SerialNumber": f"arn:aws:iam::123456789012:sms-mfa/user{number}",
            "EnableDate": JAN_1,
        }
        stub.add_response(
            "list_mfa_devices",
            {"MFADevices": [sms], "IsTruncated": True, "Marker": "more"},
            {"UserName": f"user{number}"},
        )
        fido = {
            "UserName": f"user{number}",
            "SerialNumber": f"arn:aws:iam::123456789012:u2f/user/user{number}/fidosecuritykey1-X",
            "EnableDate": JAN_1,
        }
        stub.add_response(
            "list_mfa_devices",
            {"MFADevices": [fido] if number == 1 else [], "IsTruncated": False},
            {"UserName": f"user{number}", "Marker": "more"},
        )
    # user2 has SMS only: NON_COMPLIANT unless its exemption tag says otherwise, so its tags are read after the sweep.
    stub.add_response("list_user_tags", {"Tags": [], "IsTruncated": False}, {"UserName": "user2"})
    with stub:
        lambda_handler(scheduled_event(), None, make_clients=lambda event: clients)
        stub.assert_no_pending_responses()
    results = {e["ComplianceResourceId"]: e["ComplianceType"] for e in config.sent}
    assert results == {"AIDAEXAMPLE0000000001": "COMPLIANT", "AIDAEXAMPLE0000000002": "NON_COMPLIANT"}
