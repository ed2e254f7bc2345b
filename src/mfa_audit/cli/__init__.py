"""mfa-audit: the rule's evaluation on your own machine. One module per subcommand, each with
``add_parser(subparsers)`` and ``run(args) -> int``, bound to its parser with ``set_defaults(run=...)``.

    mfa-audit demo                                  # emulated account, real Lambda handler
    mfa-audit audit --profile prod --format json    # live account, read-only
    mfa-audit audit --credential-report report.csv  # offline
    mfa-audit report --aggregator organization --format html --output report.html
    mfa-audit doctor [--organization] [--stack NAME]  # is the deployment healthy?
    mfa-audit enforcement status|pause|resume|undo --stack NAME  # the enforcement's kill switch and undo

Exit codes, on every subcommand: 0 nothing NON_COMPLIANT (doctor: every check ran and passed),
1 something NON_COMPLIANT (doctor: a check failed or was skipped), 2 error (enforcement undo: a user the
ledger names could not be found in the group and nobody was removed). ``--exit-zero`` turns 1
into 0 for demo, audit and report (``make demo`` uses it: the demo's NON_COMPLIANT users are on purpose).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from console_mfa import CIS_REFERENCE
from console_mfa.exceptions import RuleError

from mfa_audit.cli import audit, demo, doctor, enforcement, report
from mfa_audit.cli._common import EXIT_ERROR, EXIT_OK, tool_version
from mfa_audit.formats._tabular import error_line

SUBCOMMANDS = (demo, audit, report, doctor, enforcement)
DEBUG_VARIABLE = "MFA_AUDIT_DEBUG"


class CommandLine(argparse.ArgumentParser):
    """The top-level parser. A flag the chosen subcommand does not take is refused by that subcommand's
    parser, with its usage (argparse's own top level would print the top-level usage instead)."""

    subcommands: dict[str, argparse.ArgumentParser]

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        parsed, unknown = self.parse_known_args(args, namespace)
        if unknown:
            self.subcommands[parsed.command].error(f"unrecognized arguments: {' '.join(unknown)}")
        return parsed


def parser() -> CommandLine:
    """The whole command line; each subcommand adds its own parser (the formats offered are read now)."""
    command_line = CommandLine(prog="mfa-audit", description=f"Console-MFA rule ({CIS_REFERENCE}) outside Lambda.")
    command_line.add_argument("--version", action="version", version=f"mfa-audit {tool_version()}")
    subparsers = command_line.add_subparsers(dest="command", required=True)
    command_line.subcommands = {}
    for subcommand in SUBCOMMANDS:
        command = subcommand.add_parser(subparsers)
        command_line.subcommands[command.prog.split()[-1]] = command
    return command_line


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
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
