"""Console-MFA rule: does every IAM user with a console password have an allowed MFA device?

The package is split the way the rule works:

* :mod:`console_mfa.facts` - what we know about a user (plain data, no AWS);
* :mod:`console_mfa.policy` - the validated rule parameters;
* :mod:`console_mfa.verdict` - the pure decision ``decide(user, policy, now)``;
* :mod:`console_mfa.iam_facts` - the only code that reads IAM;
* :mod:`console_mfa.config_events` / :mod:`console_mfa.config_report` - Config's side;
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
