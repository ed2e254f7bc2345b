"""mfa-audit: the demo, the exit codes and the terminal as real subprocesses, the rest in this process; audit agrees
with the Lambda."""

import contextlib
import csv
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from console_mfa.aws import AwsClients
from console_mfa.policy import parse_rule_parameters
from IAM_USER_CONSOLE_MFA import lambda_handler

from mfa_audit.emulation.account import SeedUser, create_user
from mfa_audit.emulation.events import scheduled_event
from mfa_audit.emulation.services import FrozenCredentialReport
from mfa_audit.live import audit_live_account

DEMO_EXPECTED = {
    "elise": "COMPLIANT",
    "brandon": "NON_COMPLIANT",
    "rakesh": "NOT_APPLICABLE",
    "helene": "NOT_APPLICABLE",
    "paras": "COMPLIANT",
    "anitha": "NON_COMPLIANT",
    "case-no-mfa": "NON_COMPLIANT",
    "case-virtual-mfa": "COMPLIANT",
    "case-hardware-token": "COMPLIANT",
    "case-fido-key": "COMPLIANT",
    "case-sms-only": "NON_COMPLIANT",
    "case-new-in-grace": "COMPLIANT",
    "break-glass-admin": "NOT_APPLICABLE",
    "case-no-console-password": "NOT_APPLICABLE",
    "case-exempt-by-tag": "NOT_APPLICABLE",
    "case-exemption-ended": "NON_COMPLIANT",
}


def run_cli(*args, env=None, stdin=None):
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "mfa_audit.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        input=stdin,
    )


def call_cli(*args, env=None):
    """mfa-audit in this process (mfa_audit.cli.main), with the environment run_cli gives its subprocess:
    the test's without AWS_ variables (but the tests' retry mode), plus ``env``. For all but the tests of exit
    codes, entry points and terminals, which run_cli runs as a real process."""
    from mfa_audit.cli import main
    from mfa_audit.emulation.account import environment

    unset = [name for name in os.environ if name.startswith("AWS_") and name != "AWS_RETRY_MODE"]
    stdout, stderr = io.StringIO(), io.StringIO()
    with (
        environment(env or {}, unset=[name for name in unset if name not in (env or {})]),
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
    ):
        try:
            code = main(list(args))
        except SystemExit as exit:  # argparse's usage errors and --version
            code = exit.code if isinstance(exit.code, int) else int(exit.code is not None)
    return subprocess.CompletedProcess(["mfa-audit", *args], code, stdout.getvalue(), stderr.getvalue())


def test_demo_prints_every_seeded_user_with_its_expected_result():
    completed = run_cli("demo")
    assert completed.returncode == 1, completed.stderr  # it finds NON_COMPLIANT users, as an audit would
    assert "EMULATED AWS ACCOUNT" in completed.stderr
    assert "GracePeriodDays=14" in completed.stderr
    users, _, exemptions = completed.stdout.partition("Active exemptions (1), soonest end first:")
    lines = {
        line.split()[0]: line.split()[2]
        for line in users.splitlines()
        if line.split()[:1] and line.split()[0] in DEMO_EXPECTED
    }
    assert lines == DEMO_EXPECTED
    assert "16 users: 6 COMPLIANT, 5 NON_COMPLIANT, 5 NOT_APPLICABLE" in completed.stdout
    (exemption,) = [line for line in exemptions.splitlines() if line.startswith("case-exempt-by-tag ")]
    assert "secops@example.com" in exemption and "assumed-role/emulated-admin" in exemption


def test_demo_with_exit_zero_exits_0_though_it_finds_non_compliant_users():
    completed = run_cli("demo", "--exit-zero", "--format", "json")
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["summary"]["NON_COMPLIANT"] == 5


