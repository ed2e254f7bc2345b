"""``mfa-audit demo --walkthrough``: one IAM user from a new console password to enforced MFA, then COMPLIANT.

The account stack with ``Enforcement=automatic`` is played day by day on an emulated clock, in an
emulated account (moto) that holds the stack's enforcement pieces as ``cloudformation/rule.yaml``
defines them: the ForceMfa group and its policy, the ledger table, and the operators' topic (whose
email subscription is a queue here, so the messages can be read back). What decides is the
project's own code, in-process:

* every sweep is the rule's ``lambda_handler`` on a ScheduledNotification; the emulated Config
  captures what it sends (PutEvaluations) and answers DescribeConfigRules with the rule's parameters;
* the daily run is ``enforcement_handler.handler`` on the schedule's event ``{"action": "notify"}``: it
  e-mails the user (SES, from the stack's NoticeSender, to the address in the user's ``email`` tag) when
  enforcement starts for them and 14, 7, 3 and 1 days before, and takes a user who complies out of the group;
* Config's automatic remediation is the stack's SSM document, run as SSM runs it
  (:mod:`mfa_audit.emulation.automation`): a new automation execution, the document's own script, and
  its Lambda Invoke answered by the same handler in-process, which confirms that execution; moto runs
  neither Config remediations nor SSM Automation, so only that trigger is emulated;
* what the ForceMfa policy allows is read from the policies IAM holds for the user's groups, and
  decided by :mod:`mfa_audit.emulation.iam_policy`.

After new-hire's path, :mod:`mfa_audit.emulation.walkthrough_rollout` plays the users who exist when
enforcement starts: one held back a day by the daily limit, one whose access keys are in use, and the
kill switch.

Each step checks what it saw against what the path must produce. The first that does not stops the
walk-through and is named: it is a self-check of the whole path as much as a demo.

Example::

    walk = run_walkthrough()
    walk.passed                     # True: every step saw what it expected
    print("\\n".join(walk.lines))   # one short line per step, with the emulated date
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, NoReturn

from console_mfa.exceptions import RuleError
from console_mfa.verdict import human_text

from mfa_audit.emulation.account import (
    DEFAULT_ACCOUNT_ID,
    SeedUser,
    create_user,
    emulated_credentials,
    set_password_age,
)
from mfa_audit.emulation.account import environment as account_environment
from mfa_audit.emulation.automation import EmulatedAutomation, EmulatedLambda, run_enforcement_document
from mfa_audit.emulation.events import RULE_NAME, LambdaContext, scheduled_event
from mfa_audit.emulation.iam_policy import ALLOW, EXPLICIT_DENY, decision
from mfa_audit.emulation.services import EmulatedCloudTrail, EmulatedConfig
from mfa_audit.emulation.walkthrough_stack import (
    NOTICE_SENDER,
    StackPieces,
    create_stack_pieces,
    template_parameter_default,
)

USER_NAME = "new-hire"
GRACE_PERIOD_DAYS = 14
# One a day, so that the existing user due with new-hire is held back and enforced the next day.
MAX_ENFORCEMENTS_PER_DAY = 1
RULE_PARAMETERS = {"Enforcement": "automatic", "GracePeriodDays": str(GRACE_PERIOD_DAYS)}
USER_ADDRESS = f"{USER_NAME}@example.com"
# The days the user is e-mailed: enforcement starts for them on day 0, 14 days before the grace ends;
# the reminders 7, 3 and 1 days before follow. The "notice" step is the 7-day reminder.
NOTICE_DAY = 7
EMAIL_DAYS = (0, GRACE_PERIOD_DAYS - 7, GRACE_PERIOD_DAYS - 3, GRACE_PERIOD_DAYS - 1)
GRACE_END_DAY = GRACE_PERIOD_DAYS
MFA_DAY = GRACE_END_DAY + 1
# Day 0 starts at this time of day (UTC), when the user gets its password; each day's sweep and notice
# run RUNS_AFTER later.
DAY_STARTS_AT = 9
RUNS_AFTER = timedelta(hours=1)
NOTICE_SUBJECT = "Set up MFA for AWS account"
DIGEST_SUBJECT = "MFA enforcement digest"
ENFORCED_SUBJECT = "MFA enforced"
# Requests the ForceMfa policy is asked about: (action, resource; {user} and {account} filled in), what it must say.
WITHOUT_MFA = (
    ("s3:ListAllMyBuckets", "*", EXPLICIT_DENY),
    ("iam:CreateAccessKey", "arn:aws:iam::{account}:user/{user}", EXPLICIT_DENY),
    ("iam:CreateVirtualMFADevice", "arn:aws:iam::{account}:mfa/{user}-phone", ALLOW),
    ("iam:EnableMFADevice", "arn:aws:iam::{account}:user/{user}", ALLOW),
)
# Every request docs/enforcement-user-guide.md's clicks make for the MFA part of the page, which the ForceMfa
# policy must allow without MFA to a user with no other permission: (action, resource as above).
USER_GUIDE_PATH = (
    # 1. Account menu > Security credentials, or IAM > Users > the user > Security credentials.
    ("iam:ListUsers", "*"),
    ("iam:GetUser", "arn:aws:iam::{account}:user/{user}"),
    ("iam:GetAccountPasswordPolicy", "*"),
    ("iam:ListMFADevices", "arn:aws:iam::{account}:user/{user}"),
    ("iam:ListVirtualMFADevices", "*"),
    # 2a. A security key or passkey: registered on the user (its u2f/... serial is no IAM resource).
    ("iam:EnableMFADevice", "arn:aws:iam::{account}:user/{user}"),
    ("iam:GetMFADevice", "arn:aws:iam::{account}:user/{user}"),
    # 2b. An authenticator app named after the user, a retry under another such name, and a leftover cleared.
    ("iam:CreateVirtualMFADevice", "arn:aws:iam::{account}:mfa/{user}"),
    ("iam:CreateVirtualMFADevice", "arn:aws:iam::{account}:mfa/{user}-phone"),
    ("iam:DeleteVirtualMFADevice", "arn:aws:iam::{account}:mfa/{user}"),
    ("iam:ResyncMFADevice", "arn:aws:iam::{account}:user/{user}"),
    # A password that must be reset at sign-in is changed before any session, so before MFA.
    ("iam:ChangePassword", "arn:aws:iam::{account}:user/{user}"),
)


class StepFailed(Exception):
    """A step did not see what the path must produce; ``step`` names it."""

    def __init__(self, step: str, day: int, expected: str, saw: str) -> None:
        super().__init__(f"step '{step}' (day {day}): expected {expected}; saw {saw}")
        self.step, self.day, self.expected, self.saw = step, day, expected, saw


@dataclass(frozen=True)
class Step:
    """One step as it happened: the days it covers, its printed lines, and what it observed (``saw``)."""

    name: str
    first_day: int
    last_day: int
    lines: tuple[str, ...]
    saw: Mapping[str, Any]


@dataclass
class Walkthrough:
    """The steps that passed, the failure that stopped the walk-through (if any), and the printed lines."""

    steps: list[Step] = field(default_factory=list)
    failure: StepFailed | None = None
    header: list[str] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.failure is None

    @property
    def lines(self) -> list[str]:
        story = [line for step in self.steps for line in step.lines]
        if self.passed:
            story.append(f"Walk-through complete: {USER_NAME} is COMPLIANT, and every step saw what it expected.")
        return story

    def step(self, name: str) -> Step:
        """The step of that name (the first, if it ran on several spans of days)."""
        return next(step for step in self.steps if step.name == name)


# --- the emulated world: clock, environment, logs ---


class EmulatedClock:
    """The time every handler, the emulated Config and CloudTrail read; moved to each day's runs."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.now = start

    @classmethod
    def from_last_morning(cls, now: datetime) -> EmulatedClock:
        """Day 0 at the latest DAY_STARTS_AT o'clock (UTC) not after ``now``: never in moto's future."""
        start = now.replace(hour=DAY_STARTS_AT, minute=0, second=0, microsecond=0)
        return cls(start if start <= now else start - timedelta(days=1))

    def __call__(self) -> datetime:
        return self.now

    def run_on(self, day: int) -> datetime:
        self.now = self.start + timedelta(days=day) + RUNS_AFTER
        return self.now


