"""The benchmarks print one table each: every row once, under one header, whatever the number of sizes."""

import sys

import pytest

from benchmarks import cost, sweep


def _run(strategy: str, size: int) -> sweep.Run:
    return sweep.Run(
        size=size,
        strategy=strategy,
        wall_seconds=1.0,
        api_calls=10,
        calls_by_operation={"iam:ListUsers": 1},
        put_evaluations_calls=1,
        max_evaluations_per_put=size,
        ratios={"api_calls": 1.0, "wall_time": 1.0, "speedup": 1.0},
    )


def _day(size: int) -> cost.DayOfSweeps:
    checks = [cost.TruthCheck()] * 24
    return cost.DayOfSweeps(size, 1, [1] * 24, [{"iam:ListUsers": 1}] * 24, size, {"iam:ListUsers": 1}, checks)


def _main(module, monkeypatch, tmp_path, sizes: str) -> None:
    monkeypatch.setattr(sys, "argv", ["benchmark", "--sizes", sizes, "--output", str(tmp_path / "out.json")])
    module.main()


@pytest.mark.parametrize("sizes", ["500", "500,2000"])
def test_the_sweep_benchmark_prints_its_header_and_each_row_once(monkeypatch, tmp_path, capsys, sizes):
    monkeypatch.setattr(sweep, "use_emulated_account", lambda: None)
    monkeypatch.setattr(sweep, "benchmark_size", lambda size, *_: [_run(s, size) for s in sweep.STRATEGIES])
    _main(sweep, monkeypatch, tmp_path, sizes)
    out = capsys.readouterr().out
    header = sweep.table([]).splitlines()[0]
    assert out.count(header) == 1
    for size in sizes.split(","):
        for row in sweep.table([_run(s, int(size)) for s in sweep.STRATEGIES], header=False).splitlines():
            assert out.count(row) == 1, row


@pytest.mark.parametrize("sizes", ["500", "500,2000"])
def test_the_cost_benchmark_prints_its_header_and_each_row_once(monkeypatch, tmp_path, capsys, sizes):
    monkeypatch.setattr(cost, "use_emulated_account", lambda: None)
    monkeypatch.setattr(cost, "simulate_day", lambda size, *_: _day(size))
    _main(cost, monkeypatch, tmp_path, sizes)
    out = capsys.readouterr().out
    header = cost.table([]).splitlines()[0]
    assert out.count(header) == 1
    for size in sizes.split(","):
        (row,) = cost.table([_day(int(size))], header=False).splitlines()
        assert out.count(row) == 1, row


def test_benchmark_progress_goes_to_stderr_not_into_the_table(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(sweep, "use_emulated_account", lambda: None)
    monkeypatch.setattr(sweep, "benchmark_size", lambda size, *_: [_run(s, size) for s in sweep.STRATEGIES])
    _main(sweep, monkeypatch, tmp_path, "500")
    captured = capsys.readouterr()
    assert "benchmarking 500 users" in captured.err
    assert "benchmarking" not in captured.out