def test_make_demo_succeeds():
    # The README's first command; its recipe is run as written, with this virtualenv, never rebuilt here.
    venv = Path(sys.prefix)
    completed = subprocess.run(
        ["make", "--no-print-directory", "-o", f"{venv}/.installed", "demo", f"VENV={venv}"],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "16 users: 6 COMPLIANT, 5 NON_COMPLIANT, 5 NOT_APPLICABLE" in completed.stdout


@pytest.mark.parametrize("command", ["demo", "audit", "report", "doctor"])
def test_version_is_printed_by_every_subcommand(command):
    completed = run_cli(command, "--version")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("mfa-audit ")


def test_audit_with_exit_zero_exits_0_and_still_lists_the_non_compliant_user(tmp_path):
    path = tmp_path / "report.csv"
    path.write_text(REPORT_CSV)
    completed = run_cli("audit", "--credential-report", str(path), "--exit-zero", "--format", "json")
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["summary"]["NON_COMPLIANT"] == 300


def test_demo_json_follows_the_documented_schema():
    completed = call_cli("demo", "--format", "json")
    document = json.loads(completed.stdout)
    assert document["schema"] == "mfa-audit/v1"
    assert document["source"] == "emulated-account"
    assert set(document) == {"schema", "source", "parameters", "limitations", "summary", "users", "exemptions"}
    assert {user["user_name"]: user["result"] for user in document["users"]} == DEMO_EXPECTED
    (exemption,) = document["exemptions"]
    assert set(exemption) == {"user_name", "account_id", "until", "owner", "reason", "set_by"}
    assert (exemption["user_name"], exemption["owner"]) == ("case-exempt-by-tag", "secops@example.com")
    assert all(user["user_id"].startswith("AIDA") for user in document["users"])
    assert set(document["users"][0]) == {
        "user_name",
        "user_id",
        "arn",
        "result",
        "reason",
        "annotation",
        "facts_record",
    }


CASES = [
    SeedUser("no-password"),
    SeedUser("virtual", True, ("virtual",)),
    SeedUser("hardware", True, ("hardware",)),
    SeedUser("fido", True, ("fido",)),
    SeedUser("sms-only", True, ("sms",)),
    SeedUser("no-mfa", True),
    SeedUser("in-grace", True, (), 1),
    SeedUser("exempt", True),
]
PARAMETERS = {"GracePeriodDays": "5", "ExemptUsers": "exempt"}


@pytest.mark.parametrize("allowed", [None, "fido"])
def test_audit_gives_the_lambdas_verdict_for_every_case(config, iam, allowed):
    parameters = dict(PARAMETERS, **({"AllowedMfaTypes": allowed} if allowed else {}))
    for seed in CASES:
        create_user(iam, seed)
    lambda_handler(scheduled_event(parameters), None)
    from_lambda = {e["ComplianceResourceId"]: (e["ComplianceType"], e["Annotation"]) for e in config.sent}

    rows, _ = audit_live_account(parse_rule_parameters(parameters), clients=AwsClients.from_session(boto3.Session()))
    from_audit = {row.user_id: (row.result.value, row.annotation) for row in rows}
    assert from_audit == from_lambda
    assert len(from_audit) == len(CASES)


def test_audit_names_the_unavailable_bulk_sources_as_a_limitation(add_user, monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    bob = add_user("bob", password=True)
    with FrozenCredentialReport(generation_polls=10_000):
        rows, limitations = audit_live_account(
            parse_rule_parameters({}), clients=AwsClients.from_session(boto3.Session()), strategy="bulk"
        )
    assert [(row.user_id, row.result.value) for row in rows] == [(bob["UserId"], "NON_COMPLIANT")]
    (limitation,) = limitations
    assert limitation.startswith("bulk sources unavailable: the credential report was not ready")
    assert "every user was checked live instead" in limitation


def test_audit_with_the_bulk_sources_has_no_limitation(add_user):
    add_user("bob", password=True)
    with FrozenCredentialReport():
        _, limitations = audit_live_account(
            parse_rule_parameters({}), clients=AwsClients.from_session(boto3.Session()), strategy="bulk"
        )
    assert limitations == []


def test_audit_exits_0_when_nothing_is_non_compliant(moto_server):
    iam, env = moto_server
    iam.create_user(UserName="alice")
    iam.create_login_profile(UserName="alice", Password="Emulated-Passw0rd!")
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName="alice")["VirtualMFADevice"]["SerialNumber"]
    iam.enable_mfa_device(
        UserName="alice", SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
    )
    completed = run_cli("audit", env=env)
    assert completed.returncode == 0, completed.stderr
    assert "1 users: 1 COMPLIANT" in completed.stdout


def test_audit_exits_1_when_a_user_is_non_compliant(moto_server):
    iam, env = moto_server
    iam.create_user(UserName="bob")
    iam.create_login_profile(UserName="bob", Password="Emulated-Passw0rd!")
    completed = run_cli("audit", "--format", "csv", env=env)
    assert completed.returncode == 1, completed.stderr
    assert completed.stdout.splitlines()[0] == (
        "user_name,user_id,arn,result,reason,annotation,facts_record,"
        "exempt_until,exempt_owner,exempt_reason,exempt_set_by"
    )
    assert ",NON_COMPLIANT,no_allowed_mfa," in completed.stdout


def test_audit_grace_flag_is_the_rule_parameter(moto_server):
    iam, env = moto_server
    iam.create_user(UserName="bob")
    iam.create_login_profile(UserName="bob", Password="Emulated-Passw0rd!")
    completed = run_cli("audit", "--grace-period-days", "30", "--format", "json", env=env)
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["users"][0]["reason"] == "grace_period"


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--grace-period-days", "-1"], "GracePeriodDays"),
        (["--allowed-mfa-types", "sms"], "AllowedMfaTypes"),
        (["--exempt-users", "a,,b"], "ExemptUsers"),
    ],
)
def test_audit_bad_flag_exits_2_naming_the_parameter(flags, message):
    completed = run_cli("audit", *flags)
    assert completed.returncode == 2
    assert message in completed.stderr
    assert "Traceback" not in completed.stderr
    assert completed.stdout == ""


