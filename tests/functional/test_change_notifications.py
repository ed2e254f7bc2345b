"""Change-triggered evaluations: one user, keyed by UserId, for every item status."""

import pytest
from console_mfa.exceptions import InvalidEventError
from IAM_USER_CONSOLE_MFA import lambda_handler

from mfa_audit.emulation.events import change_event


@pytest.mark.parametrize("oversized", [False, True], ids=["change", "oversized-change"])
def test_change_evaluates_the_one_user(config, add_user, oversized):
    bob = add_user("bob", password=True)
    add_user("alice", password=True, devices=("fido",))
    event = change_event(bob, oversized=oversized)
    lambda_handler(event, None)
    assert len(config.sent) == 1
    evaluation = config.sent[0]
    assert evaluation["ComplianceResourceId"] == bob["UserId"]
    assert evaluation["ComplianceType"] == "NON_COMPLIANT"


def test_change_with_mfa_is_compliant(config, add_user):
    alice = add_user("alice", password=True, devices=("fido",))
    lambda_handler(change_event(alice), None)
    assert config.sent[0]["ComplianceType"] == "COMPLIANT"
    assert "fido" in config.sent[0]["Annotation"]


@pytest.mark.parametrize("status", ["ResourceDeleted", "ResourceDeletedNotRecorded", "ResourceNotRecorded"])
def test_deleted_or_unrecorded_user_is_not_applicable(config, add_user, status):
    bob = add_user("bob", password=True)
    lambda_handler(change_event(bob, status=status), None)
    assert config.sent[0]["ComplianceResourceId"] == bob["UserId"]
    assert config.sent[0]["ComplianceType"] == "NOT_APPLICABLE"


def test_user_that_left_scope_is_not_applicable(config, add_user):
    bob = add_user("bob", password=True)
    lambda_handler(change_event(bob, left_scope=True), None)
    assert config.sent[0]["ComplianceType"] == "NOT_APPLICABLE"
    assert "scope" in config.sent[0]["Annotation"]


def test_user_deleted_before_evaluation_is_not_applicable(config, add_user, iam):
    bob = add_user("bob", password=True)
    iam.delete_login_profile(UserName="bob")
    iam.delete_user(UserName="bob")
    lambda_handler(change_event(bob), None)
    assert config.sent[0]["ComplianceType"] == "NOT_APPLICABLE"
    assert "no longer exists" in config.sent[0]["Annotation"]


def test_recreated_user_with_same_name_does_not_inherit_the_old_id(config, add_user, iam):
    old_bob = add_user("bob", password=True, devices=("fido",))
    iam.deactivate_mfa_device(
        UserName="bob", SerialNumber=iam.list_mfa_devices(UserName="bob")["MFADevices"][0]["SerialNumber"]
    )
    iam.delete_login_profile(UserName="bob")
    iam.delete_user(UserName="bob")
    new_bob = add_user("bob", password=True)
    lambda_handler(change_event(old_bob), None)
    assert config.sent[0]["ComplianceResourceId"] == old_bob["UserId"]
    assert config.sent[0]["ComplianceType"] == "NOT_APPLICABLE"
    assert new_bob["UserId"] != old_bob["UserId"]


def test_change_notification_for_another_resource_type_fails(config, add_user):
    bob = add_user("bob")
    event = change_event(bob)
    event["invokingEvent"] = event["invokingEvent"].replace("AWS::IAM::User", "AWS::IAM::Role")
    with pytest.raises(InvalidEventError, match="AWS::IAM::Role"):
        lambda_handler(event, None)
    assert config.put_calls == []
