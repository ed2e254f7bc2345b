"""A late CloudTrail delivery never leaves a wrong result standing (issue 23).

Each scenario drives the real handlers (the rule's and the re-evaluation function's) against moto IAM, the
emulated Config and an emulated CloudTrail whose event history shows each event only some time after the call,
as AWS allows ("within an average of about 5 minutes ... not guaranteed").
"""

from datetime import timedelta

import pytest
from console_mfa import reevaluation
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from IAM_USER_CONSOLE_MFA import lambda_handler
from reevaluation_handler import handler as reevaluation_handler

from mfa_audit.emulation.events import LambdaContext, scheduled_event
from mfa_audit.emulation.iam_events import sqs_record_for
from mfa_audit.emulation.services import FrozenCredentialReport
from tests.functional.test_sending_only_changes import Clock, assert_config_holds_the_truth, held, truth

pytestmark = pytest.mark.usefixtures("no_real_sleep")
PASSWORD = "Emulated-Passw0rd!"  # noqa: S105 - emulated account


@pytest.fixture
def no_real_sleep(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda seconds: None)


@pytest.fixture
def clock(config, cloudtrail):
    moving = Clock()
    config.clock = moving
    cloudtrail.clock = moving
    return moving


def sweep(clock, monkeypatch, strategy="auto", parameters=None):
    monkeypatch.setenv("SWEEP_STRATEGY", strategy)
    lambda_handler(scheduled_event(parameters), LambdaContext(), clock=clock)


def compliance(config, user):
    return held(config)[user["UserId"]][0]


def set_report_field(report, user_name, column, value):
    """Edit one cell of the frozen credential report (moto reports the user's creation as the password's change)."""
    lines = report.content.decode().splitlines()
    header = lines[0].split(",")
    for index, line in enumerate(lines[1:], start=1):
        cells = line.split(",")
        if cells[0] == user_name:
            cells[header.index(column)] = value
            lines[index] = ",".join(cells)
    report.content = ("\n".join(lines) + "\n").encode()


def test_dave_a_password_cloudtrail_delivers_after_the_bulk_sweep_is_found_by_the_next_sweep(
    add_user, iam, cloudtrail, config, clock, monkeypatch
):
    dave = add_user("dave")
    cloudtrail.age_history(timedelta(hours=3))
    with FrozenCredentialReport() as report:
        report.generate_now()
        clock.advance(minutes=95)
        cloudtrail.delivery_delay = timedelta(minutes=30)
        iam.create_login_profile(UserName="dave", Password=PASSWORD)  # no MFA
        clock.advance(minutes=25)  # the report is 2 hours old; the event shows 5 minutes after this sweep
        sweep(clock, monkeypatch, "bulk")
        assert compliance(config, dave) == "NOT_APPLICABLE"  # the bulk sweep's known limit
        clock.advance(hours=1)
        sweep(clock, monkeypatch)
    assert compliance(config, dave) == "NON_COMPLIANT"
    assert_config_holds_the_truth(config, clock)


