"""The Makefile: `make help` lists every target, every target does something, and `make browser` installs
Chromium only as root with apt-get, saying so first; elsewhere the browser test is NOT RUN, visibly."""

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.functional.test_org_report import find_chromium

ROOT = Path(__file__).resolve().parents[2]
MAKE = "/usr/bin/make"


def make(*args: str, path: str | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("CHROMIUM", "MAKEFLAGS", "MFLAGS")}
    if path is not None:
        environment["PATH"] = path
    return subprocess.run(
        [MAKE, "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True, env=environment, timeout=120
    )


def phony_targets() -> set[str]:
    (line,) = [line for line in (ROOT / "Makefile").read_text().splitlines() if line.startswith(".PHONY:")]
    return set(line.split(":", 1)[1].split())


def database_blocks() -> dict[str, str]:
    """make's own database (-p): each target's block, with its recipe if it has one."""
    database = make("-pRrq", "help").stdout
    files = database.split("# Files", 1)[1]
    return {block.split(":", 1)[0]: block for block in files.split("\n\n") if re.match(r"^[\w.-]+:", block)}


def test_make_help_lists_every_target_once_with_a_line_saying_what_it_does():
    done = make("help")
    assert done.returncode == 0, done.stderr
    listed = {}
    for line in done.stdout.splitlines():
        name, _, text = line.strip().partition(" ")
        assert name not in listed, f"{name} listed twice"
        listed[name] = text.strip()
    assert set(listed) == phony_targets()
    assert all(listed.values()), listed


def test_make_with_no_target_shows_the_help():
    assert make().stdout == make("help").stdout


def test_every_declared_target_has_a_recipe():
    blocks = database_blocks()
    without = sorted(t for t in phony_targets() if "#  recipe to execute" not in blocks.get(t, ""))
    assert without == []


def test_make_doctor_runs_the_doctor_with_region_stack_and_organization():
    done = make("-n", "doctor", "REGION=eu-west-1", "STACK=mfa-org", "ORGANIZATION=1", "PROFILE=audit")
    assert ".venv/bin/mfa-audit doctor --region eu-west-1 --stack mfa-org --organization --profile audit" in done.stdout


def test_make_doctor_without_a_region_prints_its_usage_and_exits_2(tmp_path):
    (tmp_path / "stamp").touch()
    done = make("doctor", f"STAMP={tmp_path / 'stamp'}")
    assert done.returncode == 2
    assert "usage: make doctor REGION=..." in done.stdout


def test_make_rdk_check_runs_the_rdk_route_tests():
    done = make("-n", "rdk-check")
    assert re.search(r"pytest .*tests/functional/test_rdk_route\.py", done.stdout), done.stdout


def _fake_bin(tmp_path: Path, uid: int, with_apt: bool = True) -> Path:
    """A PATH with no Chromium: `id` answering uid, and an apt-get that only records how it was called."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    if with_apt:
        (bin_dir / "apt-get").write_text(f'#!/bin/sh\necho "$*" >> {tmp_path / "apt.log"}\n')
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    return bin_dir


def test_make_browser_as_root_with_apt_says_it_installs_chromium_before_it_does(tmp_path):
    done = make("-s", "browser", path=str(_fake_bin(tmp_path, uid=0)))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("browser: installing Debian's chromium with apt-get")
    assert (tmp_path / "apt.log").read_text().splitlines() == ["update -qq", "install -y -qq chromium"]


@pytest.mark.parametrize(("uid", "with_apt"), [(1000, True), (0, False)], ids=["not root", "no apt-get"])
def test_make_browser_that_cannot_install_chromium_installs_nothing_and_says_not_run(tmp_path, uid, with_apt):
    done = make("-s", "browser", path=str(_fake_bin(tmp_path, uid=uid, with_apt=with_apt)))
    assert done.returncode == 0, done.stderr
    assert "HTML report test NOT RUN" in done.stdout
    assert not (tmp_path / "apt.log").exists()


def test_make_browser_with_chromium_named_by_the_chromium_variable_installs_nothing(tmp_path):
    environment_path = str(_fake_bin(tmp_path, uid=0))
    done = subprocess.run(
        [MAKE, "-s", "browser"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": environment_path, "CHROMIUM": "/opt/chromium/chrome"},
        timeout=60,
    )
    assert done.stdout == ""
    assert not (tmp_path / "apt.log").exists()


def test_the_browser_test_is_not_run_visibly_where_chromium_cannot_be_installed(monkeypatch, tmp_path):
    monkeypatch.delenv("CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", str(_fake_bin(tmp_path, uid=1000)))
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(pytest.skip.Exception, match="NOT RUN"):
        find_chromium()


def test_the_browser_test_fails_as_root_with_apt_when_chromium_was_not_installed(monkeypatch, tmp_path):
    monkeypatch.delenv("CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", str(_fake_bin(tmp_path, uid=0)))
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    with pytest.raises(pytest.fail.Exception, match="make browser"):
        find_chromium()


def test_the_browser_test_uses_the_chromium_the_variable_names(monkeypatch, tmp_path):
    monkeypatch.setenv("CHROMIUM", "/opt/chromium/chrome")
    monkeypatch.setenv("PATH", str(_fake_bin(tmp_path, uid=1000)))
    assert find_chromium() == "/opt/chromium/chrome"


@pytest.mark.parametrize("target", ["deploy", "deploy-organization"])
def test_make_deploy_without_a_bucket_prints_its_usage_before_building_the_zip(tmp_path, target):
    (tmp_path / "stamp").touch()
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "python").write_text(f'#!/bin/sh\ntouch "{tmp_path / "ran"}"\n')
    (fake_bin / "python").chmod(0o755)
    done = make(target, "REGION=us-east-1", f"STAMP={tmp_path / 'stamp'}", f"BIN={fake_bin}")
    assert done.returncode == 2
    assert f"usage: make {target} BUCKET=... REGION=..." in done.stdout
    assert not (tmp_path / "ran").exists()  # neither the packager nor the deploy tool ran


def test_a_params_word_without_equals_is_named_as_params_the_variable_the_user_typed(tmp_path):
    import sys

    (tmp_path / "stamp").touch()
    arguments = ["deploy-member-role", "REGION=us-east-1", "PARAMS=noequals", f"STAMP={tmp_path / 'stamp'}"]
    done = make(*arguments, f"BIN={Path(sys.executable).parent}")
    assert done.returncode == 2
    assert "deploy: PARAMS: expected Key=Value, got 'noequals' first" in done.stderr
    assert "MFA_DEPLOY_PARAMS" not in done.stderr
