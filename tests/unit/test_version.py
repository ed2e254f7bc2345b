"""One version, written in pyproject.toml: the CLI, the package and the Lambda's log line all say it."""

import logging
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from console_mfa import version

import mfa_audit
from tools.package_lambda import project_version

ROOT = Path(__file__).resolve().parents[2]


def test_the_package_says_pyprojects_version():
    assert mfa_audit.__version__ == project_version() == metadata.version("iam-user-console-mfa")


def test_mfa_audit_version_prints_pyprojects_version():
    completed = subprocess.run(
        [sys.executable, "-m", "mfa_audit.cli", "--version"], capture_output=True, text=True, timeout=60, check=True
    )
    assert completed.stdout.strip() == f"mfa-audit {project_version()}"


def _not_installed(name):
    raise metadata.PackageNotFoundError(name)


def test_without_a_version_file_the_installed_metadata_is_read(monkeypatch):
    monkeypatch.setattr(version, "VERSION_FILE", "NO-SUCH-FILE")
    assert version.rule_version() == project_version()


def test_neither_file_nor_metadata_says_unknown_and_warns(monkeypatch, caplog):
    monkeypatch.setattr(version, "VERSION_FILE", "NO-SUCH-FILE")
    monkeypatch.setattr(version.metadata, "version", _not_installed)
    with caplog.at_level(logging.WARNING, logger="console_mfa"):
        assert version.rule_version() == "unknown"
    assert "version unknown" in caplog.text and "package_lambda" in caplog.text


def test_the_version_file_wins_over_the_metadata(monkeypatch, tmp_path):
    (tmp_path / "VERSION").write_text("9.9.9\n")
    monkeypatch.setattr(version.resources, "files", lambda package: tmp_path)
    monkeypatch.setattr(version.metadata, "version", _not_installed)
    assert version.rule_version() == "9.9.9"


@pytest.mark.parametrize("text", ['[project]\nname = "x"\nversion = "1.2.3"\n'])
def test_package_lambda_reads_the_project_version(tmp_path, text):
    (tmp_path / "pyproject.toml").write_text(text + '\n[tool.other]\nversion = "0"\n')
    assert project_version(tmp_path / "pyproject.toml") == "1.2.3"
