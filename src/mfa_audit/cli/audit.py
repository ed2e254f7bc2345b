"""``mfa-audit audit``: a live account, read-only (it never calls PutEvaluations), or a credential report offline.

Example::

    mfa-audit audit --profile prod --format json
    mfa-audit audit --credential-report report.csv
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from pathlib import Path

from console_mfa.credential_report import check_report_size
from console_mfa.exceptions import InvalidParameterError, RuleError
from console_mfa.policy import Enforcement, Policy, parse_rule_parameters

from mfa_audit import formats
from mfa_audit.cli._common import (
    add_credential_flags,
    add_exemption_flags,
    add_result_flags,
    emit,
    exemption_parameters,
    note,
    result_code,
    write,
)
from mfa_audit.formats import Subject

PROGRESS_THRESHOLD = 300


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    audit = subparsers.add_parser("audit", help="evaluate a live account (read-only) or a credential report")
    offline = audit.add_argument(
        "--credential-report",
        type=Path,
        metavar="FILE",
        help="evaluate a credential report CSV offline instead of a live account (not with --profile, --role-arn)",
    )
    add_credential_flags(audit, offline=offline)
    audit.add_argument("--exempt-users", help="as the ExemptUsers rule parameter")
    audit.add_argument("--grace-period-days", help="as the GracePeriodDays rule parameter")
    audit.add_argument("--allowed-mfa-types", help="as the AllowedMfaTypes rule parameter")
    add_exemption_flags(audit)
    audit.add_argument(
        "--plan-enforcement",
        action="store_true",
        help="list who would be enforced now and when enforcement starts for each user in grace "
        "(formats: table, json); exit 1 when someone would be enforced now",
    )
    audit.add_argument(
        "--enforcement",
        choices=[mode.value for mode in Enforcement],
        help="as the Enforcement rule parameter: the annotation of a user in grace says when enforcement starts "
        "(default: off, but manual with --plan-enforcement)",
    )
    audit.add_argument(
        "--enforcement-started",
        metavar="YYYY-MM-DD",
        help="with --plan-enforcement: the UTC day enforcement was first on in the account (mfa-audit enforcement "
        "status shows it); everyone existing then has at least 14 days from it (default: today, as if turned on now)",
    )
    add_result_flags(audit, Subject.USER_RESULTS)
    audit.set_defaults(run=run)
    return audit


def run(args: argparse.Namespace) -> int:
    _refuse_a_region_that_changes_nothing(args)
    policy = _policy(args)
    if args.plan_enforcement:
        return _plan(args, policy)
    if args.credential_report is not None:
        return _audit_report(args, policy)
    return _audit_live(args, policy)


def _refuse_a_region_that_changes_nothing(args: argparse.Namespace) -> None:
    """A credential report is read without AWS: --region then only names the Region of asff and ocsf findings."""
    if args.credential_report is None or args.region is None:
        return
    if args.plan_enforcement or args.format not in formats.naming_region():
        what = "--plan-enforcement" if args.plan_enforcement else f"--format {args.format}"
        raise RuleError(
            f"--region does nothing here: an audit of a credential report calls no AWS endpoint and {what} names "
            f"no Region (the findings of --format {' and '.join(formats.naming_region())} do); leave it out"
        )


def _policy(args: argparse.Namespace) -> Policy:
    flags = {
        "ExemptUsers": args.exempt_users,
        "GracePeriodDays": args.grace_period_days,
        "AllowedMfaTypes": args.allowed_mfa_types,
        **exemption_parameters(args),
        "Enforcement": args.enforcement or (Enforcement.MANUAL.value if args.plan_enforcement else None),
    }
    return parse_rule_parameters({key: value for key, value in flags.items() if value is not None})


def _shown_parameters(policy: Policy) -> dict[str, str]:
    """The parameters the verdicts were decided under: Enforcement too, which words a grace annotation."""
    return {**policy.as_rule_parameters(), "Enforcement": policy.enforcement.value}


def _audit_live(args: argparse.Namespace, policy: Policy) -> int:
    from mfa_audit.live import audit_live_account

    progress_threshold = None if args.quiet else PROGRESS_THRESHOLD
    rows, limitations = audit_live_account(
        policy, profile=args.profile, region=args.region, role_arn=args.role_arn, progress_threshold=progress_threshold
    )
    return emit(args, rows, "live-account", _shown_parameters(policy), limitations)


def _plan(args: argparse.Namespace, policy: Policy) -> int:
    from mfa_audit.enforcement_plan import enforcement_plan, render_plan
    from mfa_audit.live import credential_report_facts, sweep_live_account

    now = datetime.now(timezone.utc)
    if args.credential_report is not None:
        users, limitations = credential_report_facts(_read_report(args), now, source=str(args.credential_report))
    else:
        progress_threshold = None if args.quiet else PROGRESS_THRESHOLD
        users = sweep_live_account(policy, now, args.profile, args.region, args.role_arn, progress_threshold).users
        limitations = []
    plan = enforcement_plan(users, policy, now, _enforcement_started(args.enforcement_started, now))
    text = render_plan(args.format, plan, policy, now)
    for line in limitations:
        note(args, line)
    write(args, text)
    return result_code(args, any(entry.enforce_now for entry in plan))


def _enforcement_started(value: str | None, now: datetime) -> datetime:
    if value is None:
        return now
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    except ValueError as error:
        raise InvalidParameterError("--enforcement-started", f"{value[:20]!r} is not a day (YYYY-MM-DD)") from error


def _read_report(args: argparse.Namespace) -> bytes:
    try:
        # Refused before reading: a huge file would only fill memory.
        check_report_size(args.credential_report.stat().st_size, str(args.credential_report))
        return args.credential_report.read_bytes()
    except OSError as error:
        raise RuleError(f"cannot read {args.credential_report}: {error.strerror}") from error


def _audit_report(args: argparse.Namespace, policy: Policy) -> int:
    from mfa_audit.live import audit_credential_report

    try:
        # Refused before reading: a huge file would only fill memory.
        check_report_size(args.credential_report.stat().st_size, str(args.credential_report))
        content = args.credential_report.read_bytes()
    except OSError as error:
        raise RuleError(f"cannot read {args.credential_report}: {error.strerror}") from error
    rows, limitations = audit_credential_report(
        content, policy, datetime.now(timezone.utc), source=str(args.credential_report)
    )
    return emit(args, rows, "credential-report", _shown_parameters(policy), limitations)