def test_audit_without_credentials_exits_2_saying_what_to_do(tmp_path):
    completed = run_cli(
        "audit",
        env={
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        },
    )
    assert completed.returncode == 2
    assert "no AWS credentials found" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_audit_with_unknown_profile_exits_2(tmp_path):
    completed = run_cli("audit", "--profile", "no-such-profile", env={"AWS_CONFIG_FILE": os.devnull})
    assert completed.returncode == 2
    assert "no-such-profile" in completed.stderr


def test_audit_access_denied_exits_2_naming_the_action(monkeypatch, config, add_user):
    from mfa_audit import cli

    from .faults import iam_error

    add_user("bob", password=True)
    with iam_error("ListUsers", "AccessDenied", times=100, status=403):
        code = cli.main(["audit"])
    assert code == 2


# mfa-audit with its progress threshold (mfa_audit.cli.audit.PROGRESS_THRESHOLD) set by the first argument.
WITH_THRESHOLD = (
    "import sys; from mfa_audit.cli import audit, main; audit.PROGRESS_THRESHOLD = int(sys.argv[1]); "
    "sys.exit(main(sys.argv[2:]))"
)


# Small: 5 users over a threshold of 3. Benchmark-sized (make bench): 305 users over the real threshold, 300.
@pytest.mark.parametrize(("users", "threshold"), [(5, 3), pytest.param(305, 300, marks=pytest.mark.bench)])
def test_audit_of_more_users_than_the_threshold_shows_progress_only_when_stderr_is_a_terminal(
    moto_server, users, threshold
):
    import fcntl
    import pty
    import struct
    import termios

    from mfa_audit.cli.audit import PROGRESS_THRESHOLD

    assert threshold in (3, PROGRESS_THRESHOLD)
    iam, env = moto_server
    for number in range(users):
        iam.create_user(UserName=f"user{number:03d}")
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    environment.update(env)
    command = [sys.executable, "-c", WITH_THRESHOLD, str(threshold), "audit", "--format", "json"]
    piped = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300)
    assert piped.returncode == 0, piped.stderr
    assert "checking users" not in piped.stderr  # no progress frames in a captured stream
    assert json.loads(piped.stdout)["summary"]["NOT_APPLICABLE"] == users

    controller, terminal = pty.openpty()
    # A terminal of 24 x 120 (a new pseudo-terminal is 0 x 0, and tqdm draws nothing in 0 columns).
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    completed = subprocess.run(command, stdout=subprocess.PIPE, stderr=terminal, env=environment, timeout=300)
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    assert completed.returncode == 0
    assert b"checking users" in shown
    assert json.loads(completed.stdout)["summary"]["NOT_APPLICABLE"] == users


