"""``mfa-audit report``: the rule's results across an organization, from a Config aggregator (or ``--demo``).

Example::

    mfa-audit report --aggregator organization --format html --output report.html
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from console_mfa import RULE_NAME
from console_mfa.policy import parse_rule_parameters

from mfa_audit import formats
from mfa_audit.cli._common import (
    add_credential_flags,
    add_exemption_flags,
    add_result_flags,
    exemption_parameters,
    need_emulation,
    note,
    result_code,
    tool_version,
    write,
)
from mfa_audit.formats import Subject


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    report = subparsers.add_parser("report", help="the rule's results across an organization, from a Config aggregator")
    source = report.add_mutually_exclusive_group(required=True)
    source.add_argument("--aggregator", help="name of the Config aggregator")
    source.add_argument("--demo", action="store_true", help="an emulated organization of 14 accounts, no AWS needed")
    report.add_argument(
        "--rule-name",
        default=RULE_NAME,
        help="the rule's name (organization and conformance-pack copies are found too)",
    )
    add_exemption_flags(report)
    add_credential_flags(report)
    add_result_flags(report, Subject.ORGANIZATION_REPORT)
    report.set_defaults(run=run)
    return report


def run(args: argparse.Namespace) -> int:
    policy = parse_rule_parameters(exemption_parameters(args))
    if args.demo:
        need_emulation("mfa-audit report --demo")
        from mfa_audit.emulation.organization import demo_report

        report = demo_report()
        note(args, "EMULATED ORGANIZATION (moto and an emulated Config aggregator): no AWS account is contacted.")
    else:
        from mfa_audit.live import clients_for_cli
        from mfa_audit.org_report import gather_report

        clients = clients_for_cli(args.profile, args.region, args.role_arn)
        report = gather_report(clients.config, args.aggregator, args.rule_name, clients.client("organizations"), policy)
    report = replace(report, tool_version=tool_version())
    region = args.region or "us-east-1"
    write(args, formats.render(args.format, report, region=region, only_failed=args.only_failed))
    return result_code(args, bool(report.non_compliant))
