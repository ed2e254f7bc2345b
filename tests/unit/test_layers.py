"""The layers hold: the modules the package docstring calls pure import no AWS client code, not even through
another module of the package, and the docstring and docs/development.md name every module there is.

The imports are read from the source (ast), so an import inside a function counts as much as one at the top.
"""

import ast
import re
from pathlib import Path

import console_mfa
import pytest

PACKAGE = Path(console_mfa.__file__).parent
DEVELOPMENT_DOCS = Path(__file__).resolve().parents[2] / "docs" / "development.md"
AWS_CLIENT_CODE = {"boto3", "botocore", "rdklib"}
# The modules that decide (never read or send): pure whatever the docstring lists, so moving one to "Calling AWS" fails.
MUST_BE_PURE = {
    "facts",
    "policy",
    "verdict",
    "carry_forward",
    "what_to_send",
    "credential_report",
    "enforcement",
    "identifiers",
}


def _modules() -> list[str]:
    return sorted(path.stem for path in PACKAGE.glob("*.py"))


def _imports(module: str) -> tuple[set[str], set[str]]:
    """What ``module`` imports: (top-level names outside the package, modules of the package)."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    outside, inside = set(), {"__init__"}  # importing any module of the package runs its __init__
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top, _, rest = alias.name.partition(".")
                if top == "console_mfa":
                    inside.add(rest.partition(".")[0] or "__init__")
                else:
                    outside.add(top)
        elif isinstance(node, ast.ImportFrom):
            top, _, within = (node.module or "").partition(".")
            if node.level == 0 and top != "console_mfa":
                outside.add(top)
                continue
            if node.level:  # from .x import y: within the package, x is what follows the dots
                within = node.module or ""
            if within:
                inside.add(within.partition(".")[0])
            else:  # from . import x: x is a module of the package or a name of its __init__
                inside.update(a.name if (PACKAGE / f"{a.name}.py").exists() else "__init__" for a in node.names)
    inside.discard(module)
    return outside, inside


def _aws_imported_by(module: str) -> dict[str, set[str]]:
    """The AWS client code ``module`` loads, by the module of the package that imports it (transitively)."""
    found: dict[str, set[str]] = {}
    seen, todo = set(), [module]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        outside, inside = _imports(current)
        if outside & AWS_CLIENT_CODE:
            found[current] = outside & AWS_CLIENT_CODE
        todo.extend(inside)
    return found


def _listed_in_docstring() -> dict[str, bool]:
    """Each module the package docstring lists, and whether it is listed among the pure ones."""
    listed, pure = {}, None
    for line in console_mfa.__doc__.splitlines():
        if line.startswith("Pure"):
            pure = True
        elif line.startswith("Calling AWS"):
            pure = False
        match = re.match(r"\* ``(\w+)``", line)
        if match:
            assert pure is not None, f"{line!r} comes before the docstring says whether it is pure"
            listed[match.group(1)] = pure
    return listed


def test_the_package_docstring_lists_every_module_once():
    lines = [line for line in console_mfa.__doc__.splitlines() if re.match(r"\* ``\w+``", line)]
    assert sorted(_listed_in_docstring()) == _modules()
    assert len(lines) == len(_modules())


@pytest.mark.parametrize("module", sorted(MUST_BE_PURE))
def test_the_deciding_modules_are_listed_as_pure(module):
    assert _listed_in_docstring()[module] is True


@pytest.mark.parametrize("module", _modules())
def test_a_module_listed_as_pure_imports_no_aws_client_code_and_one_listed_as_calling_aws_does(module):
    aws = _aws_imported_by(module)
    if _listed_in_docstring()[module]:
        assert aws == {}, f"{module} is listed as pure but loads AWS client code through {aws}"
    else:
        assert aws, f"{module} imports no AWS client code: list it among the pure modules"


def test_the_import_reader_sees_aws_client_code_through_another_module():
    # sweep.py imports no boto3 itself: it loads it through aws.py and the modules that read IAM.
    _, inside = _imports("sweep")
    assert "aws" in inside
    assert "aws" in _aws_imported_by("sweep")
    assert _imports("aws")[0] >= {"boto3", "botocore", "rdklib"}


def test_docs_development_names_every_module_of_the_package():
    text = DEVELOPMENT_DOCS.read_text()
    missing = [module for module in _modules() if not re.search(rf"\b{module}\.py\b", text)]
    assert missing == []
