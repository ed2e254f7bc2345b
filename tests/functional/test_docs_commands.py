"""Every command the README and docs/*.md show works as written.

Each fenced ``sh`` or ``console`` block is read (in a ``console`` block, the lines after ``$ ``). What can
run without AWS is run, in a scratch folder that sees this virtualenv as ``.venv`` and the repository's
``docs/``: ``mfa-audit demo``, ``report --demo``, ``audit --credential-report <a file in the repo>`` and
``make help``. A ``console`` block's shown output must appear in what the command printed. Everything
else is checked without running it: each ``mfa-audit`` flag is in that subcommand's ``--help``, each make
target and variable is in the Makefile, each ``aws`` command names an operation (or waiter, or the CLI's
own s3/logs commands) and parameters that botocore's service model knows, each pip extra is in
pyproject.toml. A block marked ``<!-- docs-test: skip (reason) -->`` is left alone, and counted.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import botocore.session

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
import pytest
from botocore import xform_name

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(
    r"(?P<mark><!-- docs-test: skip \((?P<why>[^)]+)\) -->\s*\n)?"
    r"^(?P<indent>[ \t]*)```(?P<lang>sh|console)\n(?P<body>.*?)^(?P=indent)```",
    re.MULTILINE | re.DOTALL,
)
# The AWS CLI's options that are not the operation's parameters.
AWS_GLOBAL_OPTIONS = {"--region", "--profile", "--output", "--query", "--no-cli-pager", "--endpoint-url"}
# The AWS CLI's own commands, which are not API operations (aws s3 ..., aws logs tail).
AWS_CLI_COMMANDS = {("s3", "mb"), ("s3", "rm"), ("s3", "cp"), ("s3", "ls"), ("logs", "tail")}
# Options the AWS CLI adds to an operation (awscli/customizations/configservice/putconfigurationrecorder.py).
AWS_CLI_OPTIONS = {("configservice", "put-configuration-recorder"): {"--recording-group"}}
AWS_SERVICE_NAMES = {"configservice": "config", "s3api": "s3"}
SHELL_TOOLS = {"base64", "cut", "head", "jq"}


@dataclass(frozen=True)
class Command:
    words: tuple[str, ...]
    shown_output: tuple[str, ...]  # what a console block shows after the command


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    skip_reason: str | None
    commands: tuple[Command, ...]

    @property
    def name(self) -> str:
        return f"{self.page}:{self.line}"


def _logical_lines(body: str) -> list[str]:
    """Lines with their backslash continuations joined."""
    return body.replace("\\\n", " ").splitlines()


def _commands(lang: str, body: str) -> tuple[Command, ...]:
    found: list[Command] = []
    if lang == "sh":
        for line in _logical_lines(body):
            words = tuple(shlex.split(line, comments=True))
            if words:
                found.append(Command(words, ()))
        return tuple(found)
    for line in _logical_lines(body):
        if line.startswith("$ "):
            found.append(Command(tuple(shlex.split(line[2:], comments=True)), ()))
        elif found and line.strip():
            found[-1] = Command(found[-1].words, (*found[-1].shown_output, line.strip()))
    return tuple(found)


def blocks() -> list[Block]:
    found = []
    for page in PAGES:
        text = page.read_text()
        for match in FENCE.finditer(text):
            body = "\n".join(line.removeprefix(match["indent"]) for line in match["body"].splitlines())
            found.append(
                Block(
                    page=str(page.relative_to(ROOT)),
                    line=text.count("\n", 0, match.start("indent")) + 1,
                    skip_reason=match["why"],
                    commands=_commands(match["lang"], body),
                )
            )
    return found


def _segments(words: tuple[str, ...]) -> list[list[str]]:
    """A command line's simple commands: split at pipes and `&&`, without redirections."""
    segments: list[list[str]] = [[]]
    skip_next = False
    for word in words:
        if skip_next:
            skip_next = False
        elif word in ("|", "&&", ";"):
            segments.append([])
        elif word in (">", ">>", "<"):
            skip_next = True
        else:
            segments[-1].append(word)
    return [segment for segment in segments if segment]


