"""The deploy tool's command line (``python -m tools.deploy``; the package's docstring says what it does).

Example::

    main(["--bucket", "my-artifacts", "--region", "us-east-1", "--yes"])   # 0, 2 (refused, failed) or 3 (running)
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from mfa_audit.templates import (
    CODE_KEY,
    CODE_OBJECT_VERSION,
    ENFORCEMENT,
    ENFORCEMENT_MODES,
    EVENTS_SWITCH,
    MEMBER_ROLE_TEMPLATE,
    TEMPLATE_DIRECTORY,
)
from tools.deploy.artifacts import Artifacts, UploadedObject, content_key
from tools.deploy.aws import DeployError, StillRunning, error_line
from tools.deploy.changesets import DEFAULT_WAIT_MINUTES, Plan, Waiting, current_stack, stack_parameters
from tools.deploy.conformance_pack import CONFORMANCE_PACK_NAME, conformance_pack_exists
from tools.deploy.events import EventStacks, events_wanted
from tools.deploy.parameters import PARAMS_ENVIRONMENT, enforcement_flags, given_parameters, require_operators_topic
from tools.deploy.routes import deploy_account_route, deploy_organization_route
from tools.deploy.run import Run

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ZIP = ROOT / "dist" / "IAM_USER_CONSOLE_MFA.zip"


# Exit status when CloudFormation is still working as the tool stops following it.
EXIT_STILL_RUNNING = 3


def confirmation(assume_yes: bool) -> Callable[[Plan], bool]:
    def confirm(_: Plan) -> bool:
        if assume_yes or os.environ.get("CI", "").lower() == "true":
            return True
        if not sys.stdin.isatty():
            raise DeployError("no terminal to confirm on: nothing was changed; run again with --yes to apply")
        return input("Apply this change set? [y/N] ").strip().lower() in ("y", "yes")

    return confirm


def doctor_command(stacks: EventStacks, organization: bool, events_on: bool) -> str:
    """The doctor's command line for what this run deployed (the event stack by the name the tool gave it)."""
    if organization:
        return f".venv/bin/mfa-audit doctor --organization --stack {stacks.rule_stack} --region {stacks.region}"
    events = f" --events-stack {stacks.events}" if events_on else ""
    return f".venv/bin/mfa-audit doctor --stack {stacks.rule_stack}{events} --region {stacks.region}"


