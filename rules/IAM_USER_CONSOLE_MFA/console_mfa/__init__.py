"""Console-MFA rule: does every IAM user with a console password have an allowed MFA device?

The package is split the way the rule works: gather facts (the only code that calls AWS), decide (pure
functions of facts, policy and the time), report. Every module, one line each.

Pure: these import no AWS client code (boto3, botocore, rdklib), not even through another module here
(``tests/unit/test_layers.py`` reads the imports and holds this list to them):

* ``__init__`` - the rule's identity: RULE_NAME, RESOURCE_TYPE, title, severity, controls;
* ``facts`` - what the rule knows about a user (UserFacts, MissingUser), a device's kind from its serial;
* ``policy`` - the rule parameters, validated;
* ``exemptions`` - the exemption tag's value (a last day, empty, not a date), honoured today or why not;
* ``verdict`` - ``decide(user, policy, now)``, the one verdict logic; the annotation and its parser;
* ``carry_forward`` - which held results a sweep keeps without asking IAM, which users it checks live;
* ``what_to_send`` - what Config holds (HeldResult) and which evaluations are worth sending over it;
* ``enforcement`` - whether the remediation may act on a user now, and the notice it sends;
* ``credential_report`` - the credential report's CSV, read strictly;
* ``config_events`` - the event Config sends a rule, read and checked;
* ``identifiers`` - account and organization id patterns, the partition and account of an ARN;
* ``exceptions`` - the precise error types;
* ``lambda_entry`` - ``@lambda_entry``: every entry point's log line, errors, API-call counts, log guard;
* ``version`` - the rule's version.

Calling AWS: these read AWS or send to it, and decide nothing a pure module could:

* ``aws`` - clients, retries, error translation; every AWS call goes through it;
* ``iam_facts`` - reading IAM: users, login profiles, MFA devices, tags where they matter, the credential report;
* ``cloudtrail_changes`` - the users CloudTrail shows changed since a moment;
* ``sweep`` - the periodic sweep: every user's facts by a strategy, within a deadline;
* ``config_report`` - reading what Config holds for the rule; PutEvaluations with retries;
* ``boundaries`` - whose users: the event's account, and only members of the organization;
* ``enforcer`` - one account's enforcement: the function's settings, the kill switch, the group, access
  keys and the daily limits (the decisions are ``enforcement``'s);
* ``enforcement_ledger`` - the enforcement function's daily limit and notices, in DynamoDB;
* ``reevaluation`` - re-evaluation on IAM change: events in, StartConfigRulesEvaluation out.

The Lambda entry points sit beside the package, at the rule folder's top, and tie them together:
``IAM_USER_CONSOLE_MFA.lambda_handler`` (the rule), ``enforcement_handler.handler`` and
``reevaluation_handler.handler``; each is wrapped in :func:`console_mfa.lambda_entry.lambda_entry`.
"""

# The rule's identity, in one place: the Lambda, the CLI and every output format read it from here
# (the CloudFormation templates keep their literal; a test holds them to RULE_NAME).
RULE_NAME = "IAM_USER_CONSOLE_MFA"
RESOURCE_TYPE = "AWS::IAM::User"
# CIS numbers the control 1.10 in v1.5 through v4.0 and 1.9 in v5.0: every title names both.
CIS_REFERENCE = "CIS 1.10, 1.9 in v5.0"
TITLE = f"IAM users with a console password have MFA ({CIS_REFERENCE}; Security Hub IAM.5)"
# Security Hub's own severity for IAM.5; a finding that passes is informational.
SEVERITY = "MEDIUM"
FINDING_TYPE = "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark"
# (standard, control): CIS 1.10 in v1.5 through v4.0 (1.9 in v5.0), and the Security Hub control mapped to it.
CONTROLS = (("CIS AWS Foundations Benchmark", "1.10"), ("AWS Security Hub", "IAM.5"))
