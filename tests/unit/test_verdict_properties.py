"""Property tests of decide(): random users and policies against a plain reference reading of the control."""

from datetime import datetime, timedelta, timezone

from console_mfa.facts import SELECTABLE_MFA_TYPES, MfaDevice, MfaType, UserFacts
from console_mfa.policy import parse_rule_parameters
from console_mfa.verdict import ANNOTATION_LIMIT, ComplianceType, decide
from hypothesis import given, settings
from hypothesis import strategies as st

NOW = datetime(2026, 11, 28, tzinfo=timezone.utc)
ACCOUNT = "123456789012"
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC0123456789+=,.@_-", min_size=1, max_size=64)
serials = st.one_of(
    st.builds(lambda p, n: f"arn:{p}:iam::{ACCOUNT}:mfa/{n}", st.sampled_from(["aws", "aws-cn", "aws-us-gov"]), names),
    st.builds(
        lambda p, n: f"arn:{p}:iam::{ACCOUNT}:u2f/user/{n}/fidosecuritykey1-X",
        st.sampled_from(["aws", "aws-cn"]),
        names,
    ),
    st.builds(lambda n: f"arn:aws:iam::{ACCOUNT}:sms-mfa/{n}", names),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=9, max_size=256),
    st.text(max_size=300),  # anything at all
)


@st.composite
def users(draw):
    name = draw(names)
    password_age = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=3000)))
    created = None if password_age is None else NOW - timedelta(days=password_age, seconds=draw(st.integers(0, 86399)))
    devices = tuple(MfaDevice(s) for s in draw(st.lists(serials, max_size=8)))
    return UserFacts(
        name,
        "AIDA" + draw(st.text(alphabet="ABCDEFGHIJ0123456789", min_size=17, max_size=17)),
        f"arn:aws:iam::{ACCOUNT}:user/{name}",
        created,
        devices,
    )


@st.composite
def policies(draw, user):
    """Policies as Config's parameters make them, exemptions naming the user in every form or not at all."""
    forms = [user.user_id, "someone-else"]
    if "," not in user.user_name:  # a name holding a comma can only be exempted by UserId
        forms += [user.user_name, user.user_name.upper(), f"arn:aws:iam::{ACCOUNT}:user/{user.user_name.upper()}"]
    exempt = draw(st.lists(st.sampled_from(forms), max_size=2))
    allowed = draw(st.sets(st.sampled_from(sorted(t.value for t in SELECTABLE_MFA_TYPES)), min_size=1))
    parameters = {"GracePeriodDays": str(draw(st.integers(0, 365))), "AllowedMfaTypes": ",".join(sorted(allowed))}
    if exempt:
        parameters["ExemptUsers"] = ",".join(exempt)
    return parse_rule_parameters(parameters)


def is_exempt(user, policy):
    """ExemptUsers read plainly: a UserId item matches the UserId, an ARN item the ARN, any other item the name."""
    return (
        user.user_id in policy.exempt_user_ids
        or user.arn.casefold() in policy.exempt_arns
        or user.user_name.casefold() in policy.exempt_names
    )


def reference(user, policy):
    """The control read plainly, written independently of decide()."""
    if is_exempt(user, policy):
        return ComplianceType.NOT_APPLICABLE
    if user.login_profile_created is None:
        return ComplianceType.NOT_APPLICABLE
    kinds = {d.mfa_type for d in user.mfa_devices}
    if kinds & set(policy.allowed_mfa_types):
        return ComplianceType.COMPLIANT
    if user.login_profile_created + timedelta(days=policy.grace_period_days) > NOW:
        return ComplianceType.COMPLIANT
    return ComplianceType.NON_COMPLIANT


@settings(max_examples=400, derandomize=True, deadline=None)
@given(st.data())
def test_decide_agrees_with_the_reference_and_fits_config(data):
    user = data.draw(users())
    policy = data.draw(policies(user))
    verdict = decide(user, policy, NOW)
    assert verdict.compliance_type == reference(user, policy)
    assert 0 < len(verdict.annotation) <= ANNOTATION_LIMIT


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.data())
def test_never_compliant_with_a_password_and_no_allowed_device_outside_grace(data):
    user = data.draw(users())
    policy = data.draw(policies(user))
    allowed = {d.mfa_type for d in user.mfa_devices} & set(policy.allowed_mfa_types)
    in_grace = (
        user.login_profile_created is not None
        and user.login_profile_created + timedelta(days=policy.grace_period_days) > NOW
    )
    exempt = is_exempt(user, policy)
    if user.has_console_password and not allowed and not in_grace and not exempt:
        assert decide(user, policy, NOW).compliance_type is ComplianceType.NON_COMPLIANT
    assert all(d.mfa_type is not MfaType.UNVERIFIED for d in user.mfa_devices)
