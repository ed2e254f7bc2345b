"""The device kind, told from the serial number, in every partition."""

import pytest
from console_mfa.facts import MfaType, classify_serial

CASES = [
    ("arn:aws:iam::123456789012:mfa/Bob", MfaType.VIRTUAL),
    ("arn:aws-cn:iam::123456789012:mfa/Bob", MfaType.VIRTUAL),
    ("arn:aws-us-gov:iam::123456789012:mfa/path/Bob", MfaType.VIRTUAL),
    ("arn:aws:iam::123456789012:u2f/user/Bob/fidosecuritykey1-7XNL7NFNLZ123", MfaType.FIDO),
    ("arn:aws-cn:iam::123456789012:u2f/user/Bob/fidosecuritykey1-X", MfaType.FIDO),
    ("arn:aws-us-gov:iam::123456789012:u2f/user/Bob/passkey-X", MfaType.FIDO),
    ("arn:aws:iam::123456789012:sms-mfa/Bob", MfaType.SMS),
    ("arn:aws-us-gov:iam::123456789012:sms-mfa/Bob", MfaType.SMS),
    ("GAKT12345678", MfaType.HARDWARE),
    ("1234567890", MfaType.HARDWARE),
    ("arn:aws:iam::123456789012:user/Bob", MfaType.UNRECOGNISED),
    ("arn:aws:iam::123456789012:something-new/Bob", MfaType.UNRECOGNISED),
    ("arn:broken", MfaType.UNRECOGNISED),
]


@pytest.mark.parametrize("serial, kind", CASES, ids=[c[0] for c in CASES])
def test_device_kind_from_serial(serial, kind):
    assert classify_serial(serial) is kind
