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
  enforcement starts for them and 7, 3 and 1 days before the grace ends, sends the operators a digest, and
  takes a user who complies out of the group;
* Config's automatic remediation is the stack's SSM document, run as SSM runs it
  (:mod:`mfa_audit.emulation.automation`): a new automation execution, the document's own script, and
  its Lambda Invoke answered by the same handler in-process, which confirms that execution; moto runs
  neither Config remediations nor SSM Automation, so only that trigger is emulated;
* what the ForceMfa policy allows is read from the policies IAM holds for the user's groups, and
  decided by :mod:`mfa_audit.emulation.iam_policy`.

The script is :data:`STEPS`, in order: a step is a function of the :class:`WalkedPath` (what the steps act on
and read back, :mod:`mfa_audit.emulation.walkthrough_path`) that returns its :class:`Step`. The stack's pieces
come from :mod:`mfa_audit.emulation.stack_pieces`, the days from :mod:`mfa_audit.emulation.clock`. After
new-hire's path, the steps of :mod:`mfa_audit.emulation.walkthrough_rollout` play the users who exist when
enforcement starts: one held back a day by the daily limit, one whose access keys are in use, and the kill
switch.

Each step checks what it saw against what the path must produce. The first that does not stops the
walk-through and is named: it is a self-check of the whole path as much as a demo.

Example::

    walk = run_walkthrough()
    walk.passed                     # True: every step saw what it expected
    print("\\n".join(walk.lines))   # one short line per step, with the emulated date
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

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
from mfa_audit.emulation.automation import EmulatedAutomation, EmulatedLambda
from mfa_audit.emulation.clock import EmulatedClock
from mfa_audit.emulation.events import RULE_NAME, LambdaContext
from mfa_audit.emulation.iam_policy import ALLOW, EXPLICIT_DENY, decision
from mfa_audit.emulation.services import EmulatedCloudTrail, EmulatedConfig
from mfa_audit.emulation.stack_pieces import NOTICE_SENDER, create_stack_pieces
from mfa_audit.emulation.walkthrough_path import (
    DIGEST_SUBJECT,
    ENFORCED_SUBJECT,
    Step,
    StepFailed,
    WalkedPath,
    kept_logs,
    quoted,
)
from mfa_audit.emulation.walkthrough_rollout import (
    access_keys_held_back,
    create_existing_users,
    existing_users_told,
    held_back_then_enforced,
    kill_switch,
)

USER_NAME = "new-hire"
GRACE_PERIOD_DAYS = 14
# One a day, so that the existing user due with new-hire is held back and enforced the next day.
MAX_ENFORCEMENTS_PER_DAY = 1
RULE_PARAMETERS = {"Enforcement": "automatic", "GracePeriodDays": str(GRACE_PERIOD_DAYS)}
# The days the user is e-mailed: enforcement starts for them on day 0, 14 days before the grace ends;
# the reminders 7, 3 and 1 days before follow. The "notice" step is the 7-day reminder.
NOTICE_DAY = 7
EMAIL_DAYS = (0, GRACE_PERIOD_DAYS - 7, GRACE_PERIOD_DAYS - 3, GRACE_PERIOD_DAYS - 1)
GRACE_END_DAY = GRACE_PERIOD_DAYS
MFA_DAY = GRACE_END_DAY + 1
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


# --- the steps ---


