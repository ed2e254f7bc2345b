"""Hostile and random input through the real handler: a verdict, or a clear error; never a stray traceback.

One emulated account serves every example (fixed seed, bounded examples), so the
whole file runs in well under a minute.
"""

import json
import os

import boto3
import pytest
from console_mfa.exceptions import RuleError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from IAM_USER_CONSOLE_MFA import lambda_handler
from moto import mock_aws

from mfa_audit.emulation.account import SeedUser, create_user
from mfa_audit.emulation.events import RULE_NAME, change_event, scheduled_event
from mfa_audit.emulation.services import EmulatedCloudTrail, EmulatedConfig

from ..conftest import FAKE_CREDENTIALS

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=80),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
)


@pytest.fixture(scope="module")
def account():
    saved = dict(os.environ)
    os.environ.update(FAKE_CREDENTIALS)
    with mock_aws(), EmulatedCloudTrail(), EmulatedConfig(RULE_NAME) as config:
        iam = boto3.client("iam", region_name="us-east-1")
        users = [
            create_user(iam, SeedUser(f"user-{n}", n % 2 == 0, (("fido",), ("sms",), (), ("virtual",))[n % 4]))
            for n in range(4)
        ]
        yield users, config
    os.environ.clear()
    os.environ.update(saved)


def _mutations():
    keys = st.sampled_from(
        [
            "invokingEvent",
            "ruleParameters",
            "resultToken",
            "configRuleName",
            "eventLeftScope",
            "executionRoleArn",
            "accountId",
        ]
    )
    inner_keys = st.sampled_from(
        ["messageType", "notificationCreationTime", "configurationItem", "configurationItemSummary"]
    )
    item_keys = st.sampled_from(
        ["resourceType", "resourceId", "resourceName", "configurationItemStatus", "configurationItemCaptureTime"]
    )
    return st.lists(
        st.one_of(
            st.tuples(st.just("drop"), keys),
            st.tuples(st.just("set"), keys, json_values),
            st.tuples(st.just("drop-inner"), inner_keys),
            st.tuples(st.just("set-inner"), inner_keys, json_values),
            st.tuples(st.just("set-item"), item_keys, json_values | st.text(min_size=60, max_size=3000)),
            st.tuples(st.just("raw-invoking"), st.text(max_size=200)),
            st.tuples(st.just("raw-parameters"), st.text(max_size=200)),
            st.tuples(
                st.just("parameters"),
                st.dictionaries(
                    st.sampled_from(["ExemptUsers", "GracePeriodDays", "AllowedMfaTypes", "Bogus"]),
                    st.text(max_size=50) | st.lists(st.text(max_size=20), max_size=2000).map(",".join),
                    max_size=3,
                ),
            ),
        ),
        max_size=4,
    )


def _apply(event, mutations):
    invoking = json.loads(event["invokingEvent"])
    for mutation in mutations:
        kind = mutation[0]
        if kind == "drop":
            event.pop(mutation[1], None)
        elif kind == "set":
            event[mutation[1]] = mutation[2]
        elif kind == "drop-inner":
            invoking.pop(mutation[1], None)
        elif kind == "set-inner":
            invoking[mutation[1]] = mutation[2]
        elif kind == "set-item":
            for key in ("configurationItem", "configurationItemSummary"):
                if isinstance(invoking.get(key), dict):
                    invoking[key][mutation[1]] = mutation[2]
        elif kind == "parameters":
            event["ruleParameters"] = json.dumps(mutation[1])
    if isinstance(event.get("invokingEvent"), str):
        event["invokingEvent"] = json.dumps(invoking)
    for mutation in mutations:
        if mutation[0] == "raw-invoking":
            event["invokingEvent"] = mutation[1]
        elif mutation[0] == "raw-parameters":
            event["ruleParameters"] = mutation[1]
    return event


@settings(max_examples=250, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from(["scheduled", "change", "oversized", "deleted"]),
    mutations=_mutations(),
    pick=st.integers(0, 3),
)
def test_mutated_events_give_a_verdict_or_a_clear_error(account, base, mutations, pick):
    users, config = account
    user = users[pick]
    event = {
        "scheduled": lambda: scheduled_event(),
        "change": lambda: change_event(user),
        "oversized": lambda: change_event(user, oversized=True),
        "deleted": lambda: change_event(user, status="ResourceDeleted"),
    }[base]()
    event = _apply(event, mutations)
    config.put_calls.clear()
    try:
        lambda_handler(event, None)
    except RuleError as error:
        assert str(error)  # a clear message, and nothing reported
        assert config.put_calls == []
        return
    # user-2 has a console password (400 days old, past any grace period) and no MFA device.
    for evaluation in config.sent:
        if evaluation["ComplianceResourceId"] == users[2]["UserId"]:
            assert evaluation["ComplianceType"] != "COMPLIANT"
        assert len(evaluation.get("Annotation", "")) <= 256