def argument_parser() -> argparse.ArgumentParser:
    """The command line: ``argument_parser().parse_args(["--region", "us-east-1", "--no-events"])``."""
    parser = argparse.ArgumentParser(
        # The name it had as one file (python -m tools.deploy), so its usage and errors read as before.
        prog="deploy.py",
        description="Deploy the IAM_USER_CONSOLE_MFA rule (change set, settings kept).",
        epilog=f"Parameters are also read from {PARAMS_ENVIRONMENT} (make deploy PARAMS=...): Key=value words; "
        "a word that does not start with Name= continues the previous value. Exit status: 0 deployed, "
        f"2 refused or failed, {EXIT_STILL_RUNNING} still running when the tool stopped waiting.",
    )
    parser.add_argument("--bucket", help="S3 bucket for the Lambda zip (in --region); not needed with --member-role")
    parser.add_argument(
        "--bucket-owner",
        metavar="ACCOUNT_ID",
        help="the account that must own --bucket (default: the caller's account); S3 refuses any other",
    )
    parser.add_argument("--region", required=True, help="the Region where Config records IAM")
    parser.add_argument("--stack", help="stack name (default: iam-user-console-mfa, or ...-member-role)")
    parser.add_argument("--zip", type=Path, default=DEFAULT_ZIP)
    parser.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--yes", action="store_true", help="apply the change set without asking (also when CI=true)")
    parser.add_argument(
        "--wait-minutes",
        type=float,
        default=DEFAULT_WAIT_MINUTES,
        help="how long to follow CloudFormation before saying how to follow it yourself "
        f"(default {DEFAULT_WAIT_MINUTES})",
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--organization", action="store_true", help="deploy organization.yaml (management or delegated-admin account)"
    )
    target.add_argument(
        "--member-role", action="store_true", help="deploy member-role.yaml into this account (the management account)"
    )
    parser.add_argument(
        "--management-account-has-role",
        action="store_true",
        help="with --organization from a delegated administrator: the management account has the member role",
    )
    parser.add_argument(
        "--enforcement",
        choices=ENFORCEMENT_MODES,
        help="put NON_COMPLIANT users into the ForceMfa group: off, manual (Config's Remediate) or automatic; "
        "with --organization, manual or automatic take the organization conformance-pack route",
    )
    parser.add_argument("--max-enforcements-per-day", type=int, metavar="N", help="the stack's MaxEnforcementsPerDay")
    parser.add_argument(
        "--notice-sender",
        metavar="ADDRESS",
        help="the account stack's NoticeSender: the SES-verified address users' MFA notices are sent from",
    )
    parser.add_argument(
        "--events",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="re-evaluation on IAM change: iam-events.yaml in --region, iam-events-forwarder.yaml in us-east-1 when "
        "--region is another (with --organization: also a StackSet of forwarders to every account); --no-events: "
        "none of them, and ReevaluateOnIamChange=false (default: as deployed before; on for a new stack)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Deploy as the command line asks; returns the exit status (0 deployed, 2 refused or failed, 3 still running)."""
    parser = argument_parser()
    args = parser.parse_args(argv)
    if args.bucket_owner is not None and not re.fullmatch(r"\d{12}", args.bucket_owner):
        parser.error(f"--bucket-owner takes a 12-digit account ID, got {args.bucket_owner!r}")
    stack = args.stack or ("iam-user-console-mfa-member-role" if args.member_role else "iam-user-console-mfa")
    try:
        given = given_parameters(args.parameter, os.environ.get(PARAMS_ENVIRONMENT, ""))
        given.update(enforcement_flags(args, given))
        if args.member_role and ENFORCEMENT in given:
            raise DeployError("--member-role takes no Enforcement: the organization stack passes it to the StackSet")
        if args.member_role and args.events is not None:
            raise DeployError("--member-role takes no --events / --no-events: give it ReevaluationFunctionRoleArn")
        session = boto3.Session(region_name=args.region)
        run = Run(session, confirmation(args.yes), Waiting(timeout_seconds=args.wait_minutes * 60))
        cloudformation = run.client("cloudformation", args.region)
        if args.member_role:
            done = run.deploy(args.region, stack, (TEMPLATE_DIRECTORY / MEMBER_ROLE_TEMPLATE).read_text(), given)
            print(f"stack {stack} in {args.region}: {done.status}")
            return 0
        if not args.bucket:
            raise DeployError("--bucket is required (the S3 bucket for the Lambda zip)")
        if not args.zip.exists():
            raise DeployError(f"{args.zip} not found; run 'make package' first")
        caller = run.client("sts", args.region).get_caller_identity()["Account"]
        artifacts = Artifacts(run.client("s3", args.region), args.bucket, args.bucket_owner or caller, args.region)
        deployed = stack_parameters(current_stack(cloudformation, stack))
        require_operators_topic(given, deployed)
        enforcement = given.get(ENFORCEMENT, deployed.get(ENFORCEMENT, "off")).strip()
        config = run.client("config", args.region)
        turning_off = args.organization and enforcement == "off" and deployed.get(ENFORCEMENT, "off") != "off"
        if turning_off and conformance_pack_exists(config):
            raise DeployError(
                f"Enforcement=off brings back the organization rule, but the organization conformance pack "
                f"{CONFORMANCE_PACK_NAME} still carries the rule and its remediation: delete it first (aws "
                "configservice delete-organization-conformance-pack --organization-conformance-pack-name "
                f"{CONFORMANCE_PACK_NAME}), wait until it is gone, and run again; nothing was changed"
            )
        stacks = EventStacks(stack, args.region)
        deployed_events = stack_parameters(current_stack(cloudformation, stacks.events))
        events_on = events_wanted(args.events, given, deployed, deployed_events)
        given.pop(EVENTS_SWITCH, None)
        if args.organization and enforcement != "off" and events_on:
            if args.events:
                raise DeployError(
                    "--events: on the conformance-pack route (Enforcement other than off) the event path cannot start "
                    "the pack's rule (its function finds the organization rule's copies, OrgConfigRule-<name>-*); "
                    "deploy with --no-events; nothing was changed"
                )
            print("event path: off on the conformance-pack route (its function finds only the organization rule)")
            events_on = False
        if deployed.get(CODE_KEY) == content_key(args.zip) and deployed.get(CODE_OBJECT_VERSION):
            # The same zip, pinned before: uploading again would only make a new version and a needless update.
            digest = hashlib.sha256(args.zip.read_bytes()).digest()
            code = UploadedObject(args.bucket, deployed[CODE_KEY], deployed[CODE_OBJECT_VERSION], digest)
        else:
            code = artifacts.upload(args.zip)
        if args.organization:
            done = deploy_organization_route(
                run,
                stacks,
                code,
                given,
                deployed,
                artifacts,
                enforcement=enforcement,
                events_on=events_on,
                management_account_has_role=args.management_account_has_role,
            )
        else:
            done = deploy_account_route(run, stacks, code, given, events_on)
    except StillRunning as error:
        print(f"deploy: {error}", file=sys.stderr)
        return EXIT_STILL_RUNNING
    except DeployError as error:
        print(f"deploy: {error}", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError, ResponseParserError, OSError) as error:
        print(f"deploy: {error_line(error)}", file=sys.stderr)
        return 2
    version = f" version {code.version_id}" if code.version_id else ""
    print(f"stack {stack} in {args.region}: {done.status} (code s3://{args.bucket}/{code.key}{version})")
    print(f"check it with: {doctor_command(stacks, args.organization, events_on)}")
    return 0
