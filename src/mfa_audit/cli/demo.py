"""``mfa-audit demo``: an emulated account, evaluated by the real Lambda handler (needs the emulation extra).

``--walkthrough`` plays one user through enforcement instead, day by day on an emulated clock
(:mod:`mfa_audit.emulation.walkthrough`); exit 1 names the step that did not see what it expected.

Example::

    mfa-audit demo --format json
    mfa-audit demo --walkthrough
"""

from __future__ import annotations

import argparse
import sys

from console_mfa.exceptions import RuleError

from mfa_audit.cli._common import EXIT_NON_COMPLIANT, EXIT_OK, add_result_flags, emit, need_emulation, note, write
from mfa_audit.formats import Subject


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    demo = subparsers.add_parser("demo", help="evaluate an emulated account with the real Lambda handler")
    add_result_flags(demo, Subject.USER_RESULTS)
    demo.add_argument(
        "--walkthrough",
        action="store_true",
        help="play one user through enforcement on an emulated clock: new console password, notice, grace ends, "
        "enforced, enables MFA, COMPLIANT (text; exit 1 names a step that did not see what it expected)",
    )
    demo.set_defaults(run=run)
    return demo


def run(args: argparse.Namespace) -> int:
    need_emulation("mfa-audit demo")
    if args.walkthrough:
        return run_walkthrough(args)
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
    return emit(args, rows, "emulated-account", parameters)


def run_walkthrough(args: argparse.Namespace) -> int:
    """The walk-through's lines to stdout (or --output), its header as notes; 0 when every step passed."""
    # The walk-through is a story, not user results: refuse the flags that would be ignored.
    ignored = [
        flag for flag, given in (("--format", args.format != "table"), ("--only-failed", args.only_failed)) if given
    ]
    if ignored:
        verb = "does" if len(ignored) == 1 else "do"
        raise RuleError(f"demo --walkthrough prints text only; {' and '.join(ignored)} {verb} not apply to it")
    from mfa_audit.emulation import walkthrough

    walk = walkthrough.run_walkthrough()
    for line in walk.header:
        note(args, line)
    write(args, "\n".join(walk.lines))
    if walk.failure is not None:
        print(f"mfa-audit: walk-through self-check failed at {walk.failure}", file=sys.stderr)
        return EXIT_NON_COMPLIANT
    return EXIT_OK
