"""The JUnit XML format: a test case per evaluated user, a failure per NON_COMPLIANT user, a skip per
NOT_APPLICABLE one, so a CI system lists who fails.

Example::

    print(render_junit(rows, generated=datetime.now(timezone.utc)))
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from datetime import datetime

from console_mfa import RULE_NAME
from console_mfa.verdict import ComplianceType

from mfa_audit.formats import Format, register
from mfa_audit.formats._findings import arn_parts, exemption_fields, report_rows, rule_copies
from mfa_audit.formats._organization import headline
from mfa_audit.formats._tabular import printable
from mfa_audit.org_report import OrgReport
from mfa_audit.results import ResultRow, UserResults


def render_junit(rows: Sequence[ResultRow], *, generated: datetime) -> str:
    return _serialised(_suite(rows, generated))


def _suite(rows: Sequence[ResultRow], generated: datetime) -> ElementTree.Element:
    failures = [r for r in rows if r.result is ComplianceType.NON_COMPLIANT]
    skipped = [r for r in rows if r.result is ComplianceType.NOT_APPLICABLE]
    suite = ElementTree.Element(
        "testsuite",
        name=RULE_NAME,
        tests=str(len(rows)),
        failures=str(len(failures)),
        errors="0",
        skipped=str(len(skipped)),
        timestamp=generated.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    for row in rows:
        _, account = arn_parts(row.arn)
        # XML 1.0 cannot carry most control characters at all.
        name, annotation = printable(row.user_name), printable(row.text)
        case = ElementTree.SubElement(suite, "testcase", classname=account or "account", name=name)
        if row.result is ComplianceType.NON_COMPLIANT:
            failure = ElementTree.SubElement(case, "failure", message=annotation, type="NON_COMPLIANT")
            failure.text = f"{printable(row.arn)}: {annotation}"
        elif row.result is ComplianceType.NOT_APPLICABLE:
            skipped = ElementTree.SubElement(case, "skipped", message=annotation)
            if row.exemption is not None:
                skipped.text = "; ".join(
                    f"{key}: {printable(value)}" for key, value in exemption_fields(row.exemption).items() if value
                )
    return suite


def _serialised(suite: ElementTree.Element) -> str:
    ElementTree.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(suite, encoding="unicode")


def user_junit(results: UserResults, region: str) -> str:
    return render_junit(results.listed, generated=results.generated)


def organization_junit(report: OrgReport, region: str) -> str:
    """As for one account; the suite also names each account with more than one matching rule
    (a property each, and a line in system-err)."""
    suite = _suite(report_rows(report), report.generated)
    flags = rule_copies(report)
    if flags:
        properties = ElementTree.Element("properties")
        for account_id, rules in flags.items():
            ElementTree.SubElement(
                properties, "property", name=f"more_than_one_rule:{account_id}", value=", ".join(rules)
            )
        suite.insert(0, properties)
        errors = ElementTree.SubElement(suite, "system-err")
        errors.text = "\n".join(printable(line) for line in headline(report) if "more than one rule" in line)
    return _serialised(suite)


register(Format("junit", users=user_junit, organization=organization_junit))
