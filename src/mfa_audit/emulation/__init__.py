"""Everything that emulates AWS, for the demo, the tests and the benchmarks; live code never imports it.

* :mod:`mfa_audit.emulation.services` - the APIs moto lacks or cannot hold still (Config results,
  CloudTrail lookups, a credential report that goes stale, the Config aggregator);
* :mod:`mfa_audit.emulation.account` - IAM users in every state the rule tells apart, in moto;
* :mod:`mfa_audit.emulation.events` / :mod:`mfa_audit.emulation.iam_events` - the events Config and
  EventBridge send the Lambda functions;
* :mod:`mfa_audit.emulation.demo` / :mod:`mfa_audit.emulation.organization` - ``mfa-audit demo`` and
  ``mfa-audit report --demo``.
* :mod:`mfa_audit.emulation.walkthrough` - ``mfa-audit demo --walkthrough``: one user through enforcement,
  day by day on an emulated clock (:mod:`~mfa_audit.emulation.clock`), in an account holding the stack's
  enforcement pieces (:mod:`~mfa_audit.emulation.stack_pieces`), step by step
  (:mod:`~mfa_audit.emulation.walkthrough_path`);
* :mod:`mfa_audit.emulation.iam_policy` - what an IAM policy decides for one request (moto decides nothing).

It needs moto (the ``emulation`` extra: ``pip install ".[emulation]"``).

Example::

    from mfa_audit.emulation.demo import run_demo

    rows, parameters = run_demo()
"""