def _is_mfa_audit(program: str) -> bool:
    return program == "mfa-audit" or program.endswith("/mfa-audit")


def runs_offline(command: Command) -> bool:
    """Whether the command needs no AWS account, so the test runs it as written."""
    segments = _segments(command.words)
    if len(segments) != 1:
        return False
    program, *arguments = segments[0]
    if program == "make":
        return arguments == ["help"]
    if not _is_mfa_audit(program) or not arguments:
        return False
    if arguments[0] == "demo":
        return True
    if arguments[0] == "report":
        return "--demo" in arguments
    if arguments[0] == "audit" and "--credential-report" in arguments:
        return (ROOT / arguments[arguments.index("--credential-report") + 1]).is_file()
    return False


# --- checks for what cannot run here ---------------------------------------------------------------


@cache
def _mfa_audit_help(subcommand: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-m", "mfa_audit.cli", subcommand, "--help"], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, f"mfa-audit {subcommand} --help: {completed.stderr}"
    return completed.stdout


def check_mfa_audit(arguments: list[str]) -> None:
    subcommand, *rest = arguments
    usage = _mfa_audit_help(subcommand)
    for flag in (word.split("=", 1)[0] for word in rest if word.startswith("--")):
        assert re.search(rf"{re.escape(flag)}\b", usage), f"mfa-audit {subcommand} has no flag {flag}"


@cache
def _makefile() -> str:
    return (ROOT / "Makefile").read_text()


def check_make(arguments: list[str]) -> None:
    targets = [word for word in arguments if "=" not in word and not word.startswith("-")]
    assert targets, "make without a target"
    for target in targets:
        assert re.search(rf"^{re.escape(target)}( [\w -]+)?:", _makefile(), re.MULTILINE), f"no make target {target}"
    for variable in (word.split("=", 1)[0] for word in arguments if "=" in word):
        assert f"$({variable})" in _makefile() or f"$(value {variable})" in _makefile(), f"make ignores {variable}"


@cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


def check_aws(arguments: list[str]) -> None:
    service_cli, command, *rest = arguments
    if (service_cli, command) in AWS_CLI_COMMANDS:
        return
    service = AWS_SERVICE_NAMES.get(service_cli, service_cli)
    model = _session().get_service_model(service)
    if command == "wait":
        waiters = _session().get_waiter_model(service)
        by_cli_name = {xform_name(name, "-"): name for name in waiters.waiter_names}
        assert rest[0] in by_cli_name, f"aws {service_cli} wait has no waiter {rest[0]}"
        operation = model.operation_model(waiters.get_waiter(by_cli_name[rest[0]]).operation)
        rest = rest[1:]
    else:
        by_cli_name = {xform_name(name, "-"): name for name in model.operation_names}
        assert command in by_cli_name, f"aws {service_cli} has no operation {command}"
        operation = model.operation_model(by_cli_name[command])
    members = operation.input_shape.members if operation.input_shape else {}
    known = {f"--{xform_name(name, '-')}" for name in members}
    known |= {f"--no-{xform_name(name, '-')}" for name, shape in members.items() if shape.type_name == "boolean"}
    for option in (word for word in rest if word.startswith("--")):
        extra = AWS_CLI_OPTIONS.get((service_cli, command), set())
        assert option in known | extra | AWS_GLOBAL_OPTIONS, f"aws {service_cli} {command} has no parameter {option}"


def check_pip(arguments: list[str]) -> None:
    assert arguments[0] == "install", arguments
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for requirement in arguments[1:]:
        for extra in re.findall(r"\[([^\]]+)\]", requirement):
            missing = set(extra.split(",")) - set(extras)
            assert not missing, f"pyproject.toml has no extra {sorted(missing)}"


def check_without_running(command: Command) -> None:
    for program, *arguments in _segments(command.words):
        if _is_mfa_audit(program):
            check_mfa_audit(arguments)
        elif program == "make":
            check_make(arguments)
        elif program == "aws":
            check_aws(arguments)
        elif program == "pip":
            check_pip(arguments)
        elif program not in SHELL_TOOLS:
            pytest.fail(f"no way to check {program!r}; mark the block <!-- docs-test: skip (why) -->")


# --- running what can run ----------------------------------------------------------------------------


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """A folder where `.venv` is this virtualenv and `docs/` the repository's, so files land in tmp_path."""
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    (tmp_path / "docs").symlink_to(ROOT / "docs")
    return tmp_path


def run_as_written(command: Command, cwd: Path) -> None:
    program, *arguments = command.words
    if program == "make":
        venv = Path(sys.prefix)
        argv = ["make", "--no-print-directory", "-C", str(ROOT), "-o", f"{venv}/.installed", f"VENV={venv}", *arguments]
    else:
        argv = list(command.words)
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    completed = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300, env=environment)
    allowed = (0, 1) if _is_mfa_audit(program) else (0,)  # mfa-audit's 1 is "found a NON_COMPLIANT user"
    assert completed.returncode in allowed, (
        f"{shlex.join(command.words)}: exit {completed.returncode}\n{completed.stderr}"
    )
    printed = " ".join((completed.stdout + completed.stderr).split())
    for line in command.shown_output:
        assert " ".join(line.split()) in printed, f"{shlex.join(command.words)} did not print: {line}"


