"""The sweep benchmark's baseline, the straightforward sweep the rule itself no longer carries, still runs
through the rule's handler: two IAM calls per user, and the same verdicts as the rule's own sweep."""

from benchmarks import sweep


def test_the_baseline_asks_iam_twice_per_user_and_agrees_with_the_live_sweep(add_user, monkeypatch):
    monkeypatch.setenv("SWEEP_STRATEGY", "auto")  # run_strategy sets it; this puts it back after the test
    add_user("no-password")
    add_user("no-mfa", password=True)
    add_user("fido", password=True, devices=("fido",))
    baseline, baseline_verdicts = sweep.run_strategy("baseline", 0.0, measure_memory=False)
    live, live_verdicts = sweep.run_strategy("live", 0.0, measure_memory=False)
    iam_calls = {k: v for k, v in baseline.calls_by_operation.items() if k.startswith("iam:")}
    # ListUserTags: the exemption tags of the one user who would otherwise be NON_COMPLIANT, as every strategy reads.
    assert iam_calls == {"iam:ListUsers": 1, "iam:GetLoginProfile": 3, "iam:ListMFADevices": 3, "iam:ListUserTags": 1}
    assert live.calls_by_operation["iam:ListMFADevices"] == 2  # the rule's sweep skips it without a password
    assert len(baseline_verdicts) == 3
    assert baseline_verdicts == live_verdicts
