"""Every Lambda entry point the templates name goes through the one wrapper (console_mfa.lambda_entry), and
none lets botocore's DEBUG output (request headers, a session token among them) into the logs, whatever
the log level of the root logger or of the SDK's own loggers."""

import importlib
import json
import logging
import zipfile
from pathlib import Path

import pytest
from console_mfa import reevaluation
from console_mfa.lambda_entry import SDK_LOGGERS, is_lambda_entry
from enforcement_handler import handler as enforcement_handler
from IAM_USER_CONSOLE_MFA import lambda_handler as rule_handler
from reevaluation_handler import handler as reevaluation_handler

from mfa_audit.emulation.events import RULE_NAME, LambdaContext, scheduled_event
from mfa_audit.emulation.iam_events import sqs_record
from mfa_audit.emulation.services import EmulatedConfig
from mfa_audit.templates import Template
from tools.package_lambda import build

from ..conftest import FAKE_CREDENTIALS

ROOT = Path(__file__).resolve().parents[2]
RULE_DIR = ROOT / "rules" / "IAM_USER_CONSOLE_MFA"
MEMBER = "222222222222"


def handlers_named_by_the_templates():
    """Every Lambda function's ``Handler`` in cloudformation/*.yaml, and the one RDK deploys from parameters.json.

    (An SSM document's ``aws:executeScript`` step has a ``Handler`` too: a function of its own script, not ours.)
    """
    named = set()
    for template in sorted((ROOT / "cloudformation").glob("*.yaml")):
        resources = Template.load(template.name).body.get("Resources", {})
        named |= {
            resource["Properties"]["Handler"]
            for resource in resources.values()
            if resource["Type"] == "AWS::Lambda::Function"
        }
    # RDK's layout: the rule folder's <RuleName>.py holds lambda_handler.
    rule_name = json.loads((RULE_DIR / "parameters.json").read_text())["Parameters"]["RuleName"]
    return named | {f"{rule_name}.lambda_handler"}


def test_the_templates_name_three_entry_points_all_at_the_rule_folders_top():
    named = handlers_named_by_the_templates()
    assert named == {
        "IAM_USER_CONSOLE_MFA.lambda_handler",
        "enforcement_handler.handler",
        "reevaluation_handler.handler",
    }
    for handler in named:
        module = importlib.import_module(handler.rsplit(".", 1)[0])
        assert Path(module.__file__).parent == RULE_DIR, handler


def test_the_zip_carries_every_entry_point_module(tmp_path):
    build(tmp_path / "rule.zip")
    names = set(zipfile.ZipFile(tmp_path / "rule.zip").namelist())
    assert {f"{handler.rsplit('.', 1)[0]}.py" for handler in handlers_named_by_the_templates()} <= names


@pytest.mark.parametrize("handler", sorted(handlers_named_by_the_templates()))
def test_every_handler_a_template_names_goes_through_the_one_wrapper(handler):
    module, name = handler.rsplit(".", 1)
    assert is_lambda_entry(getattr(importlib.import_module(module), name)), f"{handler} is not @lambda_entry"


@pytest.fixture
def debug_everywhere(caplog):
    """The root logger at DEBUG, and the SDK's loggers set to DEBUG by someone else (as boto3.set_stream_logger
    does); the entry point must put them back to WARNING."""
    levels = {name: logging.getLogger(name).level for name in SDK_LOGGERS}
    caplog.set_level(logging.DEBUG)
    for name in SDK_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield caplog
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def assert_no_sdk_debug_output(caplog, entry_logger):
    assert any(record.name == entry_logger for record in caplog.records), "the entry point's own line is missing"
    quiet = [r for r in caplog.records if r.name.split(".")[0] in SDK_LOGGERS and r.levelno < logging.WARNING]
    assert quiet == [], [f"{r.name}: {r.getMessage()[:80]}" for r in quiet[:3]]
    assert FAKE_CREDENTIALS["AWS_SESSION_TOKEN"] not in caplog.text
    assert "x-amz-security-token" not in caplog.text.lower()


def test_the_rule_assuming_a_member_role_keeps_botocores_debug_output_out_of_the_logs(config, debug_everywhere):
    rule_handler(scheduled_event({"ExecutionRoleName": "mfa-rule-reader"}, account_id=MEMBER), None)
    assert_no_sdk_debug_output(debug_everywhere, "console_mfa")


def test_the_enforcement_function_keeps_botocores_debug_output_out_of_the_logs(config, monkeypatch, debug_everywhere):
    for name, value in {
        "CONFIG_RULE_NAME": RULE_NAME,
        "FORCE_MFA_GROUP": "console-mfa-ForceMfa",
        "LEDGER_TABLE": "enforcement-ledger",
        "OPERATORS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:operators",
        "ENFORCEMENT_SWITCH_PARAMETER": "/console-mfa/enforcement-switch",
        "USER_GUIDE_URL": "https://example.com/mfa",
        "NOTICE_CONTACT": "the security team",
        "ENFORCEMENT_DOCUMENT": "console-mfa-EnforcementDocument-Q2ExAmPlE",
    }.items():
        monkeypatch.setenv(name, value)
    config.rule_parameters = {"Enforcement": "off"}
    assert enforcement_handler({"action": "notify"}, LambdaContext())["outcome"] == "enforcement_off"
    assert_no_sdk_debug_output(debug_everywhere, "console_mfa.enforcement")


def test_the_reevaluation_function_assuming_a_member_role_keeps_botocores_debug_output_out_of_the_logs(
    aws, monkeypatch, debug_everywhere
):
    monkeypatch.setenv("MEMBER_ROLE_NAME", "iam-user-console-mfa-reevaluator")
    monkeypatch.setattr(reevaluation, "_organization_rule_names", {})
    with EmulatedConfig(f"OrgConfigRule-{RULE_NAME}-abc123") as config:
        response = reevaluation_handler({"Records": [sqs_record("m1", MEMBER, "CreateUser")]}, LambdaContext())
    assert response == {"batchItemFailures": []} and [a for a, _ in config.evaluations_started] == [MEMBER]
    assert_no_sdk_debug_output(debug_everywhere, "console_mfa.reevaluation")