class _LogLines(logging.Handler):
    def __init__(self, into: list[dict[str, Any]]) -> None:
        super().__init__(logging.INFO)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.into.append(json.loads(record.getMessage()))
        except ValueError:
            self.into.append({"message": record.getMessage()})


@contextmanager
def _kept_logs(into: list[dict[str, Any]]) -> Iterator[None]:
    """The handlers' JSON log lines, kept (for the tests) rather than written among the walk-through's lines."""
    logger = logging.getLogger("console_mfa")
    handler, propagate = _LogLines(into), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _day_label(first: int, last: int, clock: EmulatedClock) -> str:
    """``day 7     2026-05-19 10:00`` (the clock's time), or ``days 8-13 2026-05-20..05-25`` for a span of days."""
    if first == last:
        return f"day {first:<5} {clock.now:%Y-%m-%d %H:%M}   "
    first_run = clock.start + timedelta(days=first) + RUNS_AFTER
    last_run = clock.start + timedelta(days=last) + RUNS_AFTER
    return f"days {f'{first}-{last}':<4} {first_run:%Y-%m-%d}..{last_run:%m-%d}  "


def _quoted(text: str, limit: int = 400) -> str:
    return '"' + (text if len(text) <= limit else text[: limit - 3] + "...") + '"'


# --- the steps ---


