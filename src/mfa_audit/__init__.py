"""mfa-audit: run the IAM_USER_CONSOLE_MFA rule's evaluation outside Lambda."""