# --- conventions a pipeline relies on (offline, from a credential report) ---

REPORT_CSV = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,"
    "mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,"
    "access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,"
    "cert_2_last_rotated\n"
    "<root_account>,arn:aws:iam::123456789012:root,2024-01-01T00:00:00+00:00,not_supported,N/A,N/A,not_supported,"
    "true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
    + "".join(
        f"{name},arn:aws:iam::123456789012:user/{name},2024-01-01T00:00:00+00:00,{password},N/A,N/A,N/A,{mfa},"
        "false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
        for number in range(300)
        # A hostile name (a spreadsheet formula) without MFA, a user with MFA, one without a password.
        for name, password, mfa in [
            (f"=1+{number}", "true", "false"),
            (f"alice{number}", "true", "true"),
            (f"carol{number}", "false", "false"),
        ]
    )
)


@pytest.fixture
def report_file(tmp_path):
    path = tmp_path / "report.csv"
    path.write_text(REPORT_CSV)
    return path


def test_version_is_printed():
    completed = run_cli("--version")
    assert completed.returncode == 0 and completed.stdout.startswith("mfa-audit ")


def test_output_writes_the_file_and_nothing_to_stdout(report_file, tmp_path):
    target = tmp_path / "out.json"
    completed = call_cli("audit", "--credential-report", str(report_file), "--format", "json", "--output", str(target))
    assert completed.returncode == 1
    assert completed.stdout == ""
    assert json.loads(target.read_text())["summary"]["NON_COMPLIANT"] == 300


def test_only_failed_lists_only_non_compliant_users_but_counts_everyone(report_file):
    completed = call_cli("audit", "--credential-report", str(report_file), "--format", "json", "--only-failed")
    document = json.loads(completed.stdout)
    assert {u["result"] for u in document["users"]} == {"NON_COMPLIANT"}
    assert document["summary"] == {"COMPLIANT": 300, "NON_COMPLIANT": 300, "NOT_APPLICABLE": 300}


def test_quiet_leaves_only_errors_on_stderr(report_file):
    noisy = call_cli("audit", "--credential-report", str(report_file))
    quiet = call_cli("audit", "--credential-report", str(report_file), "--quiet")
    assert "note:" in noisy.stderr and quiet.stderr == ""
    assert quiet.stdout == noisy.stdout


def test_csv_output_of_a_hostile_user_name_is_safe_in_a_spreadsheet(report_file):
    completed = call_cli("audit", "--credential-report", str(report_file), "--format", "csv", "--only-failed")
    first_cells = [line.split(",")[0] for line in completed.stdout.splitlines()[1:]]
    assert len(first_cells) == 300 and all(cell.startswith("'=1+") for cell in first_cells)


def test_a_closed_pipe_ends_quietly(report_file):
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "mfa_audit.cli", "audit", "--credential-report", str(report_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
    )
    process.stdout.readline()  # like `| head -1`
    process.stdout.close()
    stderr = process.stderr.read().decode()
    process.wait(timeout=60)
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr


