"""The walk-through's rollout steps: the other users who exist when enforcement starts.

Played after new-hire's path by :func:`mfa_audit.emulation.walkthrough.run_walkthrough`, on the same
emulated account and clock: an existing user held back by the daily limit and enforced by the next daily
run, a user whose access keys are in use held back and told, and the kill switch.
"""

from __future__ import annotations

from typing import Any

from mfa_audit.emulation.account import DEFAULT_ACCOUNT_ID, SeedUser, create_user, mark_access_key_used

# Imported by run_walkthrough when it runs, after the walk-through's module is loaded.
from mfa_audit.emulation.walkthrough import (
    GRACE_END_DAY,
    MFA_DAY,
    USER_NAME,
    Step,
    _Path,
    _quoted,
)

# Two users who exist when enforcement starts: an old password without MFA (its grace counts from the start of
# enforcement, and the daily limit holds it back a day), and one whose access keys are in use (held back, told).
EXISTING_USER = "old-timer"
KEYS_USER = "keys-user"


def emails_to(name: str) -> list[dict[str, str]]:
    """Every e-mail SES sent to that user's address in the whole walk-through."""
    from moto.ses.models import ses_backends

    return [
        {"Subject": message.subject, "Body": message.body}
        for message in ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
        if list(message.destinations["ToAddresses"]) == [f"{name}@example.com"]
    ]


def create_existing_users(path: _Path) -> None:
    """Two users with passwords 400 days old and no MFA device, each with an address; one uses an access key."""
    for name in (EXISTING_USER, KEYS_USER):
        user = create_user(path.iam, SeedUser(name, console_password=True, password_age_days=400))
        path.others[name] = user
        path.iam.tag_user(UserName=name, Tags=[{"Key": "email", "Value": f"{name}@example.com"}])
    key = path.iam.create_access_key(UserName=KEYS_USER)["AccessKey"]["AccessKeyId"]
    mark_access_key_used(DEFAULT_ACCOUNT_ID, key, path.clock.start)


def existing_users_told(path: _Path) -> tuple[tuple[str, ...], list[dict[str, str]]]:
    """Day 0: the existing user was e-mailed the same 14-day grace as new-hire (enforcement starts today)."""
    existing = emails_to(EXISTING_USER)
    if len(existing) != 1 or f"by {path.grace_ends:%Y-%m-%d}" not in existing[0]["Subject"]:
        path._fail(
            "new console user", f"{EXISTING_USER} (password 400 days old) e-mailed a 14-day grace", f"{existing}"
        )
    line = (
        f"{'':29}{EXISTING_USER} and {KEYS_USER} (passwords 400 days old, no MFA) exist when enforcement starts: "
        f"their grace counts from today, e-mailed too: {_quoted(existing[0]['Subject'])}"
    )
    return (line,), existing


def held_back_then_enforced(path: _Path) -> Step:
    """The existing user was due on day 14 with new-hire; the limit (1 a day) held it back; the next day's run
    enforced it, without Config asking again."""
    in_group = EXISTING_USER in {g["UserName"] for g in path.iam.get_group(GroupName=path.stack.group_name)["Users"]}
    held_on_day = path.digests.get(GRACE_END_DAY, "")
    listed = "held back by MaxEnforcementsPerDay" in held_on_day and f"{EXISTING_USER} (" in held_on_day
    if not (in_group and listed):
        path._fail(
            "held back",
            f"{EXISTING_USER} held back on day {GRACE_END_DAY} (digest) and enforced on day {MFA_DAY}",
            f"listed: {listed}, in the group: {in_group}",
        )
    lines = (
        path._line(
            f"{EXISTING_USER}: due on day {GRACE_END_DAY} with {USER_NAME}, held back by MaxEnforcementsPerDay=1 "
            f"(in that day's digest); this daily run enforced it, no new Config result needed: in "
            f"{path.stack.group_name}"
        ),
    )
    return Step("held back", GRACE_END_DAY, MFA_DAY, lines, {"in_group": in_group, "digest": held_on_day})


def access_keys_held_back(path: _Path) -> Step:
    in_group = KEYS_USER in {g["UserName"] for g in path.iam.get_group(GroupName=path.stack.group_name)["Users"]}
    told = [m for m in emails_to(KEYS_USER) if m["Subject"].startswith("Action needed")]
    if in_group or len(told) != 1 or "access keys used" not in told[0]["Body"]:
        path._fail("access keys", f"{KEYS_USER} not enforced and told why once", f"in group: {in_group}, {told}")
    lines = (
        path._line(
            f"{KEYS_USER} (an access key used this month): held back on day {GRACE_END_DAY}, not enforced (its "
            f"keys would stop working); e-mail to {KEYS_USER}@example.com: {_quoted(told[0]['Subject'])}; listed "
            "in the operators' digest"
        ),
    )
    return Step("access keys", GRACE_END_DAY, MFA_DAY, lines, {"in_group": in_group, "told": told})


def kill_switch(path: _Path) -> Step:
    import boto3

    ssm = boto3.client("ssm")
    user_id = path.others[KEYS_USER]["UserId"]

    def remediation() -> dict[str, Any]:
        """What the document's script sends for a Config remediation running now (its execution, confirmed)."""
        execution_id = path.automation.start(DEFAULT_ACCOUNT_ID, path.stack.document_name, user_id)
        return path._function({"action": "enforce", "UserId": user_id, "ExecutionId": execution_id})

    ssm.put_parameter(Name=path.stack.switch_parameter, Value="paused", Type="String", Overwrite=True)
    paused = remediation()
    ssm.put_parameter(Name=path.stack.switch_parameter, Value="on", Type="String", Overwrite=True)
    resumed = remediation()
    if paused["outcome"] != "paused" or resumed["outcome"] != "access_keys_in_use":
        path._fail(
            "kill switch", "paused, then after resume the usual check", f"{paused['outcome']}, {resumed['outcome']}"
        )
    line = path._line(
        f"mfa-audit enforcement pause ({path.stack.switch_parameter} = paused): a remediation -> "
        f"{paused['outcome']}; resume: the same remediation -> {resumed['outcome']}"
    )
    return Step("kill switch", MFA_DAY, MFA_DAY, (line,), {"paused": paused, "resumed": resumed})
