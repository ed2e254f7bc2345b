"""The OCSF format: one OCSF Compliance Finding (class_uid 2003) per evaluated user.

As Security Lake and the newer Security Hub take them (checked in the tests with the
``py-ocsf-models`` library Prowler uses). In the organization report, findings in an account with
more than one matching rule carry those rules (``unmapped``).

Example::

    print(render_ocsf(rows, generated=datetime.now(timezone.utc), region="us-east-1", version="0.1.0"))
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from console_mfa import CONTROLS, FINDING_TYPE, RULE_NAME, TITLE
from console_mfa.verdict import ComplianceType

from mfa_audit.formats import Format, register
from mfa_audit.formats._findings import SEVERITY, arn_parts, exemption_fields, flagged_users, report_rows
from mfa_audit.org_report import OrgReport
from mfa_audit.results import ResultRow, UserResults

OCSF_VERSION = "1.5.0"
OCSF_COMPLIANCE_STATUS = {  # OCSF compliance status_id: 1 Pass, 3 Fail, 0 Unknown
    ComplianceType.COMPLIANT: (1, "Pass"),
    ComplianceType.NON_COMPLIANT: (3, "Fail"),
    ComplianceType.NOT_APPLICABLE: (0, "Unknown"),
}
OCSF_SEVERITY = {"INFORMATIONAL": (1, "Informational"), "MEDIUM": (3, "Medium")}
# compliance.control holds the CIS control; standards name CIS, then each further control with its standard.
(CIS_STANDARD, CIS_CONTROL), *OTHER_CONTROLS = CONTROLS
STANDARDS = [CIS_STANDARD, *(f"{standard} {control}" for standard, control in OTHER_CONTROLS)]


def ocsf_findings(rows: Sequence[ResultRow], *, generated: datetime, region: str, version: str) -> list[dict]:
    milliseconds = int(generated.timestamp() * 1000)
    findings = []
    for row in rows:
        partition, account = arn_parts(row.arn)
        severity_id, severity = OCSF_SEVERITY[SEVERITY[row.result]]
        status_id, status = OCSF_COMPLIANCE_STATUS[row.result]
        findings.append(
            {
                "activity_id": 1,
                "activity_name": "Create",
                "category_uid": 2,
                "category_name": "Findings",
                "class_uid": 2003,
                "class_name": "Compliance Finding",
                "type_uid": 200301,
                "type_name": "Compliance Finding: Create",
                "severity_id": severity_id,
                "severity": severity,
                "status_id": 1,
                "status": "New",
                "time": milliseconds,
                "message": row.text,
                "metadata": {
                    "version": OCSF_VERSION,
                    "event_code": RULE_NAME,
                    "product": {"name": "mfa-audit", "vendor_name": "iam-user-console-mfa", "version": version},
                },
                "finding_info": {
                    "uid": f"{row.arn}/iam-user-console-mfa",
                    "title": TITLE,
                    "desc": row.text,
                    "types": [FINDING_TYPE],
                    "created_time": milliseconds,
                },
                "compliance": {
                    "control": CIS_CONTROL,
                    "standards": STANDARDS,
                    "status_id": status_id,
                    "status": status,
                },
                "resources": [
                    {
                        "uid": row.arn,
                        "name": row.user_name,
                        "type": "AwsIamUser",
                        "cloud_partition": partition,
                        "region": region,
                        "data": {"user_id": row.user_id, "result": row.result.value},
                    }
                ],
                "cloud": {"provider": "AWS", "account": {"uid": account}, "region": region},
            }
        )
        if row.exemption is not None:
            findings[-1]["unmapped"] = {"exemption": exemption_fields(row.exemption)}
    return findings


def render_ocsf(rows: Sequence[ResultRow], *, generated: datetime, region: str, version: str) -> str:
    return json.dumps(ocsf_findings(rows, generated=generated, region=region, version=version), indent=2)


def user_ocsf(results: UserResults, region: str) -> str:
    return render_ocsf(results.listed, generated=results.generated, region=region, version=results.version)


def organization_ocsf(report: OrgReport, region: str) -> str:
    findings = render_ocsf(report_rows(report), generated=report.generated, region=region, version=report.tool_version)
    return _flag_ocsf(report, findings)


def _flag_ocsf(report: OrgReport, text: str) -> str:
    """As :func:`_flag_asff`, in OCSF's place for source-specific attributes (``unmapped``)."""
    flagged = flagged_users(report)
    findings = json.loads(text)
    for finding in findings:
        key = (finding["cloud"]["account"]["uid"], finding["resources"][0]["data"]["user_id"])
        if key in flagged:
            rules, rule = flagged[key]
            finding["unmapped"] = {"matching_rules": rules, "result_from_rule": rule}
    return json.dumps(findings, indent=2)


register(Format("ocsf", users=user_ocsf, organization=organization_ocsf, names_region=True))
