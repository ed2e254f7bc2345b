"""A late CloudTrail delivery never leaves a wrong result standing (issue 23).

Each scenario drives the real handlers (the rule's and the re-evaluation function's) against moto IAM, the
emulated Config and an emulated CloudTrail whose event history shows each event only some time after the call,
as AWS allows ("within an average of about 5 minutes ... not guaranteed").
"""

from datetime import timedelta

import pytest
from console_mfa import reevaluation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from IAM_USER_CONSOLE_MFA import lambda_handler

from mfa_audit.emulation.events import LambdaContext, scheduled_event
from mfa_audit.emulation.iam_events import sqs_record_for
from mfa_audit.emulation.services import FrozenCredentialReport
from tests.functional.test_sending_only_changes import Clock, assert_config_holds_the_truth, held

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
