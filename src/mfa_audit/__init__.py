"""mfa-audit: run the IAM_USER_CONSOLE_MFA rule's evaluation outside Lambda.

``__version__`` is the installed package's version (written once, in pyproject.toml).

Example::

    from mfa_audit import __version__
"""

from console_mfa.version import rule_version

__version__ = rule_version()
