"""The rule's triggers follow ReevaluateOnIamChange: periodic-only with the event path, change-triggered without.

Periodic-only, a StartConfigRulesEvaluation can only make Config send ScheduledNotifications (one sweep, which
costs what changed), whatever it does for change-triggered rules; without the event path, Config's change
notifications are the only fast path and stay.
"""

import pytest

from mfa_audit.templates import Template

CHANGE = {"ConfigurationItemChangeNotification", "OversizedConfigurationItemChangeNotification"}


def _rule_triggers(template, resource, given):
    properties = Template.load(template).resolve(given).resources[resource]["Properties"]
    if "OrganizationCustomRuleMetadata" in properties:
        return set(properties["OrganizationCustomRuleMetadata"]["OrganizationConfigRuleTriggerTypes"])
    return {detail["MessageType"] for detail in properties["Source"]["SourceDetails"]}


CASES = [
    ("rule.yaml", "ConfigRule", {"CodeBucket": "artifacts"}),
    ("conformance-pack.yaml", "IamUserConsoleMfa", {"FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f"}),
    (
        "organization.yaml",
        "OrganizationRule",
        {
            "CodeBucket": "artifacts",
            "OrganizationId": "o-abcdefghij",
            "MemberRoleTemplateUrl": "https://s3.amazonaws.com/b/member-role.yaml",
            "DeploymentOrganizationalUnitIds": "r-ab12",
        },
    ),
]


@pytest.mark.parametrize(("template", "resource", "given"), CASES)
def test_with_the_event_path_on_by_default_the_rule_is_periodic_only(template, resource, given):
    assert _rule_triggers(template, resource, given) == {"ScheduledNotification"}


@pytest.mark.parametrize(("template", "resource", "given"), CASES)
def test_with_the_event_path_off_the_rule_keeps_its_change_triggers(template, resource, given):
    triggers = _rule_triggers(template, resource, {**given, "ReevaluateOnIamChange": "false"})
    assert triggers == CHANGE | {"ScheduledNotification"}
