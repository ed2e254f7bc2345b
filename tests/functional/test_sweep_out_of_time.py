"""A scheduled sweep that runs out of time: it corrects what it found, then fails loudly.

The deadline's clock here is a stepped one that moves only when the rule makes chosen AWS
calls, and users are checked one at a time, so "out of time after the third user" is exact
and no test waits on the wall clock.
"""

import json
import logging
import threading
import time
from datetime import timedelta

import boto3
import pytest
from console_mfa.aws import AwsClients
from console_mfa.exceptions import DeliveryOutOfTimeError, SweepIncompleteError
from IAM_USER_CONSOLE_MFA import REPORTING_RESERVE_SECONDS, SENDING_MARGIN_SECONDS, lambda_handler

from mfa_audit.emulation.events import change_event, scheduled_event
from mfa_audit.emulation.services import FrozenCredentialReport


class LambdaContext:
    def __init__(self, remaining_seconds):
        self.remaining_ms = remaining_seconds * 1000

    def get_remaining_time_in_millis(self):
        return self.remaining_ms


class SteppedClock:
    """Seconds that pass only when the rule makes the AWS calls given to :meth:`clients`."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def clients(self, seconds_per_call):
        """make_clients for the handler: one user at a time, each listed call moving the clock."""

        def make(event):
            clients = AwsClients.from_session(boto3.Session(), "us-east-1", max_workers=1)
            for operation, seconds in seconds_per_call.items():
                service, name = operation.split(".")
                client = clients.config if service == "config" else clients.iam
                client.meta.events.register(
                    f"before-call.{client.meta.service_model.service_name}.{name}",
                    lambda seconds=seconds, **_: self._advance(seconds),
                )
            return clients

        return make

    def _advance(self, seconds):
        self.now += seconds


def sweep_time(seconds):
    """A Lambda context leaving the sweep ``seconds`` before it must stop."""
    return LambdaContext(REPORTING_RESERVE_SECONDS + seconds)


def results(config):
    return {resource_id: e["ComplianceType"] for resource_id, e in config.results.items()}


def rule_log(caplog):
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "console_mfa"][-1]


@pytest.fixture
def compliant_account(config, add_user, iam):
    """Five users with a password and a FIDO key, all COMPLIANT in Config after a complete sweep."""
    for number in range(5):
        add_user(f"user{number}", password=True, devices=("fido",))
    lambda_handler(scheduled_event(), None)
    users = iam.list_users()["Users"]  # the order the sweep checks them in
    assert set(results(config).values()) == {"COMPLIANT"}
    return users


def lose_mfa(iam, user_name):
    serial = iam.list_mfa_devices(UserName=user_name)["MFADevices"][0]["SerialNumber"]
    iam.deactivate_mfa_device(UserName=user_name, SerialNumber=serial)


def run_out_of_time_after_three_users():
    """A sweep with 25 s, each user's GetLoginProfile taking 10 s: users 1 to 3 are checked."""
    clock = SteppedClock()
    with pytest.raises(SweepIncompleteError) as raised:
        lambda_handler(
            scheduled_event(),
            sweep_time(25),
            make_clients=clock.clients({"iam.GetLoginProfile": 10}),
            timer=clock,
        )
    return raised.value


def test_a_user_checked_before_the_deadline_who_lost_mfa_is_non_compliant_after_a_timed_out_run(
    config, compliant_account, iam
):
    first = compliant_account[0]
    lose_mfa(iam, first["UserName"])
    run_out_of_time_after_three_users()
    assert results(config)[first["UserId"]] == "NON_COMPLIANT"
    # That correction, and the two others checked (unchanged, so the next sweep starts after them); nobody guessed.
    sent = {e["ComplianceResourceId"]: e["ComplianceType"] for e in config.put_calls[-1]}
    assert sent == {first["UserId"]: "NON_COMPLIANT", **{u["UserId"]: "COMPLIANT" for u in compliant_account[1:3]}}


