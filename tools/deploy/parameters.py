"""The stack parameters a run is given: ``--parameter``, ``MFA_DEPLOY_PARAMS`` and the enforcement flags, checked.

Example::

    given_parameters(["GracePeriodDays=7"], "ExemptUsers=alice, bob")   # both, GracePeriodDays and ExemptUsers
"""

from __future__ import annotations

import argparse
import os
import re
import shlex

from mfa_audit.templates import (
    ALARM_EMAIL,
    ALARM_TOPIC_PARAMETER,
    ENFORCEMENT,
    ENFORCEMENT_MODES,
    MAX_ENFORCEMENTS_PER_DAY,
    NOTICE_SENDER,
)
from tools.deploy.aws import DeployError

PARAMS_ENVIRONMENT = "MFA_DEPLOY_PARAMS"


# A word of MFA_DEPLOY_PARAMS that starts a parameter: CloudFormation parameter names are alphanumeric.
PARAMETER_START = re.compile(r"^[A-Za-z0-9]+=")


def parameter_pairs(pairs: list[str]) -> dict[str, str]:
    parameters = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise DeployError(f"--parameter takes KEY=VALUE, got {pair!r}")
        parameters[key] = value
    return parameters


def parameters_from_words(text: str, source: str = PARAMS_ENVIRONMENT) -> dict[str, str]:
    """``Key=value`` words; a word that does not start with ``Name=`` continues the previous value.

    >>> parameters_from_words("ExemptUsers=alice, bob GracePeriodDays=7")
    {'ExemptUsers': 'alice, bob', 'GracePeriodDays': '7'}

    Words are split as a shell would (quotes group, nothing is run or expanded), so a value that
    itself holds `` Name=`` is quoted: ``ExemptUsers='alice, x=y'``.
    """
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise DeployError(f"{source}: {error} in {text!r}") from error
    parameters: dict[str, str] = {}
    key = ""
    for word in words:
        if PARAMETER_START.match(word):
            key, _, value = word.partition("=")
            if key in parameters:
                raise DeployError(f"{source}: {key} is given twice")
            parameters[key] = value
        elif not key:
            raise DeployError(f"{source}: expected Key=Value, got {word!r} first")
        else:
            parameters[key] = f"{parameters[key]} {word}" if parameters[key] else word
    return parameters


def given_parameters(pairs: list[str], environment: str) -> dict[str, str]:
    # Errors name what the user typed: make's PARAMS when make ran the tool (make sets MAKELEVEL).
    source = "PARAMS" if "MAKELEVEL" in os.environ else PARAMS_ENVIRONMENT
    given = parameters_from_words(environment, source) if environment.strip() else {}
    for key, value in parameter_pairs(pairs).items():
        if key in given:
            raise DeployError(f"{key} is given both in {PARAMS_ENVIRONMENT} and as --parameter")
        given[key] = value
    return given


def enforcement_flags(args: argparse.Namespace, given: dict[str, str]) -> dict[str, str]:
    """The stack parameters the --enforcement flags set; a parameter set both ways is refused."""
    flags = {
        ENFORCEMENT: args.enforcement,
        MAX_ENFORCEMENTS_PER_DAY: args.max_enforcements_per_day,
        NOTICE_SENDER: args.notice_sender,
    }
    chosen = {key: str(value) for key, value in flags.items() if value is not None}
    for key in chosen:
        if key in given:
            raise DeployError(f"{key} is given both as a flag and as a parameter")
    return chosen


def require_operators_topic(parameters: dict[str, str], current: dict[str, str]) -> None:
    """Enforcement tells the operators of every action: refuse it without a topic (CloudFormation would too,
    but only after the upload and a change set)."""

    def effective(key: str, default: str = "") -> str:
        return parameters.get(key, current.get(key, default)).strip()

    enforcement = effective(ENFORCEMENT, "off")
    if enforcement not in ENFORCEMENT_MODES:
        raise DeployError(f"Enforcement {enforcement!r} is not one of {', '.join(ENFORCEMENT_MODES)}")
    if enforcement != "off" and not effective(ALARM_EMAIL) and not effective(ALARM_TOPIC_PARAMETER):
        raise DeployError(
            f"Enforcement={enforcement} needs AlarmEmail or AlarmTopicArn (every enforcement and every user held "
            "back by MaxEnforcementsPerDay goes to that topic); nothing was changed"
        )
