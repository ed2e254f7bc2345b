"""Audit a live account read-only, or a credential report offline, with the rule's own code.

Nothing here decides compliance: facts come from :mod:`console_mfa.iam_facts` or the
credential report, verdicts from :func:`console_mfa.verdict.decide`.

Example::

    rows, limitations = audit_live_account(parse_rule_parameters({}), profile="prod")
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import boto3
from botocore.exceptions import NoCredentialsError, ProfileNotFound
from console_mfa.aws import AwsClients, call
from console_mfa.cloudtrail_changes import LOOKUP_PAGE
from console_mfa.credential_report import ReportRow, parse_credential_report
from console_mfa.exceptions import AwsCallError, MissingPermissionError, RuleError
from console_mfa.exemptions import Exemption
from console_mfa.facts import MfaDevice, MfaType, UserFacts
from console_mfa.policy import Policy
from console_mfa.sweep import Deadline, SweepResult, sweep_account
from console_mfa.verdict import active_exemption, decide, verdict_for_missing_user

from mfa_audit.results import ResultRow

NO_CREDENTIALS = "no AWS credentials found; set AWS_PROFILE, use --profile, or run 'aws configure'"


def _session(profile: str | None, region: str | None) -> boto3.Session:
    try:
        session = boto3.Session(profile_name=profile, region_name=region)
    except ProfileNotFound as error:
        raise RuleError(f"{error}; list profiles with 'aws configure list-profiles'") from error
    if session.get_credentials() is None:
        raise RuleError(NO_CREDENTIALS)
    return session


def clients_for_cli(profile: str | None, region: str | None, role_arn: str | None) -> AwsClients:
    """Clients from the standard credential chain (or ``profile``), optionally through ``role_arn``."""
    session = _session(profile, region)
    region = region or session.region_name or "us-east-1"
    if role_arn is None:
        return AwsClients.from_session(session, region)
    sts = session.client("sts", region_name=region)
    credentials = call(sts, "AssumeRole", RoleArn=role_arn, RoleSessionName="mfa-audit")["Credentials"]
    assumed = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    return AwsClients.from_session(assumed, region)


class _ProgressBar:
    """A tqdm bar on stderr, shown only on a terminal and when the account has more than ``threshold`` users.

    Sent to a file or a pipe, stderr gets no progress frames; ``threshold`` None shows none at all.
    """

    def __init__(self, threshold: int | None) -> None:
        self._threshold = threshold
        self._bar = None

    def __call__(self, checked: int, total: int) -> None:
        if self._threshold is None or total <= self._threshold or not sys.stderr.isatty():
            return
        if self._bar is not None and (self._bar.total != total or checked < self._bar.n):
            self.close()  # the sweep has moved on to its next phase of live calls
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="user", desc="checking users", leave=False)
        self._bar.update(checked - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def sweep_live_account(
    policy: Policy,
    now: datetime,
    profile: str | None = None,
    region: str | None = None,
    role_arn: str | None = None,
    progress_threshold: int | None = 300,
    clients: AwsClients | None = None,
    strategy: str = "auto",
) -> SweepResult:
    """Every user's facts from a live account, read-only; a missing credential chain is a clear error."""
    progress = _ProgressBar(progress_threshold)
    try:
        clients = clients or clients_for_cli(profile, region, role_arn)
        return sweep_account(clients, Deadline.unlimited(), now, policy, strategy, progress)
    except AwsCallError as error:
        if isinstance(error.__cause__, NoCredentialsError):
            raise RuleError(NO_CREDENTIALS) from error
        raise
    finally:
        progress.close()


def audit_live_account(
    policy: Policy,
    *,
    profile: str | None = None,
    region: str | None = None,
    role_arn: str | None = None,
    progress_threshold: int | None = 300,
    clients: AwsClients | None = None,
    strategy: str = "auto",
) -> tuple[list[ResultRow], list[str]]:
    """Evaluate every user of a live account; return the rows and what limited the audit.

    Read-only: never calls PutEvaluations.
    """
    now = datetime.now(timezone.utc)
    clients = clients or clients_for_cli(profile, region, role_arn)
    sweep = sweep_live_account(policy, now, profile, region, role_arn, progress_threshold, clients, strategy)
    exemptions = {u.user_id: active_exemption(u, policy, now) for u in sweep.users}
    set_by: dict[str, str] = {}
    limitations_of_exemptions: list[str] = []
    if any(exemptions.values()):
        partition = sweep.users[0].arn.split(":")[1]
        try:
            set_by = who_set_tag(clients.cloudtrail_for_iam(partition), policy.exemption_tag, now)
        except (AwsCallError, MissingPermissionError) as error:
            limitations_of_exemptions.append(f"who set each exemption is not shown: {error}")
    rows = [
        ResultRow.from_verdict(
            u.user_name,
            u.user_id,
            u.arn,
            decide(u, policy, now),
            _with_setter(exemptions[u.user_id], set_by.get(u.user_name.casefold(), "")),
        )
        for u in sweep.users
    ]
    rows += [ResultRow.from_verdict(m.user_name, m.user_id, "", verdict_for_missing_user(m.why)) for m in sweep.missing]
    limitations = [
        f"{note[:200]}: every user was checked live instead (iam:GetLoginProfile and iam:ListMFADevices per user); "
        "the verdicts are complete, the audit only slower"
        for note in sweep.notes
        if note.startswith("bulk sources unavailable")
    ]
    return rows, limitations + limitations_of_exemptions


