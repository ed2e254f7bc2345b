"""mfa-audit: the rule's evaluation on your own machine.

    mfa-audit demo                                  # emulated account, real Lambda handler
    mfa-audit audit --profile prod --format json    # live account, read-only
    mfa-audit audit --credential-report report.csv  # offline
    mfa-audit report --aggregator organization --format html --output report.html
    mfa-audit doctor [--organization] [--stack NAME]  # is the deployment healthy?

Exit codes, on every subcommand: 0 nothing NON_COMPLIANT (doctor: every check ran and passed),
1 something NON_COMPLIANT (doctor: a check failed or was skipped), 2 error. ``--exit-zero`` turns 1
into 0 for demo, audit and report (``make demo`` uses it: the demo's NON_COMPLIANT users are on purpose).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import traceback
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from console_mfa.credential_report import check_report_size
from console_mfa.exceptions import RuleError
from console_mfa.policy import Policy, parse_rule_parameters

from mfa_audit import formats
from mfa_audit.formats import Subject
from mfa_audit.formats._tabular import error_line
from mfa_audit.results import ResultRow, UserResults

EXIT_OK, EXIT_NON_COMPLIANT, EXIT_ERROR = 0, 1, 2
PROGRESS_THRESHOLD = 300
DEBUG_VARIABLE = "MFA_AUDIT_DEBUG"


def _version() -> str:
    try:
        return metadata.version("iam-user-console-mfa")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _add_output_flags(command: argparse.ArgumentParser) -> None:
    command.add_argument("--output", type=Path, metavar="FILE", help="write to FILE instead of stdout")
    command.add_argument(
        "--only-failed", action="store_true", help="list only what failed (NON_COMPLIANT; doctor: FAIL, SKIPPED)"
    )
    command.add_argument("--quiet", action="store_true", help="no notes or progress on stderr; errors still shown")
    # As documented for every subcommand: `mfa-audit demo --version` works as `mfa-audit --version` does.
    command.add_argument("--version", action="version", version=f"mfa-audit {_version()}")


def _add_format_flag(command: argparse.ArgumentParser, subject: Subject) -> None:
    """The formats registered for what the subcommand produces (mfa_audit.formats), read when the parser is built."""
    command.add_argument("--format", choices=formats.names(subject), default="table")


def _add_exit_zero_flag(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--exit-zero",
        action="store_true",
        help="exit 0 even if a user is NON_COMPLIANT (errors still exit 2)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mfa-audit", description="Console-MFA rule (CIS 1.10) outside Lambda.")
    parser.add_argument("--version", action="version", version=f"mfa-audit {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="evaluate an emulated account with the real Lambda handler")
    _add_format_flag(demo, Subject.USER_RESULTS)
    _add_exit_zero_flag(demo)
    _add_output_flags(demo)

    audit = commands.add_parser("audit", help="evaluate a live account (read-only) or a credential report")
    _add_credential_flags(audit)
    audit.add_argument(
        "--credential-report",
        type=Path,
        metavar="FILE",
        help="evaluate a credential report CSV offline instead of a live account",
    )
    audit.add_argument("--exempt-users", help="as the ExemptUsers rule parameter")
    audit.add_argument("--grace-period-days", help="as the GracePeriodDays rule parameter")
    audit.add_argument("--allowed-mfa-types", help="as the AllowedMfaTypes rule parameter")
    _add_format_flag(audit, Subject.USER_RESULTS)
    _add_exit_zero_flag(audit)
    _add_output_flags(audit)

    report = commands.add_parser("report", help="the rule's results across an organization, from a Config aggregator")
    source = report.add_mutually_exclusive_group(required=True)
    source.add_argument("--aggregator", help="name of the Config aggregator")
    source.add_argument("--demo", action="store_true", help="an emulated organization of 14 accounts, no AWS needed")
    report.add_argument(
        "--rule-name",
        default="IAM_USER_CONSOLE_MFA",
        help="the rule's name (organization and conformance-pack copies are found too)",
    )
    _add_credential_flags(report)
    _add_format_flag(report, Subject.ORGANIZATION_REPORT)
    _add_exit_zero_flag(report)
    _add_output_flags(report)

    doctor = commands.add_parser("doctor", help="check a live deployment, read-only: one line per check")
    doctor.add_argument("--organization", action="store_true", help="the organization stack (organization.yaml)")
    doctor.add_argument("--stack", default="iam-user-console-mfa", help="the stack name (default: %(default)s)")
    doctor.add_argument("--rule-name", default="IAM_USER_CONSOLE_MFA", help="the (organization) rule's name")
    _add_credential_flags(doctor)
    _add_output_flags(doctor)
    return parser


def _add_credential_flags(command: argparse.ArgumentParser) -> None:
    command.add_argument("--profile", help="AWS profile (default: the standard credential chain)")
    command.add_argument("--region", help="Region for STS and the API endpoints (IAM itself is global)")
    command.add_argument("--role-arn", help="assume this role first, e.g. to reach another account")


def _policy(args: argparse.Namespace) -> Policy:
    flags = {
        "ExemptUsers": args.exempt_users,
        "GracePeriodDays": args.grace_period_days,
        "AllowedMfaTypes": args.allowed_mfa_types,
    }
    return parse_rule_parameters({key: value for key, value in flags.items() if value is not None})


def _note(args: argparse.Namespace, line: str) -> None:
    if not args.quiet:
        print(f"note: {line}", file=sys.stderr)


def _write(args: argparse.Namespace, text: str) -> None:
    """The command's output, to --output or stdout. A failed write is an error (exit 2), never a traceback."""
    if args.output:
        try:
            args.output.write_text(text + "\n")
        except OSError as error:
            raise RuleError(f"cannot write {args.output}: {error.strerror}") from error
        _note(args, f"wrote {args.output}")
        return
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as error:
        raise RuleError(f"cannot write the output: {error.strerror}") from error