def test_a_write_error_is_one_line_and_exit_code_2(report_file):
    if not Path("/dev/full").exists():
        pytest.fail("/dev/full is missing; this Linux check needs it")
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    with open("/dev/full", "w") as full:
        completed = subprocess.run(
            [sys.executable, "-m", "mfa_audit.cli", "audit", "--credential-report", str(report_file)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
            timeout=60,
        )
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines()[-1].startswith("mfa-audit: error: cannot write the output")
    assert "Traceback" not in completed.stderr


# --- a server that is not AWS (a proxy, a wrong AWS_ENDPOINT_URL) answers with an HTML page ---

PROXY_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>403 Forbidden</title></head>\n<body><h1>Forbidden</h1>"
    + b"<p>Blocked by the corporate proxy.</p>" * 100
    + b"</body></html>"
)


@pytest.fixture
def html_server():
    """A local web server answering every request with PROXY_PAGE; yields a function setting its status code."""
    import http.server
    import threading

    status = {"code": 403}

    class Page(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            self.send_response(status["code"])
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(PROXY_PAGE)))
            self.end_headers()
            self.wfile.write(PROXY_PAGE)

        do_GET = do_POST

        def log_message(self, *_):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.server_address[1]}",
    }

    def answering(code):
        status["code"] = code
        return env

    yield answering
    server.shutdown()


def test_an_html_error_page_is_named_in_one_line_not_pasted(html_server):
    completed = call_cli("report", "--aggregator", "organization", env=html_server(403))
    assert completed.returncode == 2
    (line,) = completed.stderr.splitlines()
    assert line.startswith("mfa-audit: error: config:")
    assert "an HTML page titled '403 Forbidden', not an answer from AWS" in line
    assert "<html" not in line.lower() and "corporate proxy" not in line


@pytest.mark.parametrize("command", [["audit"], ["doctor"]])
def test_an_html_page_answered_with_200_is_an_error_exit_2_not_a_traceback(html_server, command):
    # botocore fails to find its result in the page and raises KeyError; Python's exit code would be 1,
    # which means NON_COMPLIANT.
    completed = run_cli(*command, env=html_server(200))
    assert completed.returncode == 2
    (line,) = completed.stderr.splitlines()
    assert line.startswith("mfa-audit: error: unexpected KeyError") and "Traceback" not in completed.stderr


# --- one user order for every format ---


@pytest.mark.parametrize("output_format", ["table", "json", "csv", "asff", "ocsf", "junit"])
def test_every_format_lists_the_users_in_one_order(tmp_path, output_format):
    from .test_credential_report import HEADER, row

    path = tmp_path / "report.csv"
    # Creation order differs from name order; names differ in case.
    names = ["carol", "Bob", "alice", "dave"]
    path.write_text("\n".join([HEADER, row("<root_account>", "", "true"), *(row(n, "true", "false") for n in names)]))
    completed = call_cli("audit", "--credential-report", str(path), "--format", output_format, "--quiet")
    assert completed.returncode == 1, completed.stderr
    # The table names users at the start of a line; every other format holds each user's ARN.
    text = "\n" + completed.stdout
    listed = sorted(names, key=lambda name: text.index(f"\n{name} " if output_format == "table" else f"user/{name}"))
    assert listed == ["alice", "Bob", "carol", "dave"]


# --- audit --plan-enforcement (offline, from a credential report) ---


def _report_with_one_user_past_grace_and_one_in_grace(tmp_path):
    from datetime import datetime, timedelta, timezone

    from tests.credential_report_text import HEADER, console_user_without_mfa

    created_two_days_ago = (datetime.now(timezone.utc) - timedelta(days=2)).isoformat(timespec="seconds")
    newcomer = console_user_without_mfa("newcomer").replace("2024-01-01T00:00:00+00:00", created_two_days_ago)
    path = tmp_path / "report.csv"
    path.write_text(HEADER + console_user_without_mfa("overdue") + newcomer)
    return path


