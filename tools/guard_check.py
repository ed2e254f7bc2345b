"""Run our CloudFormation Guard rules (cloudformation/guard/rules.guard) on every template, with cfn-guard-rs.

    python -m tools.guard_check                     # every cloudformation/*.yaml; exit 1 on any failed rule
    python -m tools.guard_check path/to/template.yaml

Prints one line per template and rule that failed, with the resources it names, and a summary line.
Templates are read with mfa_audit.templates (short-form tags such as !Ref become their long form, as cfn-lint
reads them).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mfa_audit.templates import load_body

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "cloudformation" / "guard" / "rules.guard"
TEMPLATES = ROOT / "cloudformation"


@dataclass(frozen=True)
class Failure:
    template: str
    rule: str
    detail: str


def load_template(path: Path) -> dict[str, Any]:
    import yaml

    try:
        template = load_body(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise SystemExit(f"guard: {path}: not a readable template: {error}") from error
    # As JSON, as cfn-guard reads it (a YAML date or timestamp becomes its text).
    return json.loads(json.dumps(template, default=str))


def rule_names(rules: str) -> list[str]:
    return [line.split()[1] for line in rules.splitlines() if line.startswith("rule ")]


def _messages(node: Any) -> list[str]:
    """Every custom message in a clause report, depth first."""
    if isinstance(node, dict):
        found = [" ".join(node["custom_message"].split())] if node.get("custom_message") else []
        return found + [m for value in node.values() for m in _messages(value)]
    if isinstance(node, list):
        return [m for item in node for m in _messages(item)]
    return []


def one_rule_each(rules: str) -> list[str]:
    """The rules file as one text per rule, each with every top-level ``let`` (and comment) of the file."""
    shared: list[str] = []
    rule_texts: list[list[str]] = []
    current: list[str] | None = None
    for line in rules.splitlines():
        if line.startswith("rule "):
            current = [line]
            rule_texts.append(current)
        elif current is not None and not line.startswith(("let ", "#")) and (line.startswith((" ", "}")) or not line):
            current.append(line)
            if line == "}":
                current = None
        else:
            current = None
            shared.append(line)
    preamble = "\n".join(shared)
    return [preamble + "\n\n" + "\n".join(text) + "\n" for text in rule_texts]


# No rule reads long text (a description, a script): shortened, it keeps each rule's report small.
LONGEST_STRING = 200


def _shortened(node: Any) -> Any:
    if isinstance(node, str) and len(node) > LONGEST_STRING:
        return node[:LONGEST_STRING] + f"... ({len(node)} characters)"
    if isinstance(node, dict):
        return {key: _shortened(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_shortened(item) for item in node]
    return node


def check(template: dict[str, Any], rules: str, name: str) -> list[Failure]:
    """The rules that fail on this template; rules that cannot be parsed or evaluated raise (never a silent pass)."""
    # cfn-guard-rs's own report classes cannot read every report (a failed `or` ends in AttributeError),
    # so its raw JSON report is read here. cfn-guard-rs 0.3.3 returns only the end of a report longer than
    # 8 KiB, and a failing clause's report repeats the resource: each rule runs on its own, on the template
    # with long strings shortened, and a report that is still cut raises.
    from cfn_guard_rs.cfn_guard_rs import run_checks_rs

    body = json.dumps(_shortened(template))
    failures = []
    for rule_text in one_rule_each(rules):
        raw = run_checks_rs(body, rule_text, False)
        try:
            report = json.loads(raw)
        except json.JSONDecodeError as error:
            rule = rule_names(rule_text)[0]
            raise RuntimeError(
                f"guard: {name}: {rule}: cfn-guard-rs returned a cut report ({len(raw)} bytes)"
            ) from error
        for clause in report["not_compliant"]:
            rule = clause.get("Rule") or {}
            messages = list(dict.fromkeys(_messages(clause)))
            failures.append(Failure(name, rule.get("name", "?"), "; ".join(messages)))
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("templates", nargs="*", type=Path)
    args = parser.parse_args(argv)
    paths = args.templates or sorted(TEMPLATES.glob("*.yaml"))
    try:
        import cfn_guard_rs  # noqa: F401
    except ImportError:
        # cfn-guard-rs 0.3.3 ships wheels for Python 3.7-3.12 only (requirements-dev.txt).
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        print(
            f"guard: NOT RUN - cfn-guard-rs is not installed for Python {version}"
            " (it has wheels up to 3.12); tests/unit/test_templates.py checks the same properties directly"
        )
        return 0
    rules = RULES.read_text()
    failures = [f for path in paths for f in check(load_template(path), rules, path.name)]
    for failure in failures:
        print(f"guard: FAIL {failure.template}: {failure.rule}: {failure.detail}")
    print(f"guard: {len(rule_names(rules))} rules on {len(paths)} templates, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
