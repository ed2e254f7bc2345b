"""Console-MFA rule: does every IAM user with a console password have an allowed MFA device?

The package is split the way the rule works:

* :mod:`console_mfa.facts` - what we know about a user (plain data, no AWS);
* :mod:`console_mfa.policy` - the validated rule parameters;
* :mod:`console_mfa.verdict` - the pure decision ``decide(user, policy, now)``;
* :mod:`console_mfa.iam_facts` - the only code that reads IAM;
* :mod:`console_mfa.config_events` / :mod:`console_mfa.config_report` - Config's side;
The Lambda entry point, ``IAM_USER_CONSOLE_MFA.lambda_handler``, ties them together.
"""

RULE_NAME = "IAM_USER_CONSOLE_MFA"
RESOURCE_TYPE = "AWS::IAM::User"
