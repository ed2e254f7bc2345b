"""The rule's version, written once in pyproject.toml.

The Lambda zip has no package metadata, so ``tools/package_lambda.py`` writes the version into it as
``console_mfa/VERSION`` (generated when packaging, never committed); where the package is installed
(the CLI, the tests) the installed metadata says it. Neither: "unknown", with a warning saying why.

Example::

    log = {"rule": RULE_NAME, "version": rule_version()}
"""

from __future__ import annotations

import logging
from importlib import metadata, resources

DISTRIBUTION = "iam-user-console-mfa"
VERSION_FILE = "VERSION"
UNKNOWN = "unknown"

logger = logging.getLogger("console_mfa")


def rule_version() -> str:
    """The packaged VERSION file's version, else the installed distribution's, else "unknown" (warned)."""
    try:
        packaged = resources.files(__package__).joinpath(VERSION_FILE).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        packaged = ""
    if packaged:
        return packaged
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        logger.warning(
            "version unknown: console_mfa/%s is missing (tools/package_lambda.py writes it into the zip) and %s "
            "is not installed",
            VERSION_FILE,
            DISTRIBUTION,
        )
        return UNKNOWN