def _with_setter(exemption: Exemption | None, set_by: str) -> Exemption | None:
    return None if exemption is None else replace(exemption, set_by=set_by)


def who_set_tag(cloudtrail: object, tag_key: str, now: datetime) -> dict[str, str]:
    """Who last set ``tag_key`` on each user (casefolded name -> caller ARN), per CloudTrail's 90 days of TagUser.

    Events come newest first, so the first one naming a user wins. A user tagged longer ago is not in the map.
    """
    setters: dict[str, str] = {}
    token: dict[str, str] = {}
    while True:
        page = call(
            cloudtrail,  # type: ignore[arg-type]
            "LookupEvents",
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "TagUser"}],
            StartTime=now - timedelta(days=90),
            MaxResults=LOOKUP_PAGE,
            **token,
        )
        for event in page.get("Events", []):
            detail = json.loads(event.get("CloudTrailEvent") or "{}")
            parameters = detail.get("requestParameters") or {}
            tags = [tag for tag in parameters.get("tags") or [] if isinstance(tag, dict)]
            keys = {str(tag.get("key", tag.get("Key"))) for tag in tags}
            user = str(parameters.get("userName") or "").casefold()
            identity = detail.get("userIdentity") or {}
            if user and tag_key in keys and user not in setters:
                setters[user] = str(identity.get("arn") or identity.get("principalId") or "")
        if not page.get("NextToken"):
            return setters
        token = {"NextToken": page["NextToken"]}


CREDENTIAL_REPORT_LIMITATIONS = (
    "Offline: the report says only that some MFA device is active, not its kind. It counts as MFA when every kind "
    "is allowed; with --allowed-mfa-types narrowed it counts as none (NON_COMPLIANT), since it cannot be checked.",
    "Offline: the report has no login-profile creation date; the grace period runs from the user's creation, "
    "which is never later, so no one is granted more grace than the live rule would.",
    "Offline: the report has no UserIds; users are identified by name and ARN, and an exemption by UserId "
    "cannot be applied.",
    "Offline: the report has no tags, so no user is exempt by an exemption tag here; the live rule may find "
    "some of the NON_COMPLIANT users exempt.",
)


def report_age_note(rows: list[ReportRow], now: datetime) -> str:
    """How old the report is at least: its newest timestamp (IAM's own report may also be 4 hours old)."""
    times = [t for row in rows for t in (row.user_creation_time, row.password_last_changed) if t is not None]
    if not times:
        return "Offline: the report holds no timestamp, so its age is unknown; users changed since are not seen."
    newest = max(times)
    if newest > now:
        return (
            f"Offline: the report holds a timestamp in the future ({newest:%Y-%m-%d %H:%M} UTC), so its age is "
            "unknown; users changed since it was generated are not seen."
        )
    age = now - newest
    age_text = f"{age.days} days" if age.days >= 1 else f"{int(age.total_seconds() // 3600)} hours"
    return (
        f"Offline: the report's newest timestamp is {newest:%Y-%m-%d %H:%M} UTC, so it is at least {age_text} old "
        "(and IAM reuses a report for up to 4 hours); users changed since it was generated are not seen."
    )


def audit_credential_report(
    content: bytes, policy: Policy, now: datetime, source: str = "the credential report"
) -> tuple[list[ResultRow], list[str]]:
    """Evaluate a credential report offline; return the rows and what the report cannot tell.

    ``source`` (the file's name) is named in every error about the report.
    """
    users, limitations = credential_report_facts(content, now, source)
    rows = [ResultRow.from_verdict(u.user_name, None, u.arn, decide(u, policy, now)) for u in users]
    return rows, limitations


def credential_report_facts(
    content: bytes, now: datetime, source: str = "the credential report"
) -> tuple[list[UserFacts], list[str]]:
    """Each report row as the facts ``decide()`` takes, and what the report cannot tell."""
    report_rows = parse_credential_report(content, source)
    users = [
        UserFacts(
            user_name=row.user,
            user_id="",
            arn=row.arn,
            # The user's creation time is the earliest the login profile can date from.
            login_profile_created=row.user_creation_time if row.password_enabled else None,
            mfa_devices=(MfaDevice("credential-report:mfa_active", MfaType.UNVERIFIED),) if row.mfa_active else (),
        )
        for row in report_rows
    ]
    return users, [report_age_note(report_rows, now), *CREDENTIAL_REPORT_LIMITATIONS]
