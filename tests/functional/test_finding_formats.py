"""ASFF checked against Security Hub's service model (botocore), JUnit XML through a parser."""

import json
import xml.etree.ElementTree as ElementTree

import botocore.session
import pytest
from botocore.validate import ParamValidator

from .test_cli import REPORT_CSV, run_cli


def _audit(tmp_path, *flags):
    path = tmp_path / "report.csv"
    path.write_text(REPORT_CSV)
    return run_cli("audit", "--credential-report", str(path), "--quiet", *flags)


def test_asff_findings_are_valid_batch_import_findings_input(tmp_path):
    completed = _audit(tmp_path, "--format", "asff", "--region", "eu-west-1")
    assert completed.returncode == 1, completed.stderr
    findings = json.loads(completed.stdout)
    assert len(findings) == 900
    model = botocore.session.get_session().get_service_model("securityhub")
    input_shape = model.operation_model("BatchImportFindings").input_shape
    # Security Hub takes 100 findings per call; each batch must be valid as sent.
    for start in range(0, len(findings), 100):
        report = ParamValidator().validate({"Findings": findings[start : start + 100]}, input_shape)
        assert not report.has_errors(), report.generate_report()
    required = set(model.shape_for("AwsSecurityFinding").required_members)
    assert required <= set(findings[0])


def test_asff_maps_results_to_compliance_status_and_keeps_ids_stable(tmp_path):
    first = json.loads(_audit(tmp_path, "--format", "asff").stdout)
    second = json.loads(_audit(tmp_path, "--format", "asff").stdout)
    assert [f["Id"] for f in first] == [f["Id"] for f in second]
    by_status = {f["Compliance"]["Status"] for f in first}
    assert by_status == {"PASSED", "FAILED", "NOT_AVAILABLE"}
    failed = next(f for f in first if f["Compliance"]["Status"] == "FAILED")
    assert failed["Severity"]["Label"] == "MEDIUM"
    assert failed["AwsAccountId"] == "123456789012"
    assert failed["ProductArn"] == "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default"
    assert failed["Resources"][0]["Details"]["AwsIamUser"]["UserName"].startswith("=1+")


def test_junit_has_a_case_per_user_and_a_failure_per_non_compliant_user(tmp_path):
    completed = _audit(tmp_path, "--format", "junit")
    suite = ElementTree.fromstring(completed.stdout)
    assert suite.tag == "testsuite"
    cases = suite.findall("testcase")
    assert len(cases) == int(suite.get("tests")) == 900
    failed = [case for case in cases if case.find("failure") is not None]
    assert len(failed) == int(suite.get("failures")) == 300
    assert all(case.get("name").startswith("=1+") for case in failed)
    assert len([case for case in cases if case.find("skipped") is not None]) == int(suite.get("skipped")) == 300


def test_junit_only_failed_lists_the_failures(tmp_path):
    suite = ElementTree.fromstring(_audit(tmp_path, "--format", "junit", "--only-failed").stdout)
    assert suite.get("tests") == suite.get("failures") == "300"


def test_ocsf_findings_are_valid_compliance_findings(tmp_path):
    from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding

    findings = json.loads(_audit(tmp_path, "--format", "ocsf").stdout)
    assert len(findings) == 900
    for finding in findings[:: 300 // 3]:
        parsed = ComplianceFinding.model_validate(finding)
        assert parsed.class_uid == 2003
    statuses = {(f["resources"][0]["name"].rstrip("0123456789"), f["compliance"]["status"]) for f in findings}
    assert statuses == {("=1+", "Fail"), ("alice", "Pass"), ("carol", "Unknown")}


NON_COMPLIANT_TEXT = (
    "Console password but no allowed MFA device (found: none; allowed: fido, hardware, virtual). "
    "Enable an allowed MFA device for this user or delete its console password."
)


def _failed_finding_text(output_format, stdout):
    if output_format == "junit":
        failure = next(
            case.find("failure") for case in ElementTree.fromstring(stdout) if case.find("failure") is not None
        )
        return [failure.get("message"), failure.text.split(": ", 1)[1]]
    findings = json.loads(stdout)
    if output_format == "asff":
        return [next(f["Description"] for f in findings if f["Compliance"]["Status"] == "FAILED")]
    failed = next(f for f in findings if f["compliance"]["status"] == "Fail")
    return [failed["message"], failed["finding_info"]["desc"]]


@pytest.mark.parametrize("output_format", ["asff", "ocsf", "junit"])
def test_a_finding_says_the_annotation_as_people_read_it_without_the_facts_record(tmp_path, output_format):
    completed = _audit(tmp_path, "--format", output_format, "--only-failed")
    assert completed.returncode == 1, completed.stderr
    assert _failed_finding_text(output_format, completed.stdout) == [NON_COMPLIANT_TEXT] * (
        1 if output_format == "asff" else 2
    )
    assert "[v1" not in completed.stdout