def _emit(
    args: argparse.Namespace,
    rows: Sequence[ResultRow],
    source: str,
    parameters: dict[str, str],
    limitations: Sequence[str] = (),
) -> int:
    for line in limitations:
        _note(args, line)
    results = UserResults.of(rows, source=source, parameters=parameters, limitations=limitations, version=_version())
    region = getattr(args, "region", None) or "us-east-1"
    _write(args, formats.render(args.format, results, region=region, only_failed=args.only_failed))
    return _result_code(args, results.non_compliant)


def _result_code(args: argparse.Namespace, non_compliant: bool) -> int:
    return EXIT_NON_COMPLIANT if non_compliant and not args.exit_zero else EXIT_OK


def _need_emulation(command: str) -> None:
    """The emulator is an extra (``pip install ".[cli]"`` has no moto): say so instead of a traceback."""
    if importlib.util.find_spec("moto") is None:
        raise RuleError(f'{command} needs the emulator (moto): pip install ".[cli,emulation]"')


def _demo(args: argparse.Namespace) -> int:
    _need_emulation("mfa-audit demo")
    from mfa_audit.emulation.demo import run_demo

    rows, parameters = run_demo()
    if args.format == "table" and not args.quiet:
        print("EMULATED AWS ACCOUNT (moto, in-process): no real AWS account is used or contacted.", file=sys.stderr)
        print(
            "The real lambda_handler ran on a ScheduledNotification; below is what AWS Config would record.",
            file=sys.stderr,
        )
        print("Rule parameters: " + ", ".join(f"{key}={value}" for key, value in parameters.items()), file=sys.stderr)
    # Exit 1, as an audit of an account with these users would: the demo shows what a CI gate sees.
    return _emit(args, rows, "emulated-account", parameters)


def _audit_live(args: argparse.Namespace, policy: Policy) -> int:
    from mfa_audit.live import audit_live_account

    progress_threshold = None if args.quiet else PROGRESS_THRESHOLD
    rows, limitations = audit_live_account(
        policy, profile=args.profile, region=args.region, role_arn=args.role_arn, progress_threshold=progress_threshold
    )
    return _emit(args, rows, "live-account", policy.as_rule_parameters(), limitations)


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
    return _emit(args, rows, "credential-report", policy.as_rule_parameters(), limitations)


def _report(args: argparse.Namespace) -> int:
    if args.demo:
        _need_emulation("mfa-audit report --demo")
        from mfa_audit.emulation.organization import demo_report

        report = demo_report()
        _note(args, "EMULATED ORGANIZATION (moto and an emulated Config aggregator): no AWS account is contacted.")
    else:
        from mfa_audit.live import clients_for_cli
        from mfa_audit.org_report import gather_report

        clients = clients_for_cli(args.profile, args.region, args.role_arn)
        report = gather_report(clients.config, args.aggregator, args.rule_name, clients.client("organizations"))
    report = replace(report, tool_version=_version())
    region = args.region or "us-east-1"
    _write(args, formats.render(args.format, report, region=region, only_failed=args.only_failed))
    return _result_code(args, bool(report.non_compliant))


def _doctor(args: argparse.Namespace) -> int:
    from mfa_audit.doctor import check_account_stack, check_organization_stack, render_checks
    from mfa_audit.live import clients_for_cli

    clients = clients_for_cli(args.profile, args.region, args.role_arn)
    check = check_organization_stack if args.organization else check_account_stack
    checks = check(clients, args.stack, args.rule_name, clients.region)
    _write(args, render_checks([c for c in checks if not (args.only_failed and c.ok)]))
    # A SKIPPED check is not a pass: ok means every listed check was made and passed.
    return EXIT_OK if all(c.ok for c in checks) else EXIT_NON_COMPLIANT


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            return _demo(args)
        if args.command == "report":
            return _report(args)
        if args.command == "doctor":
            return _doctor(args)
        policy = _policy(args)
        if args.credential_report is not None:
            if args.profile or args.role_arn:
                raise RuleError("--credential-report is offline; it cannot be combined with --profile or --role-arn")
            return _audit_report(args, policy)
        return _audit_live(args, policy)
    except RuleError as error:
        print(f"mfa-audit: error: {error_line(str(error))}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        # The reader (head, less) has gone: end quietly. Point stdout at nothing so that
        # Python's own flush at exit does not complain again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        print("mfa-audit: interrupted", file=sys.stderr)
        return EXIT_ERROR
    except Exception as error:  # noqa: BLE001 - Python's own exit code for a traceback, 1, means NON_COMPLIANT
        if os.environ.get(DEBUG_VARIABLE):
            traceback.print_exc()
        print(
            f"mfa-audit: error: unexpected {type(error).__name__}: {error_line(str(error))} (an answer that is "
            f"not from AWS, such as a proxy's page, or a bug; {DEBUG_VARIABLE}=1 prints the traceback)",
            file=sys.stderr,
        )
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
