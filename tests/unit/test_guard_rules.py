"""Our Guard rules (tools/guard_check.py): they pass on the templates and catch a template that breaks one."""

import json

import pytest


def _template_document(name):
    """The template as written (intrinsic functions unresolved), as the Guard rules see it."""
    from mfa_audit.templates import TEMPLATE_DIRECTORY as TEMPLATE_DIR
    from tools.guard_check import load_template

    return load_template(TEMPLATE_DIR / name)


@pytest.fixture(scope="module")
def guard_rules():
    try:
        import cfn_guard_rs  # noqa: F401
    except ImportError:
        pytest.skip("Guard rules NOT RUN: cfn-guard-rs has wheels for Python 3.7-3.12 only")
    from tools.guard_check import RULES

    return RULES.read_text()


@pytest.mark.parametrize("name", ["rule.yaml", "organization.yaml", "member-role.yaml", "aggregator.yaml"])
def test_our_guard_rules_pass_on_the_template(guard_rules, name):
    from tools.guard_check import check

    assert check(_template_document(name), guard_rules, name) == []


def _resources(document):
    return document["Resources"]


def _first_statement(document):
    return _resources(document)["FunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0]


# (what is broken in rule.yaml, the one rule that must catch it)
_BROKEN = {
    "log group without a key": (
        lambda d: _resources(d)["FunctionLogGroup"]["Properties"].pop("KmsKeyId"),
        "LOG_GROUP_ENCRYPTED_WITH_A_KEY_OF_THE_STACK",
    ),
    "log group with a key from elsewhere": (
        lambda d: _resources(d)["FunctionLogGroup"]["Properties"].update(KmsKeyId="arn:aws:kms:us-east-1:1:key/k"),
        "LOG_GROUP_ENCRYPTED_WITH_A_KEY_OF_THE_STACK",
    ),
    "retention parameter allowing 42 days": (
        lambda d: d["Parameters"]["LogRetentionDays"].update(AllowedValues=[30, 42]),
        "LOG_RETENTION_PARAMETER_OFFERS_ONLY_VALID_PERIODS",
    ),
    "retention of 42 days": (
        lambda d: _resources(d)["FunctionLogGroup"]["Properties"].update(RetentionInDays=42),
        "LOG_RETENTION_LITERAL_IS_A_VALID_PERIOD",
    ),
    "queue not encrypted": (
        lambda d: _resources(d)["FailedInvocationsQueue"]["Properties"].pop("SqsManagedSseEnabled"),
        "QUEUE_ENCRYPTED_AT_REST",
    ),
    "no on-failure destination": (
        lambda d: _resources(d)["FunctionEventInvokeConfig"]["Properties"].pop("DestinationConfig"),
        "FAILED_ASYNC_RUNS_ARE_KEPT",
    ),
    "fixed reserved concurrency": (
        lambda d: _resources(d)["Function"]["Properties"].update(ReservedConcurrentExecutions=5),
        "NO_FIXED_RESERVED_CONCURRENCY",
    ),
    "Resource * on iam:GetUser": (
        lambda d: _first_statement(d).update(Resource="*"),
        "INLINE_WILDCARD_RESOURCE_ONLY_FOR_ACTIONS_WITHOUT_RESOURCE_LEVEL_PERMISSIONS",
    ),
    "Resource * on iam:DeleteUser in a managed policy": (
        lambda d: _resources(d)["ForceMfaPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]["Action"].append(
            "iam:DeleteUser"
        ),
        "MANAGED_WILDCARD_RESOURCE_ONLY_FOR_ACTIONS_WITHOUT_RESOURCE_LEVEL_PERMISSIONS",
    ),
    "a function open to every principal": (
        lambda d: _resources(d)["ConfigInvokePermission"]["Properties"].update(Principal="*"),
        "LAMBDA_PERMISSION_NAMES_ITS_PRINCIPAL",
    ),
    "ledger on DynamoDB's own key": (
        lambda d: _resources(d)["EnforcementLedger"]["Properties"].pop("SSESpecification"),
        "DYNAMODB_TABLE_ENCRYPTED_WITH_A_KEY_OF_THE_STACK",
    ),
    "remediation naming its rule by a literal name": (
        lambda d: _resources(d)["EnforcementRemediation"]["Properties"].update(ConfigRuleName="IAM_USER_CONSOLE_MFA"),
        "REMEDIATION_DEPENDS_ON_ITS_RULE",
    ),
    "named document replaced on update": (
        lambda d: _resources(d)["EnforcementDocument"]["Properties"].update(Name="IAM_USER_CONSOLE_MFA-Enforce"),
        "NAMED_SSM_DOCUMENT_UPDATES_AS_A_NEW_VERSION",
    ),
}


@pytest.mark.parametrize("broken", _BROKEN)
def test_our_guard_rules_catch_a_template_that_breaks_one_of_them(guard_rules, broken):
    from tools.guard_check import check

    document = _template_document("rule.yaml")
    breaks, rule = _BROKEN[broken]
    breaks(document)
    assert {f.rule for f in check(document, guard_rules, "rule.yaml")} == {rule}


def test_our_guard_rules_report_every_rule_a_template_breaks(guard_rules):
    from tools.guard_check import check

    document = _template_document("rule.yaml")
    for broken in (
        "ledger on DynamoDB's own key",
        "remediation naming its rule by a literal name",
        "queue not encrypted",
    ):
        _BROKEN[broken][0](document)
    assert {f.rule for f in check(document, guard_rules, "rule.yaml")} == {
        "DYNAMODB_TABLE_ENCRYPTED_WITH_A_KEY_OF_THE_STACK",
        "REMEDIATION_DEPENDS_ON_ITS_RULE",
        "QUEUE_ENCRYPTED_AT_REST",
    }


def test_make_guard_reports_a_failed_rule_by_name_and_exits_1(guard_rules, tmp_path, capsys):
    from tools import guard_check

    document = _template_document("rule.yaml")
    _resources(document)["FunctionLogGroup"]["Properties"].pop("KmsKeyId")
    broken = tmp_path / "broken.yaml"
    broken.write_text(json.dumps(document))
    assert guard_check.main([str(broken)]) == 1
    out = capsys.readouterr().out
    assert "guard: FAIL broken.yaml: LOG_GROUP_ENCRYPTED_WITH_A_KEY_OF_THE_STACK" in out
