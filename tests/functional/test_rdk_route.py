"""The RDK route: the `rdk` CLI 1.0.0 (Python 3.12, in .venv-rdk, built by `make test`) works on the rule folder
for the commands that need no AWS account."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RDK = ROOT / ".venv-rdk" / "bin" / "rdk"
CFN_LINT = ROOT / ".venv" / "bin" / "cfn-lint"
# cfn-lint's exit code is a bit mask: 2 errors, 4 warnings, 8 informational.
CFN_LINT_ERRORS = 2


def _python_for_rdk():
    candidates = sorted(Path.home().glob(".pyenv/versions/3.1[2-9]*/bin/python3.1[2-9]"))
    candidates += [Path(p) for p in filter(None, (shutil.which("python3.12"), shutil.which("python3.13")))]
    return candidates[0] if candidates else None


@pytest.fixture(scope="module")
def rdk():
    if not RDK.exists():
        if _python_for_rdk() is None:
            pytest.skip("RDK route NOT RUN: no Python 3.12+ on this machine, and the rdk CLI 1.0.0 needs it")
        pytest.fail(
            f"{RDK} is missing although {_python_for_rdk()} exists: `make test` builds it (make .venv-rdk/bin/rdk)"
        )

    def run(*args):
        environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        environment.update(AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION="us-east-1")
        return subprocess.run(
            [str(RDK), "-r", "us-east-1", *args],
            cwd=ROOT / "rules",
            capture_output=True,
            text=True,
            env=environment,
            timeout=300,
        )

    return run


def test_rdk_is_version_1_0_0(rdk):
    assert rdk("--version").stdout.strip().endswith("1.0.0")


def test_rdk_test_local_runs_the_rules_own_tests_and_they_pass(rdk):
    done = rdk("test-local", "IAM_USER_CONSOLE_MFA")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Ran 6 tests" in done.stderr
    assert "run=6 errors=0 failures=0" in done.stdout


def test_rdk_create_rule_template_gives_a_template_cfn_lint_finds_no_error_in(rdk, tmp_path):
    output = tmp_path / "rdk-template.json"
    done = rdk("create-rule-template", "IAM_USER_CONSOLE_MFA", "-o", str(output))
    assert done.returncode == 0, done.stdout + done.stderr
    template = json.loads(output.read_text())
    (rule,) = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Config::ConfigRule"]
    assert rule["ConfigRuleName"] == "IAM_USER_CONSOLE_MFA"
    assert rule["Scope"] == {"ComplianceResourceTypes": ["AWS::IAM::User"]}
    assert set(rule["InputParameters"]) == {
        "ExemptUsers",
        "GracePeriodDays",
        "AllowedMfaTypes",
        "ReconfirmDays",
        "Enforcement",
        "ExemptionTag",
        "MaxExemptionDays",
    }
    lint = subprocess.run([str(CFN_LINT), str(output)], capture_output=True, text=True, timeout=300)
    assert lint.returncode & CFN_LINT_ERRORS == 0, lint.stdout
    # The only findings are in RDK's own boilerplate: a DependsOn its ConfigRole already implies.
    findings = [line for line in lint.stdout.splitlines() if line[:1] in ("E", "W", "I")]
    assert {line.split()[0] for line in findings} <= {"W3005"}, lint.stdout
