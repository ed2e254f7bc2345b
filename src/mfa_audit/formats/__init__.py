"""The output formats: a registry of name -> renderer, and ``--only-failed`` applied once, here.

Each format is one module of this package that registers one :class:`Format`: its name, and a
renderer for what it can render, the user results of ``audit`` and ``demo`` (:class:`UserResults`),
the organization report of ``report`` (:class:`~mfa_audit.org_report.OrgReport`), or both. The CLI
offers, for each subcommand, the formats that can render its results. Adding a format is a module
here and its name in :data:`BUILT_IN`.

Example::

    text = render("json", UserResults.of(rows, source="live-account", parameters={}), only_failed=True)
    page = render("html", report)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum
from importlib import import_module
from typing import Union

from console_mfa.exceptions import UnknownFormatError
from console_mfa.verdict import ComplianceType

from mfa_audit.formats._organization import FIXING_URL, found_and_allowed
from mfa_audit.org_report import OrgReport
from mfa_audit.results import UserResults

__all__ = [
    "BUILT_IN",
    "FIXING_URL",
    "REPORT_FORMATS",
    "Format",
    "Subject",
    "failed_only",
    "found_and_allowed",
    "names",
    "naming_region",
    "register",
    "render",
    "render_report",
    "unregister",
]

Results = Union[UserResults, OrgReport]  # noqa: UP007 - a runtime alias, and Python 3.10 is supported
# A renderer takes what it renders and the Region the finding formats name.
UserRenderer = Callable[[UserResults, str], str]
OrganizationRenderer = Callable[[OrgReport, str], str]


class Subject(Enum):
    """What a format can render."""

    USER_RESULTS = "user results (audit, demo)"
    ORGANIZATION_REPORT = "the organization report (report)"


@dataclass(frozen=True)
class Format:
    """One output format: its name and a renderer for each subject it can render (None: it cannot).

    ``names_region``: its findings name the Region given to the renderer (the CLI's ``--region``).
    """

    name: str
    users: UserRenderer | None = None
    organization: OrganizationRenderer | None = None
    names_region: bool = False

    def renders(self, subject: Subject) -> bool:
        return self.renderer(subject) is not None

    def renderer(self, subject: Subject) -> UserRenderer | OrganizationRenderer | None:
        return self.users if subject is Subject.USER_RESULTS else self.organization


_REGISTRY: dict[str, Format] = {}


def register(output_format: Format) -> Format:
    """Add ``output_format`` (its module's one entry); a second format of the same name is refused."""
    if output_format.name in _REGISTRY:
        raise ValueError(f"an output format named {output_format.name!r} is already registered")
    if output_format.users is None and output_format.organization is None:
        raise ValueError(f"output format {output_format.name!r} renders nothing")
    _REGISTRY[output_format.name] = output_format
    return output_format


def unregister(name: str) -> None:
    """Remove a format (a plug-in's, or a test's)."""
    _REGISTRY.pop(name, None)


def names(subject: Subject) -> tuple[str, ...]:
    """The formats that can render ``subject``, in the order they were registered (the CLI's choices)."""
    return tuple(name for name, output_format in _REGISTRY.items() if output_format.renders(subject))


def naming_region() -> tuple[str, ...]:
    """The formats whose findings name a Region: the only ones ``--region`` changes without an AWS call."""
    return tuple(name for name, output_format in _REGISTRY.items() if output_format.names_region)


def subject_of(results: Results) -> Subject:
    return Subject.ORGANIZATION_REPORT if isinstance(results, OrgReport) else Subject.USER_RESULTS


def failed_only(results: Results) -> Results:
    """The same results listing only what failed (NON_COMPLIANT); the inputs are not changed. Summaries
    still count everything: a user results' ``rows``, and a report's account counts."""
    if isinstance(results, OrgReport):
        return replace(results, users=results.non_compliant)
    return replace(results, listed=tuple(r for r in results.listed if r.result is ComplianceType.NON_COMPLIANT))


def render(name: str, results: Results, *, region: str = "us-east-1", only_failed: bool = False) -> str:
    """``results`` in the format ``name``; an unknown format, or one that cannot render them, is an error.

    ``only_failed`` (``--only-failed``) lists only what failed: applied here, for every format alike.
    """
    subject = subject_of(results)
    output_format = _REGISTRY.get(name)
    if output_format is None:
        raise UnknownFormatError(f"unknown output format {name!r}; known: {', '.join(names(subject))}")
    renderer = output_format.renderer(subject)
    if renderer is None:
        raise UnknownFormatError(
            f"output format {name!r} cannot render {subject.value}; these can: {', '.join(names(subject))}"
        )
    return renderer(failed_only(results) if only_failed else results, region)


def render_report(report: OrgReport, name: str, region: str = "us-east-1") -> str:
    """The organization report in the format ``name``, every user listed."""
    return render(name, report, region=region)


# The built-in formats, in the order the CLI offers them; each module registers itself on import.
BUILT_IN = ("table", "json", "csv", "markdown", "html", "asff", "ocsf", "junit")
for _module in BUILT_IN:
    import_module(f"{__name__}.{_module}")

# The built-in formats that render the organization report (a snapshot: a later plug-in is in names()).
REPORT_FORMATS = names(Subject.ORGANIZATION_REPORT)
