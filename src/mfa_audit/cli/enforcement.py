"""``mfa-audit enforcement``: the deployed enforcement's kill switch, its state, and undo.

Example::

    mfa-audit enforcement pause --stack iam-user-console-mfa
    mfa-audit enforcement status --stack iam-user-console-mfa
    mfa-audit enforcement undo --since 2026-12-01 --stack iam-user-console-mfa
    mfa-audit enforcement undo --since 2026-12-01 --stack org-stack --account 111122223333 \\
        --member-role-arn arn:aws:iam::111122223333:role/Admin
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone

from console_mfa.exceptions import InvalidParameterError

from mfa_audit.cli._common import EXIT_ERROR, EXIT_OK, add_credential_flags, add_output_flags, write

ACTIONS = ("status", "pause", "resume", "undo")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    command = subparsers.add_parser(
        "enforcement",
        help="the deployed enforcement: status, pause / resume (the kill switch), undo (out of the ForceMfa group)",
    )
    command.add_argument("action", choices=ACTIONS)
    command.add_argument("--stack", default="iam-user-console-mfa", help="the stack name (default: %(default)s)")
    command.add_argument(
        "--account", help="an organization stack: the member account whose counts to show or whose users to undo"
    )
    command.add_argument("--since", help="undo: every user enforced from this UTC day (YYYY-MM-DD) on")
    command.add_argument(
        "--member-role-arn",
        help="undo with an organization stack: a role in the member account that may remove users from the group",
    )
    add_credential_flags(command)
    add_output_flags(command)
    command.set_defaults(run=run)
    return command


def _since(value: str | None) -> datetime:
    if value is None:
        raise InvalidParameterError("--since", "undo needs --since YYYY-MM-DD")
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    except ValueError as error:
        raise InvalidParameterError("--since", f"{value[:20]!r} is not a day (YYYY-MM-DD)") from error


def run(args: argparse.Namespace) -> int:
    from mfa_audit.enforcement_control import EnforcementControl
    from mfa_audit.live import clients_for_cli

    clients = clients_for_cli(args.profile, args.region, args.role_arn)
    control = EnforcementControl.of_stack(clients, args.stack, args.account)
    now = datetime.now(timezone.utc)
    if args.action == "pause":
        control.pause()
        write(args, f"paused: {control.switch_parameter} = paused; nobody is enforced until resume")
    elif args.action == "resume":
        control.resume()
        write(args, f"resumed: {control.switch_parameter} = on")
    elif args.action == "status":
        status = control.status(now)
        switch = "missing (paused: fails closed)" if status.switch is None else repr(status.switch)
        lines = [
            f"switch: {control.switch_parameter} = {switch} -> enforcement {'ON' if status.on else 'PAUSED'}",
            f"started: {status.started:%Y-%m-%d %H:%M} UTC" if status.started else "started: not yet",
            f"enforced today (UTC): {status.enforced_today}",
        ]
        if status.organization_enforced_today is not None:
            lines.append(f"enforced today in the organization: {status.organization_enforced_today}")
        write(args, "\n".join(lines))
    else:
        iam = clients.iam
        if args.member_role_arn:
            iam = clients_for_cli(args.profile, args.region, args.member_role_arn).iam
        undone = control.undo(iam, _since(args.since), now)
        lines = [f"removed from the ForceMfa group: {name}" for name in undone.removed]
        lines += [f"not in the group (or deleted): {name}" for name in undone.not_in_group]
        write(args, "\n".join(lines) or f"nobody was enforced since {args.since}")
        return EXIT_OK if undone.removed or not undone.not_in_group else EXIT_ERROR
    return EXIT_OK