BLOCKS = blocks()


@pytest.mark.parametrize("block", [b for b in BLOCKS if not b.skip_reason], ids=lambda b: b.name)
def test_each_shown_command_runs_or_names_what_exists(block: Block, scratch: Path):
    for command in block.commands:
        if runs_offline(command):
            run_as_written(command, scratch)
        else:
            check_without_running(command)


def test_the_docs_show_commands_and_say_how_many_ran(capsys):
    ran = [b for b in BLOCKS if not b.skip_reason and any(runs_offline(c) for c in b.commands)]
    checked = [b for b in BLOCKS if not b.skip_reason and b not in ran]
    skipped = [b for b in BLOCKS if b.skip_reason]
    with capsys.disabled():
        print(
            f"\ndocs commands: {len(BLOCKS)} blocks in {len(PAGES)} pages; {len(ran)} ran (at least one command "
            f"each, the rest checked), {len(checked)} only checked, {len(skipped)} skipped: "
            + "; ".join(f"{b.name} ({b.skip_reason})" for b in skipped)
        )
    assert any(c.words[:2] == ("make", "demo") for b in BLOCKS if b.page == "README.md" for c in b.commands)
    assert len(ran) >= 4 and all(b.skip_reason for b in skipped)


def test_a_wrong_flag_an_unknown_operation_and_a_missing_target_are_caught():
    with pytest.raises(AssertionError, match="no flag --no-such-flag"):
        check_mfa_audit(["audit", "--no-such-flag"])
    with pytest.raises(AssertionError, match="no operation start-remediation"):
        check_aws(["configservice", "start-remediation", "--config-rule-name", "x"])
    with pytest.raises(AssertionError, match="no parameter --resource-key"):
        check_aws(["configservice", "start-remediation-execution", "--resource-key", "x"])
    with pytest.raises(AssertionError, match="no make target deploy-everything"):
        check_make(["deploy-everything"])


def test_every_file_a_shown_command_writes_in_the_checkout_is_ignored_by_git():
    written = {
        command.words[index + 1]
        for block in BLOCKS
        for command in block.commands
        for index, word in enumerate(command.words[:-1])
        if word == "--output" and command.words[0] != "aws" and not command.words[index + 1].startswith("/")
    }
    assert {"demo.html", "demo.json"} <= written
    ignored = subprocess.run(["git", "check-ignore", *sorted(written)], cwd=ROOT, capture_output=True, text=True)
    assert set(ignored.stdout.split()) == written
