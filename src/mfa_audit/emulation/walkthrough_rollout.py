"""The walk-through's rollout steps: the other users who exist when enforcement starts.

Played after new-hire's path (entries of :data:`mfa_audit.emulation.walkthrough.STEPS`), on the same emulated
account and clock: an existing user held back by the daily limit and enforced by the next daily run, a user
whose access keys are in use held back and told, and the kill switch. Each step runs on the day the path is at;
``due_day`` is the day the grace of every user ended.

Example::

    create_existing_users(path)               # on day 0, before the first sweep
    held_back_then_enforced(path, due_day=14)  # on day 15: the Step, or StepFailed
"""

from __future__ import annotations

from typing import Any

from mfa_audit.emulation.account import DEFAULT_ACCOUNT_ID, SeedUser, create_user, mark_access_key_used
from mfa_audit.emulation.walkthrough_path import Step, WalkedPath, quoted

# Two users who exist when enforcement starts: an old password without MFA (its grace counts from the start of
# enforcement, and the daily limit holds it back a day), and one whose access keys are in use (held back, told).
EXISTING_USER = "old-timer"
KEYS_USER = "keys-user"


def address(name: str) -> str:
    return f"{name}@example.com"


def create_existing_users(path: WalkedPath) -> None:
    """Two users with passwords 400 days old and no MFA device, each with an address; one uses an access key."""
    for name in (EXISTING_USER, KEYS_USER):
        user = create_user(path.iam, SeedUser(name, console_password=True, password_age_days=400))
        path.others[name] = user
        path.iam.tag_user(UserName=name, Tags=[{"Key": "email", "Value": address(name)}])
    key = path.iam.create_access_key(UserName=KEYS_USER)["AccessKey"]["AccessKeyId"]
    mark_access_key_used(DEFAULT_ACCOUNT_ID, key, path.clock.start)


def existing_users_told(path: WalkedPath) -> tuple[tuple[str, ...], list[dict[str, str]]]:
    """Day 0: the existing user was e-mailed the same 14-day grace as the new user (enforcement starts today)."""
    existing = path.emails_to(address(EXISTING_USER))
    if len(existing) != 1 or f"by {path.grace_ends:%Y-%m-%d}" not in existing[0]["Subject"]:
        path.fail("new console user", f"{EXISTING_USER} (password 400 days old) e-mailed a 14-day grace", f"{existing}")
    line = (
        f"{'':29}{EXISTING_USER} and {KEYS_USER} (passwords 400 days old, no MFA) exist when enforcement starts: "
        f"their grace counts from today, e-mailed too: {quoted(existing[0]['Subject'])}"
    )
    return (line,), existing


def held_back_then_enforced(path: WalkedPath, due_day: int) -> Step:
    """The existing user was due with the new user; the limit (1 a day) held it back; the next day's run
    enforced it, without Config asking again."""
    in_group = path.in_force_mfa_group(EXISTING_USER)
    held_on_day = path.digests.get(due_day, "")
    listed = "held back by MaxEnforcementsPerDay" in held_on_day and f"{EXISTING_USER} (" in held_on_day
    if not (in_group and listed):
        path.fail(
            "held back",
            f"{EXISTING_USER} held back on day {due_day} (digest) and enforced on day {path.day}",
            f"listed: {listed}, in the group: {in_group}",
        )
    lines = (
        path.line(
            f"{EXISTING_USER}: due on day {due_day} with {path.user_name}, held back by MaxEnforcementsPerDay=1 "
            f"(in that day's digest); this daily run enforced it, no new Config result needed: in "
            f"{path.stack.group_name}"
        ),
    )
    return Step("held back", due_day, path.day, lines, {"in_group": in_group, "digest": held_on_day})


def access_keys_held_back(path: WalkedPath, due_day: int) -> Step:
    in_group = path.in_force_mfa_group(KEYS_USER)
    told = [m for m in path.emails_to(address(KEYS_USER)) if m["Subject"].startswith("Action needed")]
    if in_group or len(told) != 1 or "access keys used" not in told[0]["Body"]:
        path.fail("access keys", f"{KEYS_USER} not enforced and told why once", f"in group: {in_group}, {told}")
    lines = (
        path.line(
            f"{KEYS_USER} (an access key used this month): held back on day {due_day}, not enforced (its "
            f"keys would stop working); e-mail to {address(KEYS_USER)}: {quoted(told[0]['Subject'])}; listed "
            "in the operators' digest"
        ),
    )
    return Step("access keys", due_day, path.day, lines, {"in_group": in_group, "told": told})


def kill_switch(path: WalkedPath) -> Step:
    import boto3

    ssm = boto3.client("ssm")
    user_id = path.others[KEYS_USER]["UserId"]

    def remediation() -> dict[str, Any]:
        """What the document's script sends for a Config remediation running now (its execution, confirmed)."""
        execution_id = path.automation.start(DEFAULT_ACCOUNT_ID, path.stack.document_name, user_id)
        return path.function({"action": "enforce", "UserId": user_id, "ExecutionId": execution_id})

    ssm.put_parameter(Name=path.stack.switch_parameter, Value="paused", Type="String", Overwrite=True)
    paused = remediation()
    ssm.put_parameter(Name=path.stack.switch_parameter, Value="on", Type="String", Overwrite=True)
    resumed = remediation()
    if paused["outcome"] != "paused" or resumed["outcome"] != "access_keys_in_use":
        path.fail(
            "kill switch", "paused, then after resume the usual check", f"{paused['outcome']}, {resumed['outcome']}"
        )
    line = path.line(
        f"mfa-audit enforcement pause ({path.stack.switch_parameter} = paused): a remediation -> "
        f"{paused['outcome']}; resume: the same remediation -> {resumed['outcome']}"
    )
    return Step("kill switch", path.day, path.day, (line,), {"paused": paused, "resumed": resumed})
