"""A credential report as IAM writes it, for tests that run an offline audit."""

HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,"
    "mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,"
    "access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,"
    "cert_2_last_rotated\n"
)


def console_user_without_mfa(name: str) -> str:
    """One report row: ``name`` has a console password and no MFA device."""
    return (
        f"{name},arn:aws:iam::123456789012:user/{name},2024-01-01T00:00:00+00:00,true,N/A,N/A,N/A,false"
        + ",N/A" * 14
        + "\n"
    )
