"""Results in the formats other security tools take: Security Hub's ASFF and CI systems' JUnit XML.

* ``asff``: one AWS Security Finding Format (2018-10-08) finding per evaluated user, ready for
  ``aws securityhub batch-import-findings --findings file://findings.json``. Ids are stable (the
  user's ARN), so importing again updates a finding instead of adding one.
* ``ocsf``: one OCSF Compliance Finding (class_uid 2003) per evaluated user, as Security Lake and
  the newer Security Hub take them (checked in the tests with the ``py-ocsf-models`` library Prowler uses);
* ``junit``: a test case per evaluated user, a failure per NON_COMPLIANT user, a skip per
  NOT_APPLICABLE one, so a CI system lists who fails.

    print(render_asff(rows, generated=datetime.now(timezone.utc), region="us-east-1"))
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from datetime import datetime

from console_mfa.verdict import ComplianceType

from mfa_audit.output import ResultRow
from mfa_audit.tabular import printable

ASFF_SCHEMA_VERSION = "2018-10-08"
GENERATOR_ID = "iam-user-console-mfa/IAM_USER_CONSOLE_MFA"
TITLE = "IAM users with a console password have MFA (CIS AWS Foundations 1.10, Security Hub IAM.5)"
FINDING_TYPE = "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark"
COMPLIANCE_STATUS = {
    ComplianceType.COMPLIANT: "PASSED",
    ComplianceType.NON_COMPLIANT: "FAILED",
    ComplianceType.NOT_APPLICABLE: "NOT_AVAILABLE",
}
SEVERITY = {
    ComplianceType.COMPLIANT: "INFORMATIONAL",
    ComplianceType.NON_COMPLIANT: "MEDIUM",  # Security Hub's own severity for IAM.5
    ComplianceType.NOT_APPLICABLE: "INFORMATIONAL",
}
# Security Hub's limit on a finding's Description.
DESCRIPTION_LIMIT = 1024


def _arn_parts(arn: str) -> tuple[str, str]:
    """(partition, account) of an IAM user ARN."""
    parts = arn.split(":")
    return (parts[1], parts[4]) if len(parts) > 5 and parts[0] == "arn" else ("aws", "")


def asff_findings(rows: Sequence[ResultRow], *, generated: datetime, region: str) -> list[dict]:
    stamp = generated.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    findings = []
    for row in rows:
        partition, account = _arn_parts(row.arn)
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
                "Description": row.annotation[:DESCRIPTION_LIMIT],
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
    return findings


def render_asff(rows: Sequence[ResultRow], *, generated: datetime, region: str) -> str:
    return json.dumps(asff_findings(rows, generated=generated, region=region), indent=2)


OCSF_VERSION = "1.5.0"
OCSF_COMPLIANCE_STATUS = {  # OCSF compliance status_id: 1 Pass, 3 Fail, 0 Unknown
    ComplianceType.COMPLIANT: (1, "Pass"),
    ComplianceType.NON_COMPLIANT: (3, "Fail"),
    ComplianceType.NOT_APPLICABLE: (0, "Unknown"),
}
OCSF_SEVERITY = {"INFORMATIONAL": (1, "Informational"), "MEDIUM": (3, "Medium")}


def ocsf_findings(rows: Sequence[ResultRow], *, generated: datetime, region: str, version: str) -> list[dict]:
    milliseconds = int(generated.timestamp() * 1000)
    findings = []
    for row in rows:
        partition, account = _arn_parts(row.arn)
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
                "message": row.annotation,
                "metadata": {
                    "version": OCSF_VERSION,
                    "event_code": "IAM_USER_CONSOLE_MFA",
                    "product": {"name": "mfa-audit", "vendor_name": "iam-user-console-mfa", "version": version},
                },
                "finding_info": {
                    "uid": f"{row.arn}/iam-user-console-mfa",
                    "title": TITLE,
                    "desc": row.annotation,
                    "types": [FINDING_TYPE],
                    "created_time": milliseconds,
                },
                "compliance": {
                    "control": "1.10",
                    "standards": ["CIS AWS Foundations Benchmark", "AWS Security Hub IAM.5"],
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
    return findings


def render_ocsf(rows: Sequence[ResultRow], *, generated: datetime, region: str, version: str) -> str:
    return json.dumps(ocsf_findings(rows, generated=generated, region=region, version=version), indent=2)


def render_junit(rows: Sequence[ResultRow], *, generated: datetime) -> str:
    failures = [r for r in rows if r.result is ComplianceType.NON_COMPLIANT]
    skipped = [r for r in rows if r.result is ComplianceType.NOT_APPLICABLE]
    suite = ElementTree.Element(
        "testsuite",
        name="IAM_USER_CONSOLE_MFA",
        tests=str(len(rows)),
        failures=str(len(failures)),
        errors="0",
        skipped=str(len(skipped)),
        timestamp=generated.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    for row in rows:
        _, account = _arn_parts(row.arn)
        # XML 1.0 cannot carry most control characters at all.
        name, annotation = printable(row.user_name), printable(row.annotation)
        case = ElementTree.SubElement(suite, "testcase", classname=account or "account", name=name)
        if row.result is ComplianceType.NON_COMPLIANT:
            failure = ElementTree.SubElement(case, "failure", message=annotation, type="NON_COMPLIANT")
            failure.text = f"{printable(row.arn)}: {annotation}"
        elif row.result is ComplianceType.NOT_APPLICABLE:
            ElementTree.SubElement(case, "skipped", message=annotation)
    ElementTree.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(suite, encoding="unicode")