def new_console_user(path: WalkedPath) -> Step:
    path.day = 0
    path.user = create_user(path.iam, SeedUser(USER_NAME, console_password=True, password_age_days=0))
    path.iam.tag_user(UserName=USER_NAME, Tags=[{"Key": "email", "Value": path.address}])
    create_existing_users(path)
    # The password dates from day 0's start (moto stamps its own time; IAM cannot backdate).
    set_password_age(DEFAULT_ACCOUNT_ID, USER_NAME, datetime.now(timezone.utc) - path.clock.start)
    created = path.iam.get_login_profile(UserName=USER_NAME)["LoginProfile"]["CreateDate"]
    path.grace_ends = created.astimezone(timezone.utc) + timedelta(days=GRACE_PERIOD_DAYS)
    path.clock.run_on(0)
    held = path.sweep()
    ends = f"{path.grace_ends:%Y-%m-%d %H:%M} UTC"
    path.expect_held("new console user", held, "COMPLIANT", f"ends {ends}. MFA is enforced from then")
    emails = path.daily_notice("new console user")
    # Enforcement's grace counts from the later of the password and the start of enforcement (this run).
    if len(emails) != 1 or f"by {path.grace_ends:%Y-%m-%d}" not in emails[0]["Subject"]:
        path.fail("new console user", f"one e-mail to {path.address} naming the day", f"{len(emails)} e-mail(s)")
    lines = (
        path.line(
            f"{USER_NAME} got a console password at {path.clock.start:%H:%M}, no MFA device. "
            f"Sweep -> {held['ComplianceType']}: "
            f"{quoted(human_text(held['Annotation']))}"
        ),
        f"{'':29}daily run: enforcement starts for {USER_NAME}; e-mail to {path.address}: "
        f"Subject {quoted(emails[0]['Subject'])}",
        *(f"{'':29}| {text}" for text in emails[0]["Body"].splitlines() if text),
    )
    told, existing = existing_users_told(path)
    saw = {"held": held, "grace_ends": path.grace_ends, "emails": emails, "existing_user_emails": existing}
    return Step("new console user", 0, 0, (*lines, *told), saw)


def quiet_days(path: WalkedPath, name: str, first: int, last: int) -> Step:
    """Days in grace: the sweep holds COMPLIANT; the daily run e-mails the user on reminder days only."""
    held_by_day, emailed = {}, {}
    for day in range(first, last + 1):
        path.day = day
        path.clock.run_on(day)
        held = path.sweep()
        path.expect_held(name, held, "COMPLIANT", path.in_grace_wording())
        emails = path.daily_notice(name)
        if len(emails) != (1 if day in EMAIL_DAYS else 0):
            path.fail(name, f"an e-mail on days {EMAIL_DAYS} only", f"{len(emails)} on day {day}")
        if emails:
            emailed[day] = emails[0]["Subject"]
        held_by_day[day] = held["ComplianceType"]
    reminders = "; ".join(f"day {day}: {quoted(subject)}" for day, subject in emailed.items()) or "none due"
    line = path.line(f"daily sweeps -> COMPLIANT (in grace); reminders e-mailed: {reminders}", first, last)
    return Step(name, first, last, (line,), {"held_by_day": held_by_day, "emailed": emailed})


def notice(path: WalkedPath) -> Step:
    path.day = NOTICE_DAY
    path.clock.run_on(NOTICE_DAY)
    held = path.sweep()
    path.expect_held("notice", held, "COMPLIANT", path.in_grace_wording())
    messages = path.daily_notice("notice")
    reminder = f"by {path.grace_ends:%Y-%m-%d} (reminder: 7 days left)"
    if len(messages) != 1 or reminder not in messages[0]["Subject"]:
        path.fail("notice", f"one e-mail to {path.address}: '{reminder}'", f"{len(messages)} e-mail(s)")
    (message,) = messages
    lines = (path.line(f"daily notice -> e-mail to {path.address}: Subject {quoted(message['Subject'])}"),)
    return Step("notice", NOTICE_DAY, NOTICE_DAY, lines, {"held": held, "messages": messages})


def grace_ends_step(path: WalkedPath) -> Step:
    path.day = GRACE_END_DAY
    path.clock.run_on(GRACE_END_DAY)
    held = path.sweep()
    path.expect_held("grace ends", held, "NON_COMPLIANT", "Console password but no allowed MFA device")
    line = path.line(f"grace ended. Sweep -> NON_COMPLIANT: {quoted(human_text(held['Annotation']))}")
    return Step("grace ends", GRACE_END_DAY, GRACE_END_DAY, (line,), {"held": held})