class _Path:
    """One user through the path; each step method returns its :class:`Step` or raises :class:`StepFailed`."""

    def __init__(
        self, clock: EmulatedClock, config: EmulatedConfig, stack: StackPieces, automation: EmulatedAutomation
    ) -> None:
        import boto3

        self.clock, self.config, self.stack, self.automation = clock, config, stack, automation
        self.iam, self.sqs = boto3.client("iam"), boto3.client("sqs")
        self.user: dict[str, Any] = {}
        self.grace_ends: datetime | None = None
        self.notices: list[dict[str, str]] = []
        self.emails_seen = 0
        self.digests: dict[int, str] = {}
        self.others: dict[str, dict[str, Any]] = {}
        self.day = 0

    # What the steps read back from the emulated account.

    def _sweep(self) -> dict[str, Any]:
        """The rule's handler on a ScheduledNotification at the clock's time; returns what Config holds for the user."""
        from IAM_USER_CONSOLE_MFA import lambda_handler

        event = scheduled_event(dict(self.config.rule_parameters))
        invoking = json.loads(event["invokingEvent"])
        invoking["notificationCreationTime"] = self.clock().strftime("%Y-%m-%dT%H:%M:%S.000Z")
        event["invokingEvent"] = json.dumps(invoking)
        lambda_handler(event, LambdaContext(), clock=self.clock)
        return self.config.results.get(self.user["UserId"], {})

    def _function(self, event: dict[str, Any]) -> dict[str, Any]:
        from enforcement_handler import handler

        return handler(event, LambdaContext(), clock=self.clock)

    def _remediation(self) -> dict[str, Any]:
        """Config's remediation for the user: the stack's document, run as SSM runs it; the function's result."""
        return run_enforcement_document(
            self.stack.document,
            self.stack.document_name,
            {"UserId": self.user["UserId"]},
            DEFAULT_ACCOUNT_ID,
            self.automation,
        )

    def _operators_messages(self) -> list[dict[str, str]]:
        """What reached the operators' topic since the last look (SNS's envelope: Subject, Message)."""
        messages = []
        while True:
            received = self.sqs.receive_message(QueueUrl=self.stack.inbox_url, MaxNumberOfMessages=10)
            batch = received.get("Messages", [])
            if not batch:
                return messages
            for message in batch:
                envelope = json.loads(message["Body"])
                messages.append({"Subject": envelope.get("Subject", ""), "Message": envelope["Message"]})
                self.sqs.delete_message(QueueUrl=self.stack.inbox_url, ReceiptHandle=message["ReceiptHandle"])

    def _emails_to_the_user(self) -> list[dict[str, str]]:
        """What SES sent the user since the last look (moto keeps every message SES accepted)."""
        from moto.ses.models import ses_backends

        sent = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages[self.emails_seen :]
        self.emails_seen += len(sent)
        return [
            {"Subject": message.subject, "Body": message.body}
            for message in sent
            if list(message.destinations["ToAddresses"]) == [USER_ADDRESS]
        ]

    def _daily_notice(self, step: str) -> list[dict[str, str]]:
        """The daily run; returns the e-mails it sent the user. The operators get only its digest."""
        self._function({"action": "notify"})
        emails = self._emails_to_the_user()
        self.notices += emails
        messages = self._operators_messages()
        for message in messages:
            if message["Subject"].startswith(DIGEST_SUBJECT):
                self.digests[self.day] = message["Message"]
        unexpected = [m["Subject"] for m in messages if not m["Subject"].startswith(DIGEST_SUBJECT)]
        if unexpected:
            self._fail(step, "only the daily digest on the operators' topic", f"{unexpected}")
        return emails

    def _in_force_mfa_group(self) -> bool:
        groups = self.iam.list_groups_for_user(UserName=USER_NAME)["Groups"]
        return any(group["GroupName"] == self.stack.group_name for group in groups)

    def _group_statements(self) -> list[dict[str, Any]]:
        """Every statement of the managed policies on the user's groups, as IAM holds them."""
        statements: list[dict[str, Any]] = []
        for group in self.iam.list_groups_for_user(UserName=USER_NAME)["Groups"]:
            attached = self.iam.list_attached_group_policies(GroupName=group["GroupName"])["AttachedPolicies"]
            for policy in attached:
                version_id = self.iam.get_policy(PolicyArn=policy["PolicyArn"])["Policy"]["DefaultVersionId"]
                document = self.iam.get_policy_version(PolicyArn=policy["PolicyArn"], VersionId=version_id)[
                    "PolicyVersion"
                ]["Document"]
                statements += (json.loads(document) if isinstance(document, str) else document)["Statement"]
        return statements

    def _fail(self, step: str, expected: str, saw: str) -> NoReturn:
        raise StepFailed(step, self.day, expected, saw)

    def _expect_held(self, step: str, held: Mapping[str, Any], compliance: str, wording: str) -> None:
        saw = f"{held.get('ComplianceType', 'no result')} {_quoted(held.get('Annotation', ''))}"
        if held.get("ComplianceType") != compliance or wording not in held.get("Annotation", ""):
            self._fail(step, f"Config to hold {compliance} with an annotation saying {_quoted(wording)}", saw)

    def _in_grace_wording(self) -> str:
        # What every wording of the grace-period annotation says: the day the grace ends.
        return f"grace period, which ends {self.grace_ends:%Y-%m-%d %H:%M} UTC"

    def _line(self, text: str, first: int | None = None, last: int | None = None) -> str:
        first = self.day if first is None else first
        return _day_label(first, self.day if last is None else last, self.clock) + text

    # The steps, in order.

    def new_console_user(self) -> Step:
        self.day = 0
        self.user = create_user(self.iam, SeedUser(USER_NAME, console_password=True, password_age_days=0))
        self.iam.tag_user(UserName=USER_NAME, Tags=[{"Key": "email", "Value": USER_ADDRESS}])
        from mfa_audit.emulation.walkthrough_rollout import create_existing_users, existing_users_told

        create_existing_users(self)
        # The password dates from day 0's start (moto stamps its own time; IAM cannot backdate).
        set_password_age(DEFAULT_ACCOUNT_ID, USER_NAME, datetime.now(timezone.utc) - self.clock.start)
        created = self.iam.get_login_profile(UserName=USER_NAME)["LoginProfile"]["CreateDate"]
        self.grace_ends = created.astimezone(timezone.utc) + timedelta(days=GRACE_PERIOD_DAYS)
        self.clock.run_on(0)
        held = self._sweep()
        ends = f"{self.grace_ends:%Y-%m-%d %H:%M} UTC"
        self._expect_held("new console user", held, "COMPLIANT", f"ends {ends}. MFA is enforced from then")
        emails = self._daily_notice("new console user")
        # Enforcement's grace counts from the later of the password and the start of enforcement (this run).
        if len(emails) != 1 or f"by {self.grace_ends:%Y-%m-%d}" not in emails[0]["Subject"]:
            self._fail("new console user", f"one e-mail to {USER_ADDRESS} naming the day", f"{len(emails)} e-mail(s)")
        lines = (
            self._line(
                f"{USER_NAME} got a console password at {self.clock.start:%H:%M}, no MFA device. "
                f"Sweep -> {held['ComplianceType']}: "
                f"{_quoted(human_text(held['Annotation']))}"
            ),
            f"{'':29}daily run: enforcement starts for {USER_NAME}; e-mail to {USER_ADDRESS}: "
            f"Subject {_quoted(emails[0]['Subject'])}",
            *(f"{'':29}| {text}" for text in emails[0]["Body"].splitlines() if text),
        )
        told, existing = existing_users_told(self)
        saw = {"held": held, "grace_ends": self.grace_ends, "emails": emails, "existing_user_emails": existing}
        return Step("new console user", 0, 0, (*lines, *told), saw)

    def quiet_days(self, name: str, first: int, last: int) -> Step:
        """Days in grace: the sweep holds COMPLIANT; the daily run e-mails the user on reminder days only."""
        held_by_day, emailed = {}, {}
        for day in range(first, last + 1):
            self.day = day
            self.clock.run_on(day)
            held = self._sweep()
            self._expect_held(name, held, "COMPLIANT", self._in_grace_wording())
            emails = self._daily_notice(name)
            if len(emails) != (1 if day in EMAIL_DAYS else 0):
                self._fail(name, f"an e-mail on days {EMAIL_DAYS} only", f"{len(emails)} on day {day}")
            if emails:
                emailed[day] = emails[0]["Subject"]
            held_by_day[day] = held["ComplianceType"]
        reminders = "; ".join(f"day {day}: {_quoted(subject)}" for day, subject in emailed.items()) or "none due"
        line = self._line(f"daily sweeps -> COMPLIANT (in grace); reminders e-mailed: {reminders}", first, last)
        return Step(name, first, last, (line,), {"held_by_day": held_by_day, "emailed": emailed})

    def notice(self) -> Step:
        self.day = NOTICE_DAY
        self.clock.run_on(NOTICE_DAY)
        held = self._sweep()
        self._expect_held("notice", held, "COMPLIANT", self._in_grace_wording())
        messages = self._daily_notice("notice")
        reminder = f"by {self.grace_ends:%Y-%m-%d} (reminder: 7 days left)"
        if len(messages) != 1 or reminder not in messages[0]["Subject"]:
            self._fail("notice", f"one e-mail to {USER_ADDRESS}: '{reminder}'", f"{len(messages)} e-mail(s)")
        (message,) = messages
        lines = (self._line(f"daily notice -> e-mail to {USER_ADDRESS}: Subject {_quoted(message['Subject'])}"),)
        return Step("notice", NOTICE_DAY, NOTICE_DAY, lines, {"held": held, "messages": messages})

    def grace_ends_step(self) -> Step:
        self.day = GRACE_END_DAY
        self.clock.run_on(GRACE_END_DAY)
        held = self._sweep()
        self._expect_held("grace ends", held, "NON_COMPLIANT", "Console password but no allowed MFA device")
        line = self._line(f"grace ended. Sweep -> NON_COMPLIANT: {_quoted(human_text(held['Annotation']))}")
        return Step("grace ends", GRACE_END_DAY, GRACE_END_DAY, (line,), {"held": held})

    def enforced(self) -> Step:
        """Config's automatic remediation for the NON_COMPLIANT result: the SSM document's one step, in-process."""
        result = self._remediation()
        in_group = self._in_force_mfa_group()
        told = self._operators_messages()
        saw = f"outcome {result['outcome']} ({result['why']}); in {self.stack.group_name}: {in_group}"
        if result["outcome"] != "enforced" or not in_group:
            self._fail("enforced", f"{USER_NAME} put into {self.stack.group_name}", saw)
        subjects = [m["Subject"] for m in told]
        if subjects != [f"{ENFORCED_SUBJECT}: {USER_NAME} in {DEFAULT_ACCOUNT_ID}"]:
            self._fail("enforced", "one message to the operators: who was enforced", f"{subjects}")
        notice_after = self._daily_notice("enforced")
        if notice_after:
            self._fail("enforced", f"no notice: {USER_NAME} is enforced", f"{len(notice_after)} message(s)")
        lines = (
            self._line(
                f"Config's remediation runs the SSM document: its script invokes the enforcement function <- "
                f'{{"action": "enforce", "UserId": "{self.user["UserId"]}", "ExecutionId": ...}}, which confirms '
                f"the automation -> {result['outcome']}: {USER_NAME} is in {self.stack.group_name}"
            ),
            f"{'':29}the operators' topic: Subject {_quoted(told[0]['Subject'])}",
        )
        return Step(
            "enforced",
            GRACE_END_DAY,
            GRACE_END_DAY,
            lines,
            {"result": result, "in_group": in_group, "messages": told},
        )

    def policy_while_enforced(self) -> Step:
        statements = self._group_statements()
        context = {"aws:username": USER_NAME, "aws:MultiFactorAuthPresent": "false"}
        decisions = {}
        for action, resource, must in WITHOUT_MFA:
            said = decision(statements, action, resource.format(account=DEFAULT_ACCOUNT_ID, user=USER_NAME), context)
            decisions[action] = said
            if said != must:
                self._fail("ForceMfa policy", f"{action} without MFA: {must}", said)
        for action, resource in USER_GUIDE_PATH:
            said = decision(statements, action, resource.format(account=DEFAULT_ACCOUNT_ID, user=USER_NAME), context)
            if said != ALLOW:
                self._fail(
                    "ForceMfa policy", f"{action} on {resource} (the user guide's path) without MFA: allow", said
                )
        line = self._line(
            f"ForceMfa policy, as IAM holds it for {USER_NAME}, signed in without MFA: "
            + ", ".join(f"{action} {said}" for action, said in decisions.items())
        )
        return Step("ForceMfa policy", GRACE_END_DAY, GRACE_END_DAY, (line,), {"decisions": decisions})

    def enables_mfa(self) -> Step:
        self.day = MFA_DAY
        self.clock.now = self.clock.start + timedelta(days=MFA_DAY)
        # The two calls the policy allowed above (moto does not apply IAM policies; the previous step did).
        serial = self.iam.create_virtual_mfa_device(VirtualMFADeviceName=f"{USER_NAME}-phone")["VirtualMFADevice"][
            "SerialNumber"
        ]
        self.iam.enable_mfa_device(
            UserName=USER_NAME, SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
        )
        devices = [d["SerialNumber"] for d in self.iam.list_mfa_devices(UserName=USER_NAME)["MFADevices"]]
        if devices != [serial]:
            self._fail("enables MFA", f"one MFA device, {serial}", f"{devices}")
        line = self._line(f"{USER_NAME} creates and enables a virtual MFA device ({serial}), as the policy allows")
        return Step("enables MFA", MFA_DAY, MFA_DAY, (line,), {"devices": devices})

    def compliant(self) -> Step:
        self.clock.run_on(MFA_DAY)
        held = self._sweep()
        self._expect_held("COMPLIANT", held, "COMPLIANT", "Console password with MFA: virtual")
        # Config's automatic remediation works from its snapshot and may fire late: the function checks again.
        late = self._remediation()
        if late["outcome"] != "not_non_compliant":
            self._fail("COMPLIANT", "a late remediation to leave the user alone (not_non_compliant)", late["outcome"])
        with_mfa = decision(
            self._group_statements(),
            "s3:ListAllMyBuckets",
            "*",
            {"aws:username": USER_NAME, "aws:MultiFactorAuthPresent": "true"},
        )
        if with_mfa == EXPLICIT_DENY:
            self._fail("COMPLIANT", "ForceMfa no longer to deny other work once signed in with MFA", with_mfa)
        if len(self.notices) != len(EMAIL_DAYS):
            self._fail(
                "COMPLIANT", f"{len(EMAIL_DAYS)} e-mails to the user in the whole walk-through", f"{len(self.notices)}"
            )
        lines = (
            self._line(f"Sweep -> COMPLIANT: {_quoted(human_text(held['Annotation']))}"),
            f"{'':29}a late remediation -> {late['outcome']} (left alone); signed in with MFA, ForceMfa no longer "
            f"denies s3:ListAllMyBuckets; e-mails to the user in all: {len(self.notices)}",
        )
        return Step(
            "COMPLIANT",
            MFA_DAY,
            MFA_DAY,
            lines,
            {"held": held, "late_remediation": late, "with_mfa": with_mfa, "notices": list(self.notices)},
        )

    def released(self) -> Step:
        """The daily run takes a user who now complies out of the group, so their access keys work again."""
        result = self._function({"action": "notify"})
        in_group = self._in_force_mfa_group()
        digest = [m for m in self._operators_messages() if m["Subject"].startswith(DIGEST_SUBJECT)]
        if in_group or result.get("released") != 1:
            self._fail("released", f"the daily run to take {USER_NAME} out of {self.stack.group_name}", "still in it")
        if len(digest) != 1 or f"{USER_NAME} (" not in digest[0]["Message"]:
            self._fail("released", f"one digest naming {USER_NAME} as released", f"{len(digest)} digest(s)")
        line = self._line(
            f"daily run -> {USER_NAME} taken out of {self.stack.group_name} (an allowed device now; access keys work "
            f"again); the operators' digest: {_quoted(digest[0]['Subject'])}"
        )
        return Step("released", MFA_DAY, MFA_DAY, (line,), {"in_group": in_group, "digest": digest})


