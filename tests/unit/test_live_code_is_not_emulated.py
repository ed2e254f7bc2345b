"""Live code never imports the emulation: a fresh interpreter imports every live module, runs an offline
audit through the CLI, and no ``mfa_audit.emulation`` module (nor moto) has been loaded."""

import json
import subprocess
import sys
import textwrap

from tests.credential_report_text import HEADER, console_user_without_mfa

LIVE_MODULES = ("mfa_audit.cli", "mfa_audit.live", "mfa_audit.doctor", "mfa_audit.org_report")


def _modules_loaded_by(script: str) -> list[str]:
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(completed.stdout.splitlines()[-1])


def test_importing_the_live_modules_loads_no_emulation():
    script = (
        "import json, sys\n" + "".join(f"import {m}\n" for m in LIVE_MODULES) + "print(json.dumps(sorted(sys.modules)))"
    )
    loaded = _modules_loaded_by(script)
    assert set(LIVE_MODULES) <= set(loaded)
    assert [m for m in loaded if m.startswith(("mfa_audit.emulation", "moto"))] == []


def test_an_offline_audit_through_the_cli_loads_no_emulation(tmp_path):
    report = tmp_path / "report.csv"
    report.write_text(HEADER + console_user_without_mfa("bob"))
    script = textwrap.dedent(
        f"""
        import contextlib, io, json, sys
        from mfa_audit.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            code = main(["audit", "--credential-report", {str(report)!r}, "--quiet", "--format", "json"])
        assert code == 1, code
        print(json.dumps(sorted(sys.modules)))
        """
    )
    loaded = _modules_loaded_by(script)
    assert "mfa_audit.live" in loaded
    assert [m for m in loaded if m.startswith(("mfa_audit.emulation", "moto"))] == []


def test_the_demo_without_the_emulator_installed_says_which_extra_to_install():
    script = textwrap.dedent(
        """
        import sys
        sys.modules["moto"] = None  # as after pip install ".[cli]": no moto
        from mfa_audit.cli import main
        sys.exit(main(["demo"]))
        """
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2, completed.stderr
    assert 'pip install ".[cli,emulation]"' in completed.stderr