def enforced(path: WalkedPath) -> Step:
    """Config's automatic remediation for the NON_COMPLIANT result: the SSM document's one step, in-process."""
    result = path.remediation()
    in_group = path.in_force_mfa_group()
    told = path.operators_messages()
    saw = f"outcome {result['outcome']} ({result['why']}); in {path.stack.group_name}: {in_group}"
    if result["outcome"] != "enforced" or not in_group:
        path.fail("enforced", f"{USER_NAME} put into {path.stack.group_name}", saw)
    subjects = [m["Subject"] for m in told]
    if subjects != [f"{ENFORCED_SUBJECT}: {USER_NAME} in {DEFAULT_ACCOUNT_ID}"]:
        path.fail("enforced", "one message to the operators: who was enforced", f"{subjects}")
    notice_after = path.daily_notice("enforced")
    if notice_after:
        path.fail("enforced", f"no notice: {USER_NAME} is enforced", f"{len(notice_after)} message(s)")
    lines = (
        path.line(
            f"Config's remediation runs the SSM document: its script invokes the enforcement function <- "
            f'{{"action": "enforce", "UserId": "{path.user["UserId"]}", "ExecutionId": ...}}, which confirms '
            f"the automation -> {result['outcome']}: {USER_NAME} is in {path.stack.group_name}"
        ),
        f"{'':29}the operators' topic: Subject {quoted(told[0]['Subject'])}",
    )
    return Step(
        "enforced",
        GRACE_END_DAY,
        GRACE_END_DAY,
        lines,
        {"result": result, "in_group": in_group, "messages": told},
    )


def policy_while_enforced(path: WalkedPath) -> Step:
    statements = path.group_statements()
    context = {"aws:username": USER_NAME, "aws:MultiFactorAuthPresent": "false"}
    decisions = {}
    for action, resource, must in WITHOUT_MFA:
        said = decision(statements, action, resource.format(account=DEFAULT_ACCOUNT_ID, user=USER_NAME), context)
        decisions[action] = said
        if said != must:
            path.fail("ForceMfa policy", f"{action} without MFA: {must}", said)
    for action, resource in USER_GUIDE_PATH:
        said = decision(statements, action, resource.format(account=DEFAULT_ACCOUNT_ID, user=USER_NAME), context)
        if said != ALLOW:
            path.fail("ForceMfa policy", f"{action} on {resource} (the user guide's path) without MFA: allow", said)
    line = path.line(
        f"ForceMfa policy, as IAM holds it for {USER_NAME}, signed in without MFA: "
        + ", ".join(f"{action} {said}" for action, said in decisions.items())
    )
    return Step("ForceMfa policy", GRACE_END_DAY, GRACE_END_DAY, (line,), {"decisions": decisions})


def enables_mfa(path: WalkedPath) -> Step:
    path.day = MFA_DAY
    path.clock.now = path.clock.start + timedelta(days=MFA_DAY)
    # The two calls the policy allowed above (moto does not apply IAM policies; the previous step did).
    serial = path.iam.create_virtual_mfa_device(VirtualMFADeviceName=f"{USER_NAME}-phone")["VirtualMFADevice"][
        "SerialNumber"
    ]
    path.iam.enable_mfa_device(
        UserName=USER_NAME, SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
    )
    devices = [d["SerialNumber"] for d in path.iam.list_mfa_devices(UserName=USER_NAME)["MFADevices"]]
    if devices != [serial]:
        path.fail("enables MFA", f"one MFA device, {serial}", f"{devices}")
    line = path.line(f"{USER_NAME} creates and enables a virtual MFA device ({serial}), as the policy allows")
    return Step("enables MFA", MFA_DAY, MFA_DAY, (line,), {"devices": devices})