BeforeStep = Callable[[str, EmulatedConfig], None]


def run_walkthrough(before_step: BeforeStep | None = None) -> Walkthrough:
    """Play the path; stop at the first step that does not see what it expects.

    ``before_step(name, config)`` runs before each step (a test's way to change the world, e.g. the rule's
    parameters Config holds, and see the self-check name the step that then fails).
    """
    from moto import mock_aws

    walk = Walkthrough()
    walk.header = [
        "EMULATED AWS ACCOUNT (moto, in-process) on an emulated clock: no real AWS account is used or contacted.",
        f"Account stack: Enforcement=automatic, GracePeriodDays={GRACE_PERIOD_DAYS}, "
        f"MaxEnforcementsPerDay={MAX_ENFORCEMENTS_PER_DAY}, NoticeSender={NOTICE_SENDER}; ForceMfa group, policy, "
        f"ledger and kill switch from cloudformation/rule.yaml.",
        "The real rule handler sweeps daily, the real enforcement function runs daily (notices, releases) and as "
        "Config's remediation.",
    ]
    with (
        emulated_credentials(),
        mock_aws(),
        EmulatedCloudTrail() as cloudtrail,
        EmulatedConfig(RULE_NAME) as config,
        _kept_logs(walk.logs),
        EmulatedAutomation() as automation,
    ):
        stack = create_stack_pieces()
        clock = EmulatedClock.from_last_morning(datetime.now(timezone.utc))
        config.clock = cloudtrail.clock = clock
        config.rule_parameters = dict(RULE_PARAMETERS)
        environment = {
            "CONFIG_RULE_NAME": RULE_NAME,
            "FORCE_MFA_GROUP": stack.group_name,
            "LEDGER_TABLE": stack.ledger_table,
            "OPERATORS_TOPIC_ARN": stack.topic_arn,
            "MAX_ENFORCEMENTS_PER_DAY": str(MAX_ENFORCEMENTS_PER_DAY),
            "ENFORCEMENT_SWITCH_PARAMETER": stack.switch_parameter,
            "NOTICE_SENDER": NOTICE_SENDER,
            "USER_ADDRESS_TAG": "email",
            "USER_GUIDE_URL": template_parameter_default("UserGuideUrl"),
            "NOTICE_CONTACT": template_parameter_default("NoticeContact"),
            "ENFORCEMENT_DOCUMENT": stack.document_name,
        }
        from mfa_audit.emulation.walkthrough_rollout import access_keys_held_back, held_back_then_enforced, kill_switch

        path = _Path(clock, config, stack, automation)
        steps: list[tuple[str, Callable[[], Step]]] = [
            ("new console user", path.new_console_user),
            ("in grace", lambda: path.quiet_days("in grace", 1, NOTICE_DAY - 1)),
            ("notice", path.notice),
            ("after the notice", lambda: path.quiet_days("after the notice", NOTICE_DAY + 1, GRACE_END_DAY - 1)),
            ("grace ends", path.grace_ends_step),
            ("enforced", path.enforced),
            ("ForceMfa policy", path.policy_while_enforced),
            ("enables MFA", path.enables_mfa),
            ("COMPLIANT", path.compliant),
            ("released", path.released),
            ("held back", lambda: held_back_then_enforced(path)),
            ("access keys", lambda: access_keys_held_back(path)),
            ("kill switch", lambda: kill_switch(path)),
        ]
        from enforcement_handler import handler

        function = EmulatedLambda(lambda event: handler(event, LambdaContext(), clock=clock))
        with account_environment(environment), function:
            for name, play in steps:
                if before_step is not None:
                    before_step(name, config)
                try:
                    walk.steps.append(play())
                except StepFailed as failure:
                    walk.failure = failure
                    break
                except RuleError as error:
                    walk.failure = StepFailed(name, path.day, "the handlers to run", f"{type(error).__name__}: {error}")
                    break
    return walk
