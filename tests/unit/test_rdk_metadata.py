"""The RDK rule folder's parameters.json is valid RDK metadata that agrees with the code."""

import json
from pathlib import Path

from console_mfa.policy import RULE_PARAMETERS, parse_rule_parameters

RULE_DIR = Path(__file__).resolve().parents[2] / "rules" / "IAM_USER_CONSOLE_MFA"


def test_parameters_json_describes_the_rule_for_rdk():
    metadata = json.loads((RULE_DIR / "parameters.json").read_text())
    parameters = metadata["Parameters"]
    assert metadata["Version"] == "1.0"
    assert parameters["RuleName"] == RULE_DIR.name
    assert parameters["SourceRuntime"] == "python3.12-lib"
    assert parameters["SourceEvents"] == "AWS::IAM::User"
    assert parameters["SourcePeriodic"] == "One_Hour"
    assert (RULE_DIR / f"{parameters['RuleName']}.py").exists()


def test_rdk_parameter_strings_are_json_the_rule_accepts():
    parameters = json.loads((RULE_DIR / "parameters.json").read_text())["Parameters"]
    optional = json.loads(parameters["OptionalParameters"])
    assert set(optional) == set(RULE_PARAMETERS)
    parse_rule_parameters({**json.loads(parameters["InputParameters"]), **optional})
