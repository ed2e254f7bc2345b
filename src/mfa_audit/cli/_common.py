"""What the subcommands share: exit codes, the common flags, and writing the output.

Example::

    add_output_flags(command)
    write(args, text)
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

from console_mfa.exceptions import RuleError

from mfa_audit import __version__, formats
from mfa_audit.formats import Subject
from mfa_audit.results import ResultRow, UserResults

EXIT_OK, EXIT_NON_COMPLIANT, EXIT_ERROR = 0, 1, 2


def tool_version() -> str:
    """mfa-audit's version: ``mfa_audit.__version__``, pyproject.toml's as installed."""
    return __version__


def add_output_flags(command: argparse.ArgumentParser) -> None:
    command.add_argument("--output", type=Path, metavar="FILE", help="write to FILE instead of stdout")
    command.add_argument(
        "--only-failed", action="store_true", help="list only what failed (NON_COMPLIANT; doctor: FAIL, SKIPPED)"
    )
    command.add_argument("--quiet", action="store_true", help="no notes or progress on stderr; errors still shown")
    # As documented for every subcommand: `mfa-audit demo --version` works as `mfa-audit --version` does.
    command.add_argument("--version", action="version", version=f"mfa-audit {tool_version()}")


def add_format_flag(command: argparse.ArgumentParser, subject: Subject) -> None:
    """The formats registered for what the subcommand produces (mfa_audit.formats), read when the parser is built."""
    command.add_argument("--format", choices=formats.names(subject), default="table")


def add_result_flags(command: argparse.ArgumentParser, subject: Subject) -> None:
    """What every subcommand that produces results takes: --format, --exit-zero and the output flags."""
    add_format_flag(command, subject)
    add_exit_zero_flag(command)
    add_output_flags(command)


def add_exit_zero_flag(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--exit-zero",
        action="store_true",
        help="exit 0 even if a user is NON_COMPLIANT (errors still exit 2)",
    )


def add_credential_flags(command: argparse.ArgumentParser, offline: argparse.Action | None = None) -> None:
    """--profile, --region, --role-arn; ``offline`` (a flag that reads no account) excludes --profile and
    --role-arn, which go together: a mutually exclusive group with each, so argparse refuses the mix."""

    def beside_offline() -> argparse.ArgumentParser | argparse._MutuallyExclusiveGroup:
        if offline is None:
            return command
        group = command.add_mutually_exclusive_group()
        # argparse has no public way to put one flag in two groups; its own conflict check reads this list.
        group._group_actions.append(offline)
        return group

    beside_offline().add_argument("--profile", help="AWS profile (default: the standard credential chain)")
    command.add_argument(
        "--region",
        help="Region for STS and the API endpoints (IAM itself is global), and the Region asff and ocsf findings name",
    )
    beside_offline().add_argument("--role-arn", help="assume this role first, e.g. to reach another account")


def add_exemption_flags(command: argparse.ArgumentParser) -> None:
    """--exemption-tag and --max-exemption-days, as the rule parameters ExemptionTag and MaxExemptionDays."""
    command.add_argument("--exemption-tag", help="as the ExemptionTag rule parameter (default: mfa-exempt-until)")
    command.add_argument("--max-exemption-days", help="as the MaxExemptionDays rule parameter (default: 90)")


def exemption_parameters(args: argparse.Namespace) -> dict[str, str]:
    """The exemption flags given, as rule parameters."""
    flags = {"ExemptionTag": args.exemption_tag, "MaxExemptionDays": args.max_exemption_days}
    return {key: value for key, value in flags.items() if value is not None}


def note(args: argparse.Namespace, line: str) -> None:
    if not args.quiet:
        print(f"note: {line}", file=sys.stderr)


def write(args: argparse.Namespace, text: str) -> None:
    """The command's output, to --output or stdout. A failed write is an error (exit 2), never a traceback."""
    if args.output:
        try:
            args.output.write_text(text + "\n")
        except OSError as error:
            raise RuleError(f"cannot write {args.output}: {error.strerror}") from error
        note(args, f"wrote {args.output}")
        return
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as error:
        raise RuleError(f"cannot write the output: {error.strerror}") from error


def emit(
    args: argparse.Namespace,
    rows: Sequence[ResultRow],
    source: str,
    parameters: dict[str, str],
    limitations: Sequence[str] = (),
) -> int:
    for line in limitations:
        note(args, line)
    results = UserResults.of(
        rows, source=source, parameters=parameters, limitations=limitations, version=tool_version()
    )
    region = getattr(args, "region", None) or "us-east-1"
    write(args, formats.render(args.format, results, region=region, only_failed=args.only_failed))
    return result_code(args, results.non_compliant)


def result_code(args: argparse.Namespace, non_compliant: bool) -> int:
    return EXIT_NON_COMPLIANT if non_compliant and not args.exit_zero else EXIT_OK


def need_emulation(command: str) -> None:
    """The emulator is an extra (``pip install ".[cli]"`` has no moto): say so instead of a traceback."""
    if importlib.util.find_spec("moto") is None:
        raise RuleError(f'{command} needs the emulator (moto): pip install ".[cli,emulation]"')
