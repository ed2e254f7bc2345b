"""Precise error types. Every failure the rule can meet is one of these.

The Lambda handler lets them propagate, so Lambda counts an error and AWS Config
shows the rule as failing; the CLI turns them into exit code 2 with the message.

Example::

    try:
        policy = parse_rule_parameters({"GracePeriodDays": "-1"})
    except InvalidParameterError as error:
        print(error.parameter)  # GracePeriodDays
"""

from __future__ import annotations


class RuleError(Exception):
    """Base class: the rule could not establish the truth and reported nothing."""


class InvalidParameterError(RuleError):
    """A rule parameter is unknown or has a value outside what is allowed."""

    def __init__(self, parameter: str, problem: str) -> None:
        super().__init__(f"Rule parameter {parameter}: {problem}")
        self.parameter = parameter


class InvalidEventError(RuleError):
    """The Lambda event is not a Config rule event this rule understands."""


class AccountMismatchError(RuleError):
    """The credentials read another account than the one the event is for; nothing was read or reported."""


class AccountOutsideOrganizationError(RuleError):
    """The event is for an account outside the organization the rule serves; refused, nothing assumed or read."""


class UnconfirmedAutomationError(RuleError):
    """An organization enforcement request names no automation of the enforcement document running in that
    account for that user; refused, nothing changed."""


class MissingPermissionError(RuleError):
    """AWS denied a call; ``action`` is the IAM action to grant (e.g. ``iam:ListMFADevices``)."""

    def __init__(self, action: str, detail: str) -> None:
        super().__init__(f"Access denied for {action}: grant {action} to the role the rule runs as. ({detail})")
        self.action = action


class AwsCallError(RuleError):
    """An AWS call failed after botocore's retries (throttling, 5xx, network); ``code`` is AWS's error code."""

    def __init__(self, action: str, detail: str, code: str | None = None) -> None:
        super().__init__(f"{action} failed: {detail}")
        self.action = action
        self.code = code


class EvaluationDeliveryError(RuleError):
    """AWS Config did not accept some evaluations, even after retrying them; ``sent`` it did accept."""

    def __init__(self, message: str, sent: int = 0) -> None:
        super().__init__(message)
        self.sent = sent


class DeliveryOutOfTimeError(EvaluationDeliveryError):
    """Sending stopped because the invocation's time was running out; ``sent`` evaluations were accepted."""


class SweepIncompleteError(RuleError):
    """The periodic sweep could not check every user in time.

    Only corrections for users it did check were sent; the message says how many of each.
    """


class CredentialReportError(RuleError):
    """A credential report could not be read or is not a credential report."""


class ChangeHistoryError(RuleError):
    """CloudTrail's record of IAM changes could not be read, or cannot rule out a change it does not name."""
