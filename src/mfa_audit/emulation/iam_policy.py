"""Evaluate an identity policy for one request, as IAM does for the parts our templates use.

An explicit Deny wins; otherwise an Allow grants; otherwise the request is implicitly denied.
Supported: Action/NotAction, Resource/NotResource, ``*``/``?`` wildcards, the ``${aws:username}``
policy variable, and the condition operators Bool, StringEquals, StringLike, ArnEquals, ArnLike, their
``Not`` forms and ``IfExists`` forms, and the ``ForAnyValue:`` / ``ForAllValues:`` set qualifiers for
multivalued keys such as ``aws:TagKeys`` (a list in the context). moto stores policies but decides
nothing by them, so the tests and ``mfa-audit demo --walkthrough`` ask this what a policy allows (the
ForceMfa policy; the exemption tags' service control policy, which IAM evaluates as a deny-only filter).

    decision(statements, "iam:EnableMFADevice", "arn:aws:iam::123456789012:user/bob",
             {"aws:username": "bob", "aws:MultiFactorAuthPresent": "false"})   # "allow"
    decision(scp, "iam:TagUser", "*", {"aws:PrincipalArn": "...:role/dev", "aws:TagKeys": ["mfa-exempt-until"]})
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


def _substitute(pattern: str, context: Mapping[str, Any]) -> str:
    return _VARIABLE.sub(lambda m: context[m.group(1)], pattern)


# Each operator's test of one context value against one value the policy names.
_OPERATORS = {
    "Bool": lambda expected, value: expected.lower() == value.lower(),
    "StringEquals": lambda expected, value: expected == value,
    "StringLike": lambda expected, value: _matches(expected, value, ignore_case=False),
    "ArnEquals": lambda expected, value: expected == value,
    "ArnLike": lambda expected, value: _matches(expected, value, ignore_case=False),
}


def _condition_holds(operator: str, key: str, expected: Any, context: Mapping[str, Any]) -> bool:
    qualifier, _, operator = operator.rpartition(":")
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    negated = operator.replace("Not", "", 1) if operator.startswith(("StringNot", "ArnNot")) else None
    test = _OPERATORS.get(negated or operator)
    if test is None or qualifier not in ("", "ForAnyValue", "ForAllValues"):
        raise NotImplementedError(f"condition operator {qualifier + ':' if qualifier else ''}{operator}")
    patterns = [str(e) for e in _as_list(expected)]
    if key not in context:
        # IAM: an absent key matches nothing; IfExists, a negated operator and ForAllValues then hold.
        return if_exists or negated is not None or qualifier == "ForAllValues"
    values = context[key]
    if isinstance(values, str) != (qualifier == ""):
        raise ValueError(f"{key}: a multivalued key needs ForAnyValue/ForAllValues, a single value neither")
    values = [values] if isinstance(values, str) else list(values)

    def hit(value: str) -> bool:
        matched = any(test(pattern, value) for pattern in patterns)
        return not matched if negated else matched

    if qualifier == "ForAllValues":
        return all(hit(value) for value in values)
    return any(hit(value) for value in values)


def _conditions_hold(conditions: Mapping[str, Mapping[str, Any]], context: Mapping[str, Any]) -> bool:
    return all(
        _condition_holds(operator, key, expected, context)
        for operator, tests in conditions.items()
        for key, expected in tests.items()
    )


def _applies(statement: Mapping[str, Any], action: str, resource: str, context: Mapping[str, Any]) -> bool:
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


def decision(statements: Sequence[Mapping[str, Any]], action: str, resource: str, context: Mapping[str, Any]) -> str:
    """ALLOW, EXPLICIT_DENY or IMPLICIT_DENY; ``context`` maps condition keys to a value, or a list (multivalued)."""
    applying = [s for s in statements if _applies(s, action, resource, context)]
    if any(s["Effect"] == "Deny" for s in applying):
        return EXPLICIT_DENY
    if any(s["Effect"] == "Allow" for s in applying):
        return ALLOW
    return IMPLICIT_DENY