def test_a_user_not_reached_before_the_deadline_keeps_the_result_config_holds(config, compliant_account, iam):
    last = compliant_account[-1]
    lose_mfa(iam, last["UserName"])
    run_out_of_time_after_three_users()
    assert results(config)[last["UserId"]] == "COMPLIANT"
    assert last["UserId"] not in {e["ComplianceResourceId"] for call in config.put_calls[1:] for e in call}


def test_a_timed_out_run_reports_nobody_not_applicable(config, compliant_account, iam, add_user):
    # Held NON_COMPLIANT, then deleted: a complete sweep would clear it, a partial one must not.
    gone = add_user("leaves", password=True)
    lambda_handler(scheduled_event(), None)
    iam.delete_login_profile(UserName="leaves")
    iam.delete_user(UserName="leaves")
    # Checked first, and without a password now: NOT_APPLICABLE is decided, but waits for a complete sweep.
    first = compliant_account[0]
    iam.delete_login_profile(UserName=first["UserName"])
    lose_mfa(iam, compliant_account[1]["UserName"])
    sent_before = len(config.sent)

    run_out_of_time_after_three_users()
    sent = config.sent[sent_before:]
    assert "NOT_APPLICABLE" not in {e["ComplianceType"] for e in sent}
    assert "NON_COMPLIANT" in {e["ComplianceType"] for e in sent}
    assert results(config)[gone["UserId"]] == "NON_COMPLIANT"
    assert results(config)[first["UserId"]] == "COMPLIANT"


def test_a_timed_out_run_raises_and_its_log_line_gives_the_counts(config, compliant_account, iam, caplog):
    lose_mfa(iam, compliant_account[0]["UserName"])
    caplog.set_level(logging.INFO, logger="console_mfa")
    error = run_out_of_time_after_three_users()
    assert str(error).startswith("Checked 3 of 5 users before the time limit; sent 3 of 3 results")
    log = rule_log(caplog)
    assert log["outcome"] == "error" and log["errorType"] == "SweepIncompleteError"
    assert (log["timedOut"], log["usersChecked"], log["users"], log["sent"]) == (True, 3, 5, 3)
    assert "Checked 3 of 5 users" in log["error"]


def test_a_timed_out_run_with_nothing_to_correct_re_sends_only_the_users_it_checked_and_still_fails(
    config, compliant_account
):
    error = run_out_of_time_after_three_users()
    assert "sent 3 of 3 results" in str(error)
    assert {e["ComplianceType"] for e in config.put_calls[-1]} == {"COMPLIANT"}


def test_successive_sweeps_out_of_time_check_every_user_between_them(config, compliant_account, iam):
    last = compliant_account[-1]
    lose_mfa(iam, last["UserName"])
    run_out_of_time_after_three_users()
    assert results(config)[last["UserId"]] == "COMPLIANT"  # not reached yet
    run_out_of_time_after_three_users()
    assert results(config)[last["UserId"]] == "NON_COMPLIANT"


def test_corrections_stop_at_the_time_left_and_the_error_says_how_many_went_out(config, add_user, caplog):
    for number in range(230):
        add_user(f"no-mfa-{number:03d}", password=True)
    caplog.set_level(logging.INFO, logger="console_mfa")
    clock = SteppedClock()
    # 280 s left: the sweep has 220 s (1 s a user), sending until 280 s less its margin. Each
    # PutEvaluations takes 30 s, so calls start at 220 s and 250 s, and none at 280 s.
    context = LambdaContext(220 + REPORTING_RESERVE_SECONDS)
    assert 0 < SENDING_MARGIN_SECONDS < 30
    with pytest.raises(SweepIncompleteError) as raised:
        lambda_handler(
            scheduled_event(),
            context,
            make_clients=clock.clients({"iam.GetLoginProfile": 1, "config.PutEvaluations": 30}),
            timer=clock,
        )
    assert str(raised.value).startswith("Checked 220 of 230 users before the time limit; sent 200 of 220 results")
    assert "AWS Config accepted 200 of 220 before the time limit" in str(raised.value)
    assert [len(batch) for batch in config.put_calls] == [100, 100]
    assert rule_log(caplog)["sent"] == 200


