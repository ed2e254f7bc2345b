"""The ASFF format: one AWS Security Finding Format (2018-10-08) finding per evaluated user.

Ready for ``aws securityhub batch-import-findings --findings file://findings.json``. Ids are stable
(the user's ARN), so importing again updates a finding instead of adding one. In the organization
report, findings in an account with more than one matching rule carry those rules.

Example::

    print(render_asff(rows, generated=datetime.now(timezone.utc), region="us-east-1"))
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from console_mfa import FINDING_TYPE, RULE_NAME, TITLE
from console_mfa.verdict import ComplianceType

from mfa_audit.formats import Format, register
from mfa_audit.formats._findings import SEVERITY, arn_parts, exemption_fields, flagged_users, report_rows
from mfa_audit.org_report import OrgReport
from mfa_audit.results import ResultRow, UserResults

ASFF_SCHEMA_VERSION = "2018-10-08"
GENERATOR_ID = f"iam-user-console-mfa/{RULE_NAME}"
COMPLIANCE_STATUS = {
    ComplianceType.COMPLIANT: "PASSED",
    ComplianceType.NON_COMPLIANT: "FAILED",
    ComplianceType.NOT_APPLICABLE: "NOT_AVAILABLE",
}
# Security Hub's limit on a finding's Description.
DESCRIPTION_LIMIT = 1024


def asff_findings(rows: Sequence[ResultRow], *, generated: datetime, region: str) -> list[dict]:
    stamp = generated.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    findings = []
    for row in rows:
        partition, account = arn_parts(row.arn)
        details = {"UserName": row.user_name}
        if row.user_id:
            details["UserId"] = row.user_id
        findings.append(
            {
                "SchemaVersion": ASFF_SCHEMA_VERSION,
                "Id": f"{row.arn}/iam-user-console-mfa",
                "ProductArn": f"arn:{partition}:securityhub:{region}:{account}:product/{account}/default",
                "GeneratorId": GENERATOR_ID,
                "AwsAccountId": account,
                "Types": [FINDING_TYPE],
                "CreatedAt": stamp,
                "UpdatedAt": stamp,
                "Severity": {"Label": SEVERITY[row.result]},
                "Title": TITLE,
                "Description": row.text[:DESCRIPTION_LIMIT],
                "Resources": [
                    {
                        "Type": "AwsIamUser",
                        "Id": row.arn,
                        "Partition": partition,
                        "Region": region,
                        "Details": {"AwsIamUser": details},
                    }
                ],
                "Compliance": {"Status": COMPLIANCE_STATUS[row.result]},
                "RecordState": "ACTIVE",
            }
        )
        if row.exemption is not None:
            # ASFF's free-form string map: the exemption's owner, reason and who set it travel with the finding.
            findings[-1]["ProductFields"] = {
                f"mfa-audit/exemption/{key}": value for key, value in exemption_fields(row.exemption).items() if value
            }
    return findings


def render_asff(rows: Sequence[ResultRow], *, generated: datetime, region: str) -> str:
    return json.dumps(asff_findings(rows, generated=generated, region=region), indent=2)


def user_asff(results: UserResults, region: str) -> str:
    return render_asff(results.listed, generated=results.generated, region=region)


def organization_asff(report: OrgReport, region: str) -> str:
    return _flag_asff(report, render_asff(report_rows(report), generated=report.generated, region=region))


def _flag_asff(report: OrgReport, text: str) -> str:
    """Findings in an account with more than one matching rule carry those rules (``UserDefinedFields``)."""
    flagged = flagged_users(report)
    findings = json.loads(text)
    for finding in findings:
        user_id = finding["Resources"][0]["Details"]["AwsIamUser"].get("UserId", "")
        if (finding["AwsAccountId"], user_id) in flagged:
            rules, rule = flagged[(finding["AwsAccountId"], user_id)]
            finding["UserDefinedFields"] = {"MatchingRules": ", ".join(rules), "ResultFromRule": rule}
    return json.dumps(findings, indent=2)


register(Format("asff", users=user_asff, organization=organization_asff, names_region=True))
