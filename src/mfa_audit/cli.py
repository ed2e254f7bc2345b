"""mfa-audit: the rule's evaluation on your own machine.

    mfa-audit demo                                  # emulated account, real Lambda handler
    mfa-audit audit --profile prod --format json    # live account, read-only
    mfa-audit audit --credential-report report.csv  # offline
    mfa-audit report --aggregator organization --format html --output report.html
    mfa-audit doctor [--organization] [--stack NAME]  # is the deployment healthy?

Exit codes: 0 nothing NON_COMPLIANT, 1 something NON_COMPLIANT, 2 error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from console_mfa.exceptions import RuleError
from console_mfa.policy import Policy, parse_rule_parameters
from console_mfa.verdict import ComplianceType

from mfa_audit.org_report_render import REPORT_FORMATS, render_report
from mfa_audit.output import FORMATS, ResultRow, render

EXIT_OK, EXIT_NON_COMPLIANT, EXIT_ERROR = 0, 1, 2
PROGRESS_THRESHOLD = 300

CREDENTIAL_REPORT_LIMITATIONS = (
    "Offline: the credential report can be up to 4 hours old; users changed since it was generated are not seen.",
    "Offline: the report says only that some MFA device is active, not its kind. It counts as MFA when every kind "
    "is allowed; with --allowed-mfa-types narrowed it counts as none (NON_COMPLIANT), since it cannot be checked.",
    "Offline: the report has no login-profile creation date; the grace period runs from the user's creation, "
    "which is never later, so no one is granted more grace than the live rule would.",
    "Offline: the report has no UserIds; users are identified by name and ARN, and an exemption by UserId "
    "cannot be applied.",
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mfa-audit", description="Console-MFA rule (CIS 1.10) outside Lambda.")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="evaluate an emulated account with the real Lambda handler")
    demo.add_argument("--format", choices=FORMATS, default="table")

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
    audit.add_argument("--format", choices=FORMATS, default="table")

    report = commands.add_parser("report", help="the rule's results across an organization, from a Config aggregator")
    report.add_argument("--aggregator", required=True, help="name of the Config aggregator")
    report.add_argument(
        "--rule-name",
        default="IAM_USER_CONSOLE_MFA",
        help="the rule's name (organization and conformance-pack copies are found too)",
    )
    _add_credential_flags(report)
    report.add_argument("--format", choices=REPORT_FORMATS, default="table")
    report.add_argument("--output", type=Path, help="write to this file instead of stdout")

    doctor = commands.add_parser("doctor", help="check a live deployment, read-only: one line per check")
    doctor.add_argument("--organization", action="store_true", help="the organization stack (organization.yaml)")
    doctor.add_argument("--stack", default="iam-user-console-mfa", help="the stack name (default: %(default)s)")
    doctor.add_argument("--rule-name", default="IAM_USER_CONSOLE_MFA", help="the (organization) rule's name")
    _add_credential_flags(doctor)
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


def _emit(
    rows: Sequence[ResultRow],
    output_format: str,
    source: str,
    parameters: dict[str, str],
    limitations: Sequence[str] = (),
) -> int:
    if output_format == "table":
        for line in limitations:
            print(f"note: {line}", file=sys.stderr)
    print(render(rows, output_format, source=source, parameters=parameters, limitations=limitations))
    return EXIT_NON_COMPLIANT if any(row.result is ComplianceType.NON_COMPLIANT for row in rows) else EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    from mfa_audit.demo import run_demo

    if args.format == "table":
        print("EMULATED AWS ACCOUNT (moto, in-process): no real AWS account is used or contacted.")
        print("Running the real lambda_handler on a ScheduledNotification; below is what AWS Config would record.\n")
    rows, parameters = run_demo()
    if args.format == "table":
        print("Rule parameters: " + ", ".join(f"{key}={value}" for key, value in parameters.items()) + "\n")
    _emit(rows, args.format, "emulated-account", parameters)
    return EXIT_OK  # the demo's NON_COMPLIANT users are there on purpose


def _audit_live(args: argparse.Namespace, policy: Policy) -> int:
    from mfa_audit.live import audit_live_account

    rows = audit_live_account(
        policy, profile=args.profile, region=args.region, role_arn=args.role_arn, progress_threshold=PROGRESS_THRESHOLD
    )
    return _emit(rows, args.format, "live-account", policy.as_rule_parameters())


def _audit_report(args: argparse.Namespace, policy: Policy) -> int:
    from mfa_audit.live import audit_credential_report

    try:
        content = args.credential_report.read_bytes()
    except OSError as error:
        raise RuleError(f"cannot read {args.credential_report}: {error.strerror}") from error
    rows = audit_credential_report(content, policy, datetime.now(timezone.utc))
    return _emit(rows, args.format, "credential-report", policy.as_rule_parameters(), CREDENTIAL_REPORT_LIMITATIONS)


def _report(args: argparse.Namespace) -> int:
    from mfa_audit.live import clients_for_cli
    from mfa_audit.org_report import gather_report

    clients = clients_for_cli(args.profile, args.region, args.role_arn)
    report = gather_report(clients.config, args.aggregator, args.rule_name)
    text = render_report(report, args.format)
    if args.output:
        try:
            args.output.write_text(text + "\n")
        except OSError as error:
            raise RuleError(f"cannot write {args.output}: {error.strerror}") from error
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        print(text)
    return EXIT_NON_COMPLIANT if report.non_compliant else EXIT_OK


def _doctor(args: argparse.Namespace) -> int:
    from mfa_audit.doctor import check_account_stack, check_organization_stack, render_checks
    from mfa_audit.live import clients_for_cli

    clients = clients_for_cli(args.profile, args.region, args.role_arn)
    check = check_organization_stack if args.organization else check_account_stack
    checks = check(clients, args.stack, args.rule_name, clients.region)
    print(render_checks(checks))
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
        print(f"mfa-audit: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("mfa-audit: interrupted", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