def test_a_complete_sweep_whose_sending_runs_out_of_time_fails_saying_so(config, add_user):
    for number in range(150):
        add_user(f"no-mfa-{number:03d}", password=True)
    clock = SteppedClock()
    with pytest.raises(DeliveryOutOfTimeError, match="AWS Config accepted 100 of 150 before the time limit"):
        lambda_handler(
            scheduled_event(),
            LambdaContext(100),
            make_clients=clock.clients({"config.PutEvaluations": 100}),
            timer=clock,
        )
    assert len(config.put_calls) == 1


def test_a_put_evaluations_call_unanswered_at_the_time_limit_is_not_waited_for(config, add_user):
    bob = add_user("bob", password=True)
    answer = threading.Event()
    config.rejects = lambda evaluation: not answer.wait(timeout=60)  # answers only when told to
    try:
        # A clock standing still leaves sending 0.2 s however long the checks take; Config does not answer in them.
        clock = SteppedClock()
        with pytest.raises(DeliveryOutOfTimeError, match="still unanswered at the time limit"):
            lambda_handler(
                change_event(bob),
                LambdaContext(SENDING_MARGIN_SECONDS + 0.2),
                make_clients=clock.clients({}),
                timer=clock,
            )
    finally:
        answer.set()
        for thread in threading.enumerate():
            if thread.name.startswith("put-evaluations"):
                thread.join()


def test_bulk_sweep_out_of_time_corrects_the_users_changed_since_the_report_first(
    config, add_user, iam, cloudtrail, monkeypatch
):
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    monkeypatch.setenv("SWEEP_STRATEGY", "bulk")
    with FrozenCredentialReport() as report:
        for number in range(2):
            add_user(f"no-password-{number}")
        for number in range(4):
            add_user(f"fido-{number}", password=True, devices=("fido",))
        cloudtrail.age_history(timedelta(days=2))
        report.generate_now()
        lambda_handler(scheduled_event(), None)
        assert set(results(config).values()) == {"COMPLIANT", "NOT_APPLICABLE"}

        lose_mfa(iam, "fido-3")
        clock = SteppedClock()
        # fido-3 is checked live (GetLoginProfile, ListMFADevices: 20 s), then one device list
        # (10 s) of the other FIDO users, the report having settled the users without a password.
        with pytest.raises(SweepIncompleteError, match="Checked 4 of 6 users before the time limit; sent 2 of 2"):
            lambda_handler(
                scheduled_event(),
                sweep_time(25),
                make_clients=clock.clients({"iam.GetLoginProfile": 10, "iam.ListMFADevices": 10}),
                timer=clock,
            )
    fido_3 = next(u for u in iam.list_users()["Users"] if u["UserName"] == "fido-3")
    assert results(config)[fido_3["UserId"]] == "NON_COMPLIANT"


def test_a_bulk_sweep_out_of_time_from_the_start_holds_only_the_users_the_report_settles(add_user, iam, cloudtrail):
    from datetime import datetime, timezone

    from console_mfa.policy import parse_rule_parameters
    from console_mfa.sweep import Deadline, sweep_account

    with FrozenCredentialReport() as report:
        add_user("no-password")
        add_user("virtual", password=True, devices=("virtual",))
        add_user("fido", password=True, devices=("fido",))  # needs its devices listed
        add_user("changed", password=True, devices=("virtual",))
        cloudtrail.age_history(timedelta(days=2))
        report.generate_now()
        iam.delete_login_profile(UserName="changed")  # needs a live check
        clients = AwsClients.from_session(boto3.Session(), "us-east-1")
        sweep = sweep_account(clients, Deadline(0), datetime.now(timezone.utc), parse_rule_parameters({}), "bulk")
    assert sweep.strategy == "bulk"
    assert sorted(user.user_name for user in sweep.users) == ["no-password", "virtual"]
    assert (sweep.checked, sweep.listed, sweep.complete) == (2, 4, False)
