"""Artifacts in S3: uploads under content-addressed keys into a bucket of an expected owner, version-pinned, and
the deployed functions checked against the local zip afterwards.

Example::

    code = Artifacts(s3, "my-artifacts", "123456789012", "us-east-1").upload(Path("dist/IAM_USER_CONSOLE_MFA.zip"))
    code_parameters(code)   # {"CodeBucket": "my-artifacts", "CodeKey": "iam-user-console-mfa/...-<sha256>.zip", ...}
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mfa_audit.templates import CODE_BUCKET, CODE_KEY, CODE_OBJECT_VERSION, ENFORCEMENT_FUNCTION_ARN, FUNCTION_ARN
from tools.deploy.aws import DeployError
from tools.deploy.changesets import stack_output


@dataclass(frozen=True)
class UploadedObject:
    """An object this run put in S3: where, which version (None: the bucket is not versioned), what bytes."""

    bucket: str
    key: str
    version_id: str | None
    sha256: bytes

    def url(self, region: str) -> str:
        return f"https://{self.bucket}.s3.{region}.amazonaws.com/{self.key}"

    @property
    def lambda_code_sha256(self) -> str:
        """The content's SHA-256 as Lambda reports it (CodeSha256: base64, not hex)."""
        return base64.b64encode(self.sha256).decode()


def content_key(path: Path) -> str:
    """The S3 key for a file: its name and its content's full SHA-256."""
    return f"iam-user-console-mfa/{path.stem}-{hashlib.sha256(path.read_bytes()).hexdigest()}{path.suffix}"


def upload(s3: Any, bucket: str, path: Path, expected_owner: str) -> UploadedObject:
    """Upload under a key that holds the content's full SHA-256, into a bucket that must belong to ``expected_owner``.

    The key changes with every new build (so CloudFormation sees a change) and names the bytes it
    should hold; S3 refuses the upload when the bucket belongs to another account.
    """
    content = path.read_bytes()
    digest = hashlib.sha256(content)
    key = content_key(path)
    written = s3.put_object(Bucket=bucket, Key=key, Body=content, ExpectedBucketOwner=expected_owner)
    return UploadedObject(bucket, key, written.get("VersionId"), digest.digest())


@dataclass(frozen=True)
class Artifacts:
    """Where this run uploads: a bucket that must belong to ``owner``, in ``region``."""

    s3: Any
    bucket: str
    owner: str
    region: str

    def upload(self, path: Path) -> UploadedObject:
        return upload(self.s3, self.bucket, path, self.owner)

    def template_url(self, path: Path) -> str:
        return self.upload(path).url(self.region)


def code_parameters(code: UploadedObject) -> dict[str, str]:
    # Always given, so an earlier run's version never sticks to a new key.
    return {CODE_BUCKET: code.bucket, CODE_KEY: code.key, CODE_OBJECT_VERSION: code.version_id or ""}


# Outputs naming a function built from the zip; only FunctionArn is always there.
OPTIONAL_FUNCTION_OUTPUTS = (ENFORCEMENT_FUNCTION_ARN,)


def verify_function_code(cloudformation: Any, lambda_client: Any, stack: str, uploaded: UploadedObject) -> str:
    """Each function the stack built from the zip must report the local zip's CodeSha256; returns FunctionArn."""
    function = stack_output(cloudformation, stack, FUNCTION_ARN)
    outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    others = [o["OutputValue"] for o in outputs if o["OutputKey"] in OPTIONAL_FUNCTION_OUTPUTS and o.get("OutputValue")]
    for checked in [function, *others]:
        running = lambda_client.get_function_configuration(FunctionName=checked)["CodeSha256"]
        if running != uploaded.lambda_code_sha256:
            raise DeployError(
                f"function {checked} runs code with SHA-256 {running}, not the local zip's "
                f"{uploaded.lambda_code_sha256}: s3://{uploaded.bucket}/{uploaded.key} was changed after this upload; "
                "do not trust this deployment, check who can write to the bucket, and deploy again"
            )
    return function
