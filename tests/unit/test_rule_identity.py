"""The rule's identity is written once, in console_mfa; the templates and the RDK metadata keep their literal,
and are held to it here."""

import json
import re
from pathlib import Path

from console_mfa import CONTROLS, RESOURCE_TYPE, RULE_NAME, SEVERITY, TITLE

ROOT = Path(__file__).resolve().parents[2]
RULE_NAME_IN_TEMPLATE = re.compile(r"^\s+(?:Organization)?ConfigRuleName: (?!!)(\S+)\s*$", re.MULTILINE)


def test_every_template_names_the_rule_as_console_mfa_does():
    named = {
        path.name: RULE_NAME_IN_TEMPLATE.findall(path.read_text()) for path in (ROOT / "cloudformation").glob("*.yaml")
    }
    assert {"rule.yaml", "organization.yaml", "conformance-pack.yaml"} <= {
        name for name, found in named.items() if found
    }
    assert {name: set(found) for name, found in named.items() if found} == {
        name: {RULE_NAME} for name, found in named.items() if found
    }


def test_the_re_evaluation_stack_defaults_to_the_rule():
    template = (ROOT / "cloudformation" / "iam-events.yaml").read_text()
    assert re.search(rf"\n  ConfigRuleName:\n(?:    .*\n|      .*\n)*?    Default: {RULE_NAME}\n", template)


def test_the_rdk_metadata_and_folder_name_the_rule_as_console_mfa_does():
    parameters = json.loads((ROOT / "rules" / RULE_NAME / "parameters.json").read_text())["Parameters"]
    assert parameters["RuleName"] == RULE_NAME
    assert RESOURCE_TYPE in parameters["SourceEvents"]


def test_the_findings_carry_the_rules_metadata():
    from datetime import datetime, timezone

    from console_mfa.verdict import ComplianceType

    from mfa_audit.formats.asff import asff_findings
    from mfa_audit.formats.ocsf import ocsf_findings
    from mfa_audit.results import ResultRow

    row = ResultRow("bob", "AIDABOB", "arn:aws:iam::123456789012:user/bob", ComplianceType.NON_COMPLIANT, "no MFA")
    now = datetime(2025, 1, 1, tzinfo=timezone.utc)
    (asff,) = asff_findings([row], generated=now, region="us-east-1")
    (ocsf,) = ocsf_findings([row], generated=now, region="us-east-1", version="1")
    assert (asff["Title"], asff["Severity"]["Label"], asff["GeneratorId"]) == (
        TITLE,
        SEVERITY,
        f"iam-user-console-mfa/{RULE_NAME}",
    )
    assert (ocsf["metadata"]["event_code"], ocsf["compliance"]["control"]) == (
        RULE_NAME,
        dict(CONTROLS)["CIS AWS Foundations Benchmark"],
    )


def test_every_title_names_the_control_as_cis_numbers_it_in_v4_and_in_v5():
    """CIS numbers the control 1.10 up to v4.0 and 1.9 in v5.0: no title names only one of them."""
    from datetime import datetime, timezone

    from console_mfa import CIS_REFERENCE

    from mfa_audit import cli
    from mfa_audit.formats import render_report
    from mfa_audit.org_report import OrgReport

    report = OrgReport("organization", RULE_NAME, datetime(2026, 1, 1, tzinfo=timezone.utc), [], [])
    titles = {
        "finding title": TITLE,
        "html title": re.search(r"<title>(.*?)</title>", render_report(report, "html"))[1],
        "html heading": re.search(r"<h1>(.*?)</h1>", render_report(report, "html"))[1],
        "markdown heading": render_report(report, "markdown").splitlines()[0],
        "mfa-audit --help": cli.parser().description,
    }
    assert CIS_REFERENCE == "CIS 1.10, 1.9 in v5.0"
    assert {name: CIS_REFERENCE in title for name, title in titles.items()} == dict.fromkeys(titles, True)
