"""The JSON format: the stable schemas ``mfa-audit/v1`` (user results) and ``mfa-audit-report/v2`` (the
organization report), documented in the README.

Example::

    document = json.loads(render("json", results))
"""

from __future__ import annotations

import json
from typing import Any

from console_mfa.verdict import human_text

from mfa_audit.formats import Format, register
from mfa_audit.org_report import OrgReport
from mfa_audit.results import UserResults, facts_record, summary

SCHEMA = "mfa-audit/v1"


def user_json(results: UserResults, region: str) -> str:
    document = {
        "schema": SCHEMA,
        "source": results.source,
        "parameters": dict(results.parameters),
        "limitations": list(results.limitations),
        "summary": summary(results.rows),
        "users": [row.as_dict() for row in results.listed],
        "exemptions": [row.as_dict() for row in results.exemptions],
    }
    return json.dumps(document, indent=2)


def as_document(report: OrgReport) -> dict[str, Any]:
    """The JSON form (schema ``mfa-audit-report/v2``: counts hold only what the aggregator returns)."""
    return {
        "schema": "mfa-audit-report/v2",
        "aggregator": report.aggregator,
        "rule": report.rule,
        "generated": report.generated.isoformat(),
        "newest_result": report.newest_result.isoformat() if report.newest_result else None,
        "totals": report.totals,
        "accounts": [
            {
                "account_id": a.account_id,
                "account_name": report.account_names.get(a.account_id),
                "region": a.region,
                "status": a.status,
                "counts": a.counts,
                "rules": a.rules,
                "more_than_one_rule": a.more_than_one_rule,
            }
            for a in report.accounts
        ],
        "non_compliant": [
            {
                "account_id": u.account_id,
                "region": u.region,
                "user_name": u.user_name,
                "user_id": u.user_id,
                "annotation": human_text(u.annotation),
                "facts_record": facts_record(u.annotation),
                "rule": u.rule,
            }
            for u in report.non_compliant
        ],
        "exemptions": [row.as_dict() for row in report.exemptions],
        "exemptions_unavailable": report.exemptions_unavailable or None,
    }


def organization_json(report: OrgReport, region: str) -> str:
    return json.dumps(as_document(report), indent=2)


register(Format("json", users=user_json, organization=organization_json))