def compliant(path: WalkedPath) -> Step:
    path.clock.run_on(MFA_DAY)
    held = path.sweep()
    path.expect_held("COMPLIANT", held, "COMPLIANT", "Console password with MFA: virtual")
    # Config's automatic remediation works from its snapshot and may fire late: the function checks again.
    late = path.remediation()
    if late["outcome"] != "not_non_compliant":
        path.fail("COMPLIANT", "a late remediation to leave the user alone (not_non_compliant)", late["outcome"])
    with_mfa = decision(
        path.group_statements(),
        "s3:ListAllMyBuckets",
        "*",
        {"aws:username": USER_NAME, "aws:MultiFactorAuthPresent": "true"},
    )
    if with_mfa == EXPLICIT_DENY:
        path.fail("COMPLIANT", "ForceMfa no longer to deny other work once signed in with MFA", with_mfa)
    if len(path.notices) != len(EMAIL_DAYS):
        path.fail(
            "COMPLIANT", f"{len(EMAIL_DAYS)} e-mails to the user in the whole walk-through", f"{len(path.notices)}"
        )
    lines = (
        path.line(f"Sweep -> COMPLIANT: {quoted(human_text(held['Annotation']))}"),
        f"{'':29}a late remediation -> {late['outcome']} (left alone); signed in with MFA, ForceMfa no longer "
        f"denies s3:ListAllMyBuckets; e-mails to the user in all: {len(path.notices)}",
    )
    return Step(
        "COMPLIANT",
        MFA_DAY,
        MFA_DAY,
        lines,
        {"held": held, "late_remediation": late, "with_mfa": with_mfa, "notices": list(path.notices)},
    )


def released(path: WalkedPath) -> Step:
    """The daily run takes a user who now complies out of the group, so their access keys work again."""
    result = path.function({"action": "notify"})
    in_group = path.in_force_mfa_group()
    digest = [m for m in path.operators_messages() if m["Subject"].startswith(DIGEST_SUBJECT)]
    if in_group or result.get("released") != 1:
        path.fail("released", f"the daily run to take {USER_NAME} out of {path.stack.group_name}", "still in it")
    if len(digest) != 1 or f"{USER_NAME} (" not in digest[0]["Message"]:
        path.fail("released", f"one digest naming {USER_NAME} as released", f"{len(digest)} digest(s)")
    line = path.line(
        f"daily run -> {USER_NAME} taken out of {path.stack.group_name} (an allowed device now; access keys work "
        f"again); the operators' digest: {quoted(digest[0]['Subject'])}"
    )
    return Step("released", MFA_DAY, MFA_DAY, (line,), {"in_group": in_group, "digest": digest})


# The script, in order: each step's name and what plays it.
STEPS: tuple[tuple[str, Callable[[WalkedPath], Step]], ...] = (
    ("new console user", new_console_user),
    ("in grace", lambda path: quiet_days(path, "in grace", 1, NOTICE_DAY - 1)),
    ("notice", notice),
    ("after the notice", lambda path: quiet_days(path, "after the notice", NOTICE_DAY + 1, GRACE_END_DAY - 1)),
    ("grace ends", grace_ends_step),
    ("enforced", enforced),
    ("ForceMfa policy", policy_while_enforced),
    ("enables MFA", enables_mfa),
    ("COMPLIANT", compliant),
    ("released", released),
    # The rollout: the users who existed when enforcement started.
    ("held back", lambda path: held_back_then_enforced(path, GRACE_END_DAY)),
    ("access keys", lambda path: access_keys_held_back(path, GRACE_END_DAY)),
    ("kill switch", kill_switch),
)


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
        kept_logs(walk.logs),
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
            "USER_GUIDE_URL": str(stack.defaults["UserGuideUrl"]),
            "NOTICE_CONTACT": str(stack.defaults["NoticeContact"]),
            "ENFORCEMENT_DOCUMENT": stack.document_name,
        }
        path = WalkedPath(clock, config, stack, USER_NAME, automation)
        from enforcement_handler import handler

        function = EmulatedLambda(lambda event: handler(event, LambdaContext(), clock=clock))
        with account_environment(environment), function:
            for name, play in STEPS:
                if before_step is not None:
                    before_step(name, config)
                try:
                    walk.steps.append(play(path))
                except StepFailed as failure:
                    walk.failure = failure
                    break
                except RuleError as error:
                    walk.failure = StepFailed(name, path.day, "the handlers to run", f"{type(error).__name__}: {error}")
                    break
    return walk
