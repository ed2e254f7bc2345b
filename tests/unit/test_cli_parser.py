"""The command line: one parser per subcommand, each bound to its run(); argparse refuses what cannot go together."""

import pytest

from mfa_audit import cli


@pytest.mark.parametrize("live_flag", [["--profile", "prod"], ["--role-arn", "arn:aws:iam::111122223333:role/r"]])
def test_a_credential_report_with_a_live_flag_is_refused_by_argparse(live_flag, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["audit", "--credential-report", "report.csv", *live_flag])
    assert exit_info.value.code == 2
    assert f"argument {live_flag[0]}: not allowed with argument --credential-report" in capsys.readouterr().err


def test_a_profile_and_a_role_go_together():
    args = cli.parser().parse_args(["audit", "--profile", "prod", "--role-arn", "arn:aws:iam::111122223333:role/r"])
    assert (args.profile, args.role_arn, args.credential_report) == ("prod", "arn:aws:iam::111122223333:role/r", None)


def test_no_subcommand_is_an_error_not_an_audit(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([])
    assert exit_info.value.code == 2
    assert "required: command" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["demo", "audit", "report", "doctor"])
def test_each_subcommand_is_bound_to_the_run_of_its_own_module(command):
    arguments = {"report": ["report", "--demo"]}.get(command, [command])
    run = cli.parser().parse_args(arguments).run
    assert run.__module__ == f"mfa_audit.cli.{command}"
