"""``mfa-audit doctor``: a read-only check of a live deployment, one line per check.

Example::

    mfa-audit doctor --organization --stack iam-user-console-mfa-organization
"""

from __future__ import annotations

import argparse

from console_mfa import RULE_NAME

from mfa_audit.cli._common import EXIT_NON_COMPLIANT, EXIT_OK, add_credential_flags, add_output_flags, write


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    doctor = subparsers.add_parser("doctor", help="check a live deployment, read-only: one line per check")
    doctor.add_argument("--organization", action="store_true", help="the organization stack (organization.yaml)")
    doctor.add_argument("--stack", default="iam-user-console-mfa", help="the stack name (default: %(default)s)")
    doctor.add_argument("--rule-name", default=RULE_NAME, help="the (organization) rule's name")
    doctor.add_argument(
        "--events-stack", help="the iam-events.yaml stack (default: the --stack name with -events appended)"
    )
    add_credential_flags(doctor)
    add_output_flags(doctor)
    doctor.set_defaults(run=run)
    return doctor


def run(args: argparse.Namespace) -> int:
    from mfa_audit.doctor import check_account_stack, check_organization_stack, render_checks
    from mfa_audit.live import clients_for_cli

    clients = clients_for_cli(args.profile, args.region, args.role_arn)
    if args.organization:
        checks = check_organization_stack(clients, args.stack, args.rule_name, clients.region)
    else:
        checks = check_account_stack(clients, args.stack, args.rule_name, clients.region, args.events_stack)
    # The doctor's own --only-failed: its lines are checks, not user results (FAIL and SKIPPED are listed).
    write(args, render_checks([c for c in checks if not (args.only_failed and c.ok)]))
    # A SKIPPED check is not a pass: ok means every listed check was made and passed.
    return EXIT_OK if all(c.ok for c in checks) else EXIT_NON_COMPLIANT
