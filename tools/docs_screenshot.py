"""The organization report's picture in the docs, made as the report test makes its own.

    python -m tools.docs_screenshot docs/images/organization-report.png     # what `make screenshot` runs

Renders `mfa-audit report --demo --format html` (the emulated organization, no AWS) and photographs it
in the headless Chromium of tests/functional/test_org_report.py, with that test's flags: no network, so
the page can load nothing. Exit 2, with one line, when there is no Chromium or a step fails.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.functional.test_org_report import chromium_flags

# Wide enough for the table's columns, tall enough for the headline, the chart and the first failing users.
WINDOW_SIZE = "1200,1500"
MFA_AUDIT = Path(sys.executable).with_name("mfa-audit")


def render_demo_report(page: Path) -> None:
    """The demo organization's HTML report, written by the CLI exactly as the docs show it."""
    command = [str(MFA_AUDIT), "report", "--demo", "--format", "html", "--output", str(page), "--exit-zero", "--quiet"]
    subprocess.run(command, check=True, capture_output=True, timeout=300)  # noqa: S603 - fixed command


def photograph(page: Path, picture: Path, scratch: Path) -> None:
    """A PNG of the page as headless Chromium draws it."""
    picture.parent.mkdir(parents=True, exist_ok=True)
    command = [
        *chromium_flags(scratch),
        f"--screenshot={picture}",
        f"--window-size={WINDOW_SIZE}",
        "--hide-scrollbars",
        page.as_uri(),
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=120)  # noqa: S603 - fixed command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("picture", type=Path, help="where to write the PNG")
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="mfa-audit-screenshot-"))
    try:
        page = scratch / "organization-report.html"
        render_demo_report(page)
        photograph(page, args.picture, scratch)
    except (pytest.skip.Exception, pytest.fail.Exception) as missing:  # find_chromium: no Chromium here
        print(f"screenshot: NOT MADE - {missing.msg}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as failed:
        reason = (failed.stderr or b"").decode(errors="replace").strip().splitlines() or ["no output"]
        print(
            f"screenshot: {Path(failed.cmd[0]).name} failed (exit {failed.returncode}): {reason[-1]}", file=sys.stderr
        )
        return 2
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"screenshot: wrote {args.picture} ({args.picture.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