def test_erin_a_device_enabled_just_before_a_bulk_sweep_after_a_password_reset_is_found_by_the_next_sweep(
    add_user, iam, cloudtrail, config, clock, monkeypatch
):
    parameters = {"GracePeriodDays": "7"}
    erin = add_user("erin", password=True, password_age_days=60)
    cloudtrail.age_history(timedelta(hours=3))
    with FrozenCredentialReport() as report:
        report.generate_now()
        # Reset two days ago: the report alone leaves her inside or outside the grace period, so her password is
        # read live; "no device" is still the report's word.
        reset = (clock() - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
        set_report_field(report, "erin", "password_last_changed", reset)
        clock.advance(minutes=50)
        cloudtrail.delivery_delay = timedelta(minutes=12)
        iam.enable_mfa_device(
            UserName="erin", SerialNumber="GAKT00000001", AuthenticationCode1="123456", AuthenticationCode2="654321"
        )
        clock.advance(minutes=10)
        sweep(clock, monkeypatch, "bulk", parameters)
        assert compliance(config, erin) == "NON_COMPLIANT"  # what the report and the live password read showed
        clock.advance(hours=1)
        sweep(clock, monkeypatch, "auto", parameters)
    assert compliance(config, erin) == "COMPLIANT"
    assert_config_holds_the_truth(config, clock, parameters)


def drain_the_queue(records, config, clock, monkeypatch, visibility_timeout=timedelta(minutes=2)):
    """Play SQS and Config: hand the function the messages, redeliver its failures after the visibility timeout,
    and run the rule (a steady-state sweep) whenever it started an evaluation. Returns the log lines' outcomes."""
    monkeypatch.setenv("SWEEP_STRATEGY", "auto")
    for _ in range(30):
        started = len(config.evaluations_started)
        response = reevaluation_handler({"Records": records}, LambdaContext(), clock=clock)
        if len(config.evaluations_started) > started:
            lambda_handler(scheduled_event(), LambdaContext(), clock=clock)
        returned = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        records = [record for record in records if record["messageId"] in returned]
        if not records:
            return
        clock.advance(seconds=visibility_timeout.total_seconds())
    raise AssertionError("the queue never emptied")


def test_frank_the_event_path_sees_the_change_that_triggered_it(add_user, iam, cloudtrail, config, clock, monkeypatch):
    frank = add_user("frank", password=True, devices=("virtual",))
    cloudtrail.age_history(timedelta(hours=2))
    sweep(clock, monkeypatch)
    assert compliance(config, frank) == "COMPLIANT"
    clock.advance(hours=1)
    # The event history shows the change 30 seconds after EventBridge, which delivered it after 5 minutes.
    cloudtrail.delivery_delay = timedelta(minutes=5, seconds=30)
    serial = iam.list_mfa_devices(UserName="frank")["MFADevices"][0]["SerialNumber"]
    iam.deactivate_mfa_device(UserName="frank", SerialNumber=serial)
    clock.advance(minutes=5)
    record = sqs_record_for("m-frank", "123456789012", cloudtrail.events[-1], first_received=clock())
    drain_the_queue([record], config, clock, monkeypatch)
    assert compliance(config, frank) == "NON_COMPLIANT"
    assert_config_holds_the_truth(config, clock)


def test_an_event_lookup_events_never_shows_is_started_past_the_bound_and_the_log_says_so(
    add_user, iam, cloudtrail, config, clock, monkeypatch, caplog
):
    import logging

    caplog.set_level(logging.INFO, logger="console_mfa.reevaluation")
    add_user("gus", password=True, devices=("virtual",))
    cloudtrail.age_history(timedelta(hours=2))
    sweep(clock, monkeypatch)
    cloudtrail.delivery_delay = timedelta(days=1)
    iam.delete_login_profile(UserName="gus")
    received = clock()
    record = sqs_record_for("m-gus", "123456789012", cloudtrail.events[-1], first_received=received)
    drain_the_queue([record], config, clock, monkeypatch)
    assert clock() - received >= reevaluation.VISIBILITY_BOUND
    lines = [r.getMessage() for r in caplog.records if r.name == "console_mfa.reevaluation"]
    assert '"startedUnseen": 1' in lines[-1]


USERS = ("ann", "ben", "cat", "dan")
# One change per user: what it does to the user, made while the account is as set up below.
CHANGES = {
    "ann": lambda iam: iam.create_login_profile(UserName="ann", Password=PASSWORD),
    "ben": lambda iam: iam.delete_login_profile(UserName="ben"),
    "cat": lambda iam: iam.enable_mfa_device(
        UserName="cat", SerialNumber="GAKT00000002", AuthenticationCode1="123456", AuthenticationCode2="654321"
    ),
    "dan": lambda iam: iam.deactivate_mfa_device(
        UserName="dan", SerialNumber=iam.list_mfa_devices(UserName="dan")["MFADevices"][0]["SerialNumber"]
    ),
}


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    delays=st.lists(st.integers(min_value=0, max_value=90), min_size=4, max_size=4),
    offsets=st.lists(st.integers(min_value=1, max_value=119), min_size=4, max_size=4),
    first=st.sampled_from(("bulk", "auto")),
)
# ann's password 30 minutes before the bulk sweep, delivered 10 minutes after it (dave's case), always tried.
@example(delays=[40, 0, 0, 0], offsets=[30, 90, 90, 90], first="bulk")
def test_no_wrong_result_survives_the_next_sweep_past_each_delivery(
    add_user, iam, cloudtrail, config, clock, monkeypatch, delays, offsets, first
):
    """A credential report at minute 0, a first sweep (bulk, or live) at 60, hourly sweeps after; each user
    changes once, at a random minute up to 119, and CloudTrail delivers it 0 to 90 minutes later. After every
    sweep, each user whose change CloudTrail had delivered when the sweep began (or who has not changed) holds
    the truth; so after the first sweep past the last delivery, everyone does."""
    # The fixtures are made once for all examples: the account is set up once and put back after each example.
    config.forget_results()
    if not iam.list_users()["Users"]:
        add_user("ann")
        add_user("ben", password=True, devices=("virtual",))
        add_user("cat", password=True)
        add_user("dan", password=True, devices=("virtual",))
    else:  # undo the last example's changes
        restore(iam)
    user_ids = {user["UserName"]: user["UserId"] for user in iam.list_users()["Users"]}
    cloudtrail.age_history(timedelta(days=1))
    delivered = {}
    with FrozenCredentialReport() as report:
        report.generate_now()
        start = clock()
        changes = sorted((timedelta(minutes=offset), name) for name, offset in zip(USERS, offsets, strict=True))
        delay_by_name = dict(zip(USERS, delays, strict=True))
        for hour in range(1, 6):
            while changes and changes[0][0] < timedelta(hours=hour):
                at, name = changes.pop(0)
                clock.now = start + at
                cloudtrail.delay_of = lambda _event, name=name: timedelta(minutes=delay_by_name[name])
                CHANGES[name](iam)
                cloudtrail.delay_of = None
                delivered[user_ids[name]] = cloudtrail.delivered_at(cloudtrail.events[-1])
            clock.now = start + timedelta(hours=hour)
            sweep(clock, monkeypatch, first if hour == 1 else "auto")
            awaiting = {user_id for user_id, at in delivered.items() if at > clock()}
            decided, holds = truth(config, clock), held(config)
            assert {rid: holds.get(rid) for rid in decided if rid not in awaiting} == {
                rid: result for rid, result in decided.items() if rid not in awaiting
            }
            if not changes and not awaiting:
                break
    assert not changes and not awaiting


def restore(iam):
    """Put the four users back as they were set up."""
    users = {u["UserName"] for u in iam.list_users()["Users"]}
    assert set(USERS) <= users

    def has_password(name):
        try:
            iam.get_login_profile(UserName=name)
        except iam.exceptions.NoSuchEntityException:
            return False
        return True

    if has_password("ann"):
        iam.delete_login_profile(UserName="ann")
    if not has_password("ben"):
        iam.create_login_profile(UserName="ben", Password=PASSWORD)
    for device in iam.list_mfa_devices(UserName="cat")["MFADevices"]:
        iam.deactivate_mfa_device(UserName="cat", SerialNumber=device["SerialNumber"])
    if not iam.list_mfa_devices(UserName="dan")["MFADevices"]:
        serial = iam.list_virtual_mfa_devices()["VirtualMFADevices"]
        dan = next(d["SerialNumber"] for d in serial if "dan" in d["SerialNumber"])
        iam.enable_mfa_device(
            UserName="dan", SerialNumber=dan, AuthenticationCode1="123456", AuthenticationCode2="654321"
        )
