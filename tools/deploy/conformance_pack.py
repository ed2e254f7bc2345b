"""The organization conformance pack: the rule with its remediation, the enforcing organization route's last step.

Example::

    deploy_conformance_pack(config, function_arn, parameters, excluded={"111111111111"})   # the pack's ARN
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from mfa_audit.templates import (
    CONFORMANCE_PACK_TEMPLATE,
    ENFORCEMENT,
    EVENTS_SWITCH,
    FUNCTION_ARN,
    TEMPLATE_DIRECTORY,
    Template,
)
from tools.deploy.aws import DeployError

PACK_TEMPLATE = TEMPLATE_DIRECTORY / CONFORMANCE_PACK_TEMPLATE
CONFORMANCE_PACK_NAME = "iam-user-console-mfa"


# AWS Config takes only a literal ARN for the remediation's role (no intrinsic function), and uses its
# name in every account; the template carries this placeholder account, replaced by the deploying one.
PACK_ROLE_PLACEHOLDER = "arn:aws:iam::000000000000:role/"


# The organization stack's parameters the pack's copy of the rule takes as well.
PACK_RULE_PARAMETERS = (
    "ExemptUsers",
    "ExemptionTag",
    "MaxExemptionDays",
    "GracePeriodDays",
    "AllowedMfaTypes",
    "ReconfirmDays",
    "MaximumExecutionFrequency",
    ENFORCEMENT,
)


def conformance_pack_body(template: str, function_arn: str) -> str:
    """The pack template with the remediation role's placeholder account replaced by the deploying account."""
    if PACK_ROLE_PLACEHOLDER not in template:
        raise DeployError(f"{PACK_TEMPLATE.name} does not name the remediation role as {PACK_ROLE_PLACEHOLDER}<name>")
    _, partition, _, _, account, *_ = function_arn.split(":")
    return template.replace(PACK_ROLE_PLACEHOLDER, f"arn:{partition}:iam::{account}:role/")


def conformance_pack_exists(config: Any) -> bool:
    try:
        config.describe_organization_conformance_packs(OrganizationConformancePackNames=[CONFORMANCE_PACK_NAME])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NoSuchOrganizationConformancePackException":
            return False
        raise
    return True


def deploy_conformance_pack(
    config: Any,
    function_arn: str,
    parameters: dict[str, str],
    excluded: set[str],
    say: Callable[[str], None] = print,
) -> str:
    """Put the organization conformance pack (the rule and its remediation) to every account not excluded."""
    template = PACK_TEMPLATE.read_text()
    # ReevaluateOnIamChange only where the pack's template has it (it decides the rule's triggers).
    keys = [
        *PACK_RULE_PARAMETERS,
        *[key for key in (EVENTS_SWITCH,) if key in Template.from_text(template).declared_parameters()],
    ]
    inputs = {FUNCTION_ARN: function_arn, "ExecutionRoleName": parameters["MemberRoleName"]}
    inputs |= {key: parameters[key] for key in keys if parameters.get(key, "").strip()}
    request: dict[str, Any] = {
        "OrganizationConformancePackName": CONFORMANCE_PACK_NAME,
        "TemplateBody": conformance_pack_body(template, function_arn),
        "ConformancePackInputParameters": [
            {"ParameterName": key, "ParameterValue": value} for key, value in inputs.items()
        ],
    }
    if excluded:
        request["ExcludedAccounts"] = sorted(excluded)
    arn = config.put_organization_conformance_pack(**request)["OrganizationConformancePackArn"]
    say(
        f"organization conformance pack {CONFORMANCE_PACK_NAME} (the rule and its remediation, Enforcement="
        f"{inputs[ENFORCEMENT]}): {arn}"
    )
    say(f"  left out of: {', '.join(sorted(excluded)) or 'none'}")
    say(
        "  Config deploys it to each account by itself; follow it with: aws configservice get-organization-"
        f"conformance-pack-detailed-status --organization-conformance-pack-name {CONFORMANCE_PACK_NAME}"
    )
    return arn
