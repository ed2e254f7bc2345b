"""Deploy the rule into one account: upload the Lambda zip to S3, create or update the stack.

    python -m tools.deploy --bucket my-artifacts --region us-east-1 [--stack iam-user-console-mfa]
        [--parameter GracePeriodDays=14 --parameter AlarmEmail=secops@example.com ...]

Deploy in the Region where AWS Config records global resources (IAM). Uses the standard
boto3 credential chain (AWS_PROFILE etc.). The zip is uploaded under a key that holds
its SHA-256, so a new build always makes CloudFormation update the function.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, WaiterError

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "cloudformation" / "rule.yaml"
ORGANIZATION_TEMPLATE = ROOT / "cloudformation" / "organization.yaml"
MEMBER_ROLE_TEMPLATE = ROOT / "cloudformation" / "member-role.yaml"
DEFAULT_ZIP = ROOT / "dist" / "IAM_USER_CONSOLE_MFA.zip"


def upload(s3: Any, bucket: str, path: Path) -> str:
    """Upload under a key that holds the content's SHA-256, so a new build always changes the key."""
    content = path.read_bytes()
    key = f"iam-user-console-mfa/{path.stem}-{hashlib.sha256(content).hexdigest()[:16]}{path.suffix}"
    s3.put_object(Bucket=bucket, Key=key, Body=content)
    return key


def deploy(cloudformation: Any, stack: str, template: str, parameters: dict[str, str]) -> str:
    """Create the stack, or update it if it exists; wait; return the final status."""
    arguments = {
        "StackName": stack,
        "TemplateBody": template,
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(parameters.items())],
        "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    }
    try:
        cloudformation.describe_stacks(StackName=stack)
        exists = True
    except ClientError as error:
        if "does not exist" not in str(error):
            raise
        exists = False
    if exists:
        try:
            cloudformation.update_stack(**arguments)
        except ClientError as error:
            if "No updates are to be performed" in str(error):
                return "UNCHANGED"
            raise
        cloudformation.get_waiter("stack_update_complete").wait(StackName=stack)
    else:
        cloudformation.create_stack(**arguments)
        cloudformation.get_waiter("stack_create_complete").wait(StackName=stack)
    return cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]


def _parameters(pairs: list[str]) -> dict[str, str]:
    parameters = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise SystemExit(f"deploy: --parameter takes KEY=VALUE, got {pair!r}")
        parameters[key] = value
    return parameters


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Deploy the IAM_USER_CONSOLE_MFA rule into one account.")
    parser.add_argument("--bucket", required=True, help="S3 bucket for the Lambda zip (in --region)")
    parser.add_argument("--region", required=True, help="the Region where Config records IAM")
    parser.add_argument("--stack", default="iam-user-console-mfa")
    parser.add_argument("--zip", type=Path, default=DEFAULT_ZIP)
    parser.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--organization",
        action="store_true",
        help="deploy organization.yaml (management or delegated-admin account) instead of rule.yaml",
    )
    args = parser.parse_args(argv)
    if not args.zip.exists():
        print(f"deploy: {args.zip} not found; run 'make package' first", file=sys.stderr)
        return 2
    session = boto3.Session(region_name=args.region)
    try:
        s3 = session.client("s3")
        key = upload(s3, args.bucket, args.zip)
        parameters = {"CodeBucket": args.bucket, "CodeKey": key}
        template = TEMPLATE
        if args.organization:
            template = ORGANIZATION_TEMPLATE
            role_key = upload(s3, args.bucket, MEMBER_ROLE_TEMPLATE)
            parameters["MemberRoleTemplateUrl"] = f"https://{args.bucket}.s3.{args.region}.amazonaws.com/{role_key}"
        parameters.update(_parameters(args.parameter))
        status = deploy(session.client("cloudformation"), args.stack, template.read_text(), parameters)
    except (ClientError, BotoCoreError, WaiterError) as error:
        print(f"deploy: {error}", file=sys.stderr)
        return 2
    print(f"stack {args.stack} in {args.region}: {status} (code s3://{args.bucket}/{key})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
