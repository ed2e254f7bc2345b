"""``mfa-audit demo``: an emulated account, evaluated by the real Lambda handler (needs the emulation extra).

Example::

    mfa-audit demo --format json
"""

from __future__ import annotations

import argparse
import sys

from mfa_audit.cli._common import add_result_flags, emit, need_emulation
from mfa_audit.formats import Subject


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    demo = subparsers.add_parser("demo", help="evaluate an emulated account with the real Lambda handler")
    add_result_flags(demo, Subject.USER_RESULTS)
    demo.set_defaults(run=run)
    return demo


def run(args: argparse.Namespace) -> int:
    need_emulation("mfa-audit demo")
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
