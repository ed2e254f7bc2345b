"""Evaluate an identity policy for one request, as IAM does for the parts our templates use.

An explicit Deny wins; otherwise an Allow grants; otherwise the request is implicitly denied.
Supported: Action/NotAction, Resource/NotResource, ``*``/``?`` wildcards, the ``${aws:username}``
policy variable, and the Bool / BoolIfExists condition operators. moto stores policies but decides
nothing by them, so the tests and ``mfa-audit demo --walkthrough`` ask this what the ForceMfa policy allows.

    decision(statements, "iam:EnableMFADevice", "arn:aws:iam::123456789012:user/bob",
             {"aws:username": "bob", "aws:MultiFactorAuthPresent": "false"})   # "allow"
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

ALLOW, EXPLICIT_DENY, IMPLICIT_DENY = "allow", "deny", "implicit deny"
_VARIABLE = re.compile(r"\$\{([^}]+)\}")


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _matches(pattern: str, value: str, *, ignore_case: bool) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _substitute(pattern: str, context: Mapping[str, str]) -> str:
    return _VARIABLE.sub(lambda m: context[m.group(1)], pattern)


def _conditions_hold(conditions: Mapping[str, Mapping[str, Any]], context: Mapping[str, str]) -> bool:
    for operator, tests in conditions.items():
        if operator not in ("Bool", "BoolIfExists"):
            raise NotImplementedError(f"condition operator {operator}")
        for key, expected in tests.items():
            if key not in context:
                if operator == "Bool":
                    return False
                continue
            if context[key].lower() not in [str(e).lower() for e in _as_list(expected)]:
                return False
    return True


def _applies(statement: Mapping[str, Any], action: str, resource: str, context: Mapping[str, str]) -> bool:
    if "Action" in statement:
        action_hit = any(_matches(p, action, ignore_case=True) for p in _as_list(statement["Action"]))
    else:
        action_hit = not any(_matches(p, action, ignore_case=True) for p in _as_list(statement["NotAction"]))
    if "Resource" in statement:
        patterns = [_substitute(p, context) for p in _as_list(statement["Resource"])]
        resource_hit = any(_matches(p, resource, ignore_case=False) for p in patterns)
    else:
        patterns = [_substitute(p, context) for p in _as_list(statement["NotResource"])]
        resource_hit = not any(_matches(p, resource, ignore_case=False) for p in patterns)
    return action_hit and resource_hit and _conditions_hold(statement.get("Condition", {}), context)


def decision(statements: Sequence[Mapping[str, Any]], action: str, resource: str, context: Mapping[str, str]) -> str:
    applying = [s for s in statements if _applies(s, action, resource, context)]
    if any(s["Effect"] == "Deny" for s in applying):
        return EXPLICIT_DENY
    if any(s["Effect"] == "Allow" for s in applying):
        return ALLOW
    return IMPLICIT_DENY