def test_plan_enforcement_lists_the_overdue_user_now_and_the_newcomer_at_the_end_of_grace(tmp_path):
    path = _report_with_one_user_past_grace_and_one_in_grace(tmp_path)
    completed = call_cli(
        "audit", "--plan-enforcement", "--credential-report", str(path), "--grace-period-days", "7", "--format", "json",
        "--enforcement-started", "2024-01-01",
    )  # fmt: skip
    assert completed.returncode == 1, completed.stderr  # someone would be enforced now
    document = json.loads(completed.stdout)
    assert document["parameters"]["Enforcement"] == "manual"  # the plan's default
    by_name = {user["user_name"]: user for user in document["users"]}
    assert by_name["overdue"]["action"] == "enforce_now"
    assert by_name["newcomer"]["action"] == "in_grace"
    assert by_name["newcomer"]["enforcement_starts"][:10] > document["generated"][:10]


def test_plan_enforcement_with_enforcement_off_enforces_nobody_and_exits_zero(tmp_path):
    path = _report_with_one_user_past_grace_and_one_in_grace(tmp_path)
    completed = call_cli(
        "audit", "--plan-enforcement", "--credential-report", str(path), "--grace-period-days", "7",
        "--enforcement", "off",
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert "overdue" not in completed.stdout
    assert "newcomer  never (Enforcement off)" in completed.stdout


def test_plan_enforcement_table_says_who_is_enforced_now(tmp_path):
    path = _report_with_one_user_past_grace_and_one_in_grace(tmp_path)
    completed = call_cli(
        "audit", "--plan-enforcement", "--credential-report", str(path), "--grace-period-days", "7",
        "--enforcement-started", "2024-01-01",
    )  # fmt: skip
    assert completed.returncode == 1, completed.stderr
    assert "overdue   now" in completed.stdout
    assert "1 enforced now, 1 in grace (Enforcement=manual)" in completed.stdout


def test_plan_enforcement_turned_on_now_gives_the_overdue_user_14_days(tmp_path):
    from datetime import datetime, timedelta, timezone

    path = _report_with_one_user_past_grace_and_one_in_grace(tmp_path)
    arguments = ["--plan-enforcement", "--credential-report", str(path), "--grace-period-days", "7", "--format", "json"]
    completed = run_cli("audit", *arguments)
    assert completed.returncode == 0, completed.stderr  # nobody is enforced on the day enforcement starts
    overdue = next(user for user in json.loads(completed.stdout)["users"] if user["user_name"] == "overdue")
    assert overdue["action"] == "in_grace"
    assert overdue["enforcement_starts"][:10] == f"{datetime.now(timezone.utc) + timedelta(days=14):%Y-%m-%d}"


def test_plan_enforcement_refuses_a_format_it_cannot_render_by_name(tmp_path):
    path = _report_with_one_user_past_grace_and_one_in_grace(tmp_path)
    completed = call_cli("audit", "--plan-enforcement", "--credential-report", str(path), "--format", "csv")
    assert completed.returncode == 2
    assert "'csv' cannot render the enforcement plan" in completed.stderr


# --- the annotation as people read it; the facts record apart, for machines ---


def test_json_gives_the_annotation_without_the_facts_record_and_the_record_in_its_own_field(report_file):
    completed = call_cli("audit", "--credential-report", str(report_file), "--format", "json", "--only-failed")
    user = json.loads(completed.stdout)["users"][0]
    assert user["annotation"].endswith("delete its console password.")
    assert re.fullmatch(r"\[v1 pw=\d+ mfa=-\]", user["facts_record"])


def test_csv_gives_the_annotation_without_the_facts_record_and_the_record_in_its_own_column(report_file):
    completed = call_cli("audit", "--credential-report", str(report_file), "--format", "csv", "--only-failed")
    header, first, *_ = csv.reader(io.StringIO(completed.stdout, newline=""))
    row = dict(zip(header, first, strict=True))
    assert header[-6:-4] == ["annotation", "facts_record"]  # then the exemption's columns
    assert row["annotation"].endswith("delete its console password.")
    assert re.fullmatch(r"\[v1 pw=\d+ mfa=-\]", row["facts_record"])


def test_the_table_shows_no_facts_record(report_file):
    completed = call_cli("audit", "--credential-report", str(report_file), "--quiet")
    assert "delete its console password." in completed.stdout
    assert "[v1" not in completed.stdout


# --- flags that would change nothing are refused, naming the flag ---


def test_doctor_refuses_a_flag_it_does_not_take_with_its_own_usage(capsys):
    from mfa_audit import cli

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["doctor", "--format", "json"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("usage: mfa-audit doctor ")
    assert "mfa-audit doctor: error: unrecognized arguments: --format json" in error


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--format", "json"], "--format does not apply to it"),
        (["--format", "json", "--only-failed"], "--format and --only-failed do not apply to it"),
    ],
)
def test_the_walkthrough_refuses_result_flags_in_a_sentence(flags, message, capsys):
    from mfa_audit import cli

    assert cli.main(["demo", "--walkthrough", *flags]) == 2
    assert f"demo --walkthrough prints text only; {message}" in capsys.readouterr().err


