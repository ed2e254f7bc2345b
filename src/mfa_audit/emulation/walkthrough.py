"""``mfa-audit demo --walkthrough``: one IAM user from a new console password to enforced MFA, then COMPLIANT.

The account stack with ``Enforcement=automatic`` is played day by day on an emulated clock, in an
emulated account (moto) that holds the stack's enforcement pieces as ``cloudformation/rule.yaml``
defines them: the ForceMfa group and its policy, the ledger table, and the operators' topic (whose
email subscription is a queue here, so the messages can be read back). What decides is the
project's own code, in-process:

* every sweep is the rule's ``lambda_handler`` on a ScheduledNotification; the emulated Config
  captures what it sends (PutEvaluations) and answers DescribeConfigRules with the rule's parameters;
* the daily notice is ``enforcement_handler.handler`` on the schedule's event ``{"action": "notify"}``;
* Config's automatic remediation is the stack's SSM document, run as SSM runs it
  (:mod:`mfa_audit.emulation.automation`): a new automation execution, the document's own script, and
  its Lambda Invoke answered by the same handler in-process, which confirms that execution; moto runs
  neither Config remediations nor SSM Automation, so only that trigger is emulated;
* what the ForceMfa policy allows is read from the policies IAM holds for the user's groups, and
  decided by :mod:`mfa_audit.emulation.iam_policy`.

The script is :data:`STEPS`, in order: a step is a function of the :class:`WalkedPath` (what the steps act on
and read back, :mod:`mfa_audit.emulation.walkthrough_path`) that returns its :class:`Step`. The stack's pieces
come from :mod:`mfa_audit.emulation.stack_pieces`, the days from :mod:`mfa_audit.emulation.clock`.

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
from mfa_audit.emulation.stack_pieces import create_stack_pieces
from mfa_audit.emulation.walkthrough_path import (
    ENFORCED_SUBJECT,
    Step,
    StepFailed,
    WalkedPath,
    kept_logs,
    quoted,
)

USER_NAME = "new-hire"
GRACE_PERIOD_DAYS = 14
NOTICE_DAYS = 7
MAX_ENFORCEMENTS_PER_DAY = 5
RULE_PARAMETERS = {"Enforcement": "automatic", "GracePeriodDays": str(GRACE_PERIOD_DAYS)}
NOTICE_DAY = GRACE_PERIOD_DAYS - NOTICE_DAYS
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
    # The password dates from day 0's start (moto stamps its own time; IAM cannot backdate).
    set_password_age(DEFAULT_ACCOUNT_ID, USER_NAME, datetime.now(timezone.utc) - path.clock.start)
    created = path.iam.get_login_profile(UserName=USER_NAME)["LoginProfile"]["CreateDate"]
    path.grace_ends = created.astimezone(timezone.utc) + timedelta(days=GRACE_PERIOD_DAYS)
    path.clock.run_on(0)
    held = path.sweep()
    ends = f"{path.grace_ends:%Y-%m-%d %H:%M} UTC"
    path.expect_held("new console user", held, "COMPLIANT", f"ends {ends}. MFA is enforced from then")
    messages = path.daily_notice("new console user")
    if messages:
        path.fail("new console user", f"no notice yet (grace ends in {GRACE_PERIOD_DAYS} days)", "a notice")
    line = path.line(
        f"{USER_NAME} got a console password at {path.clock.start:%H:%M}, no MFA device. "
        f"Sweep -> {held['ComplianceType']}: "
        f"{quoted(human_text(held['Annotation']))}"
    )
    return Step("new console user", 0, 0, (line,), {"held": held, "grace_ends": path.grace_ends})


def quiet_days(path: WalkedPath, name: str, first: int, last: int, why: str) -> Step:
    held_by_day = {}
    for day in range(first, last + 1):
        path.day = day
        path.clock.run_on(day)
        held = path.sweep()
        path.expect_held(name, held, "COMPLIANT", path.in_grace_wording())
        if path.daily_notice(name):
            path.fail(name, f"no message to the operators ({why})", "a message")
        held_by_day[day] = held["ComplianceType"]
    line = path.line(f"daily sweeps -> COMPLIANT (in grace); daily notices: nothing to send ({why})", first, last)
    return Step(name, first, last, (line,), {"held_by_day": held_by_day})


def notice(path: WalkedPath) -> Step:
    path.day = NOTICE_DAY
    path.clock.run_on(NOTICE_DAY)
    held = path.sweep()
    path.expect_held("notice", held, "COMPLIANT", path.in_grace_wording())
    messages = path.daily_notice("notice")
    ends = f"grace ends {path.grace_ends:%Y-%m-%d %H:%M} UTC"
    if len(messages) != 1 or f"{USER_NAME} ({path.user['UserId']}): {ends}" not in messages[0]["Message"]:
        path.fail("notice", f"one notice naming {USER_NAME} and '{ends}'", f"{len(messages)} message(s)")
    (message,) = messages
    lines = [
        path.line(
            f"daily notice -> the operators' topic (NoticeDays={NOTICE_DAYS} before the grace ends): "
            f"Subject {quoted(message['Subject'])}"
        )
    ]
    lines += [f"{'':29}| {text}" for text in message["Message"].splitlines() if text]
    return Step("notice", NOTICE_DAY, NOTICE_DAY, tuple(lines), {"held": held, "messages": messages})


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
    path.daily_notice("COMPLIANT")
    if len(path.notices) != 1:
        path.fail(
            "COMPLIANT",
            "one notice in the whole walk-through (each user is announced once)",
            f"{len(path.notices)}",
        )
    lines = (
        path.line(f"Sweep -> COMPLIANT: {quoted(human_text(held['Annotation']))}"),
        f"{'':29}a late remediation -> {late['outcome']} (left alone); signed in with MFA, ForceMfa no longer "
        f"denies s3:ListAllMyBuckets; notices sent in all: {len(path.notices)}",
    )
    return Step(
        "COMPLIANT",
        MFA_DAY,
        MFA_DAY,
        lines,
        {"held": held, "late_remediation": late, "with_mfa": with_mfa, "notices": list(path.notices)},
    )


def released(path: WalkedPath) -> Step:
    """The undo of docs/enforcement.md: the operator removes the user from the group."""
    path.iam.remove_user_from_group(GroupName=path.stack.group_name, UserName=USER_NAME)
    in_group = path.in_force_mfa_group()
    if in_group:
        path.fail("released", f"{USER_NAME} out of {path.stack.group_name}", "still in it")
    line = path.line(
        f"operator releases {USER_NAME}: aws iam remove-user-from-group --group-name {path.stack.group_name} "
        f"--user-name {USER_NAME}"
    )
    return Step("released", MFA_DAY, MFA_DAY, (line,), {"in_group": in_group})


# The script, in order: each step's name and what plays it.
STEPS: tuple[tuple[str, Callable[[WalkedPath], Step]], ...] = (
    ("new console user", new_console_user),
    ("in grace", lambda path: quiet_days(path, "in grace", 1, NOTICE_DAY - 1, "no grace ends within NoticeDays")),
    ("notice", notice),
    (
        "after the notice",
        lambda path: quiet_days(
            path, "after the notice", NOTICE_DAY + 1, GRACE_END_DAY - 1, "each user is announced once"
        ),
    ),
    ("grace ends", grace_ends_step),
    ("enforced", enforced),
    ("ForceMfa policy", policy_while_enforced),
    ("enables MFA", enables_mfa),
    ("COMPLIANT", compliant),
    ("released", released),
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
        f"Account stack: Enforcement=automatic, GracePeriodDays={GRACE_PERIOD_DAYS}, NoticeDays={NOTICE_DAYS}, "
        f"MaxEnforcementsPerDay={MAX_ENFORCEMENTS_PER_DAY}; ForceMfa group, policy and ledger from "
        f"cloudformation/rule.yaml.",
        "The real rule handler sweeps daily, the real enforcement function sends the daily notice and runs as "
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
            "NOTICE_DAYS": str(NOTICE_DAYS),
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
