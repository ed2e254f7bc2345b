"""Build the Lambda zip reproducibly: the rule folder's tracked files plus rdklib, byte-identical for the same inputs.

    python -m tools.package_lambda            # writes dist/IAM_USER_CONSOLE_MFA.zip, prints its SHA-256

Only files git tracks in the rule folder are packed, so a stray ``.env`` or editor file next to
the code never ships.

boto3 is left out on purpose: the python3.12 runtime provides it, and the rule uses
only long-standing IAM, CloudTrail, Config and STS calls. rdklib's test helpers
(``rdklibtest``), caches and bytecode are left out too. The version (pyproject.toml's) is written
into the zip as ``console_mfa/VERSION``, where the handler reads it.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RULE_DIR = ROOT / "rules" / "IAM_USER_CONSOLE_MFA"
REQUIREMENTS = ROOT / "requirements.txt"
PYPROJECT = ROOT / "pyproject.toml"
# Where the handler reads its version (console_mfa.version): the zip has no package metadata.
VERSION_ENTRY = "console_mfa/VERSION"
# Zip entries carry this date so that rebuilding never changes the bytes.
FIXED_DATE = (1980, 1, 1, 0, 0, 0)
EXCLUDED_PARTS = {"__pycache__", "rdklibtest", "tests", "bin"}
EXCLUDED_SUFFIXES = {".pyc", ".pyo"}


def pinned(package: str) -> str:
    for line in REQUIREMENTS.read_text().splitlines():
        if line.split("==")[0].strip().lower() == package:
            return line.strip()
    raise SystemExit(f"{package} is not pinned in {REQUIREMENTS}")


def project_version(pyproject: Path = PYPROJECT) -> str:
    """The one version, from pyproject.toml's [project] table."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: [project]'s own version line
        match = re.search(
            r'^\[project\][^\[]*?^version\s*=\s*"([^"]+)"', pyproject.read_text(), re.MULTILINE | re.DOTALL
        )
        if match is None:
            raise SystemExit(f"package: no [project] version in {pyproject}") from None
        return match.group(1)
    try:
        return tomllib.loads(pyproject.read_text())["project"]["version"]
    except KeyError as error:
        raise SystemExit(f"package: no [project] version in {pyproject}") from error


def add_version(archive: zipfile.ZipFile, version: str) -> None:
    """The version as a file of the zip, dated like every entry so the bytes stay the same."""
    info = zipfile.ZipInfo(VERSION_ENTRY, FIXED_DATE)
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, version + "\n", compresslevel=9)


def _wanted(path: Path, root: Path) -> bool:
    relative = path.relative_to(root)
    if any(part in EXCLUDED_PARTS for part in relative.parts) or path.suffix in EXCLUDED_SUFFIXES:
        return False
    if path.name.endswith("_test.py"):  # the rule's `rdk test-local` tests
        return False
    # Install metadata (RECORD, INSTALLER, an editable install's egg-info) varies between machines.
    return not any(part.endswith((".dist-info", ".egg-info")) for part in relative.parts)


def tracked_files(folder: Path) -> list[Path]:
    """The files git tracks below ``folder``, as they are in the working tree."""
    try:
        listing = subprocess.run(  # noqa: S603 - fixed arguments
            ["git", "ls-files", "-z", "--", "."],  # noqa: S607 - git from PATH, as any developer runs it
            cwd=folder,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        raise SystemExit(
            f"package: cannot list the files git tracks in {folder} ({error}); build from a git checkout"
        ) from error
    # A tracked file deleted in the working tree is not packed.
    return [folder / name for name in listing.decode().split("\0") if name and (folder / name).is_file()]


def add_files(archive: zipfile.ZipFile, root: Path, paths: list[Path]) -> None:
    for path in sorted(p for p in paths if _wanted(p, root)):
        info = zipfile.ZipInfo(path.relative_to(root).as_posix(), FIXED_DATE)
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, path.read_bytes(), compresslevel=9)


def build(output: Path, rule_dir: Path = RULE_DIR, pyproject: Path = PYPROJECT) -> str:
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as vendor:
        subprocess.run(  # noqa: S603 - fixed arguments, pinned requirement
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--no-compile",
                "--target",
                vendor,
                pinned("rdklib"),
            ],
            check=True,
        )
        temporary = output.with_suffix(".tmp")
        with zipfile.ZipFile(temporary, "w") as archive:
            add_files(archive, rule_dir, tracked_files(rule_dir))
            add_version(archive, project_version(pyproject))
            add_files(archive, Path(vendor), [p for p in Path(vendor).rglob("*") if p.is_file()])
        temporary.replace(output)
    return hashlib.sha256(output.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description="Build the Lambda zip reproducibly.")
    parser.add_argument("--output", type=Path, default=ROOT / "dist" / "IAM_USER_CONSOLE_MFA.zip")
    args = parser.parse_args()
    digest = build(args.output)
    print(f"{args.output}  sha256:{digest}")


if __name__ == "__main__":
    main()