@pytest.mark.parametrize("output_format", ["table", "json", "csv", "junit"])
def test_region_with_a_credential_report_is_refused_where_it_would_change_nothing(report_file, output_format, capsys):
    from mfa_audit import cli

    arguments = ["audit", "--credential-report", str(report_file), "--region", "eu-west-1", "--format", output_format]
    assert cli.main(arguments) == 2
    assert (
        f"--region does nothing here: an audit of a credential report calls no AWS endpoint and --format {output_format}"
        in capsys.readouterr().err
    )


def test_region_with_a_credential_report_names_the_region_of_the_findings(report_file):
    completed = call_cli(
        "audit", "--credential-report", str(report_file), "--region", "eu-west-1", "--format", "asff", "--only-failed"
    )
    assert completed.returncode == 1, completed.stderr
    assert {finding["Resources"][0]["Region"] for finding in json.loads(completed.stdout)} == {"eu-west-1"}


def test_region_with_a_credential_report_and_plan_enforcement_is_refused(tmp_path, capsys):
    from mfa_audit import cli

    path = _report_with_one_user_past_grace_and_one_in_grace(tmp_path)
    arguments = ["audit", "--plan-enforcement", "--credential-report", str(path), "--region", "eu-west-1"]
    assert cli.main(arguments) == 2
    assert "--plan-enforcement names no Region" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("mode", "said"),
    [("automatic", "MFA is enforced from then (ForceMfa group)."), ("manual", "From then an operator may enforce MFA")],
)
def test_enforcement_with_a_credential_report_says_when_enforcement_starts_for_a_user_in_grace(tmp_path, mode, said):
    path = _report_with_one_user_past_grace_and_one_in_grace(tmp_path)
    arguments = ["--credential-report", str(path), "--grace-period-days", "7", "--format", "json"]
    document = json.loads(call_cli("audit", *arguments, "--enforcement", mode).stdout)
    newcomer = next(user for user in document["users"] if user["user_name"] == "newcomer")
    assert said in newcomer["annotation"]
    assert document["parameters"]["Enforcement"] == mode


def test_plan_enforcement_says_why_in_the_annotations_words_without_the_facts_record(tmp_path):
    path = _report_with_one_user_past_grace_and_one_in_grace(tmp_path)
    arguments = ["--plan-enforcement", "--credential-report", str(path), "--grace-period-days", "7", "--format", "json"]
    document = json.loads(call_cli("audit", *arguments).stdout)
    newcomer = next(user for user in document["users"] if user["user_name"] == "newcomer")
    assert newcomer["why"].startswith("Console password, no allowed MFA")
    assert "[v1" not in newcomer["why"]
