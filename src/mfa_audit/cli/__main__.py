"""``python -m mfa_audit.cli``, as the ``mfa-audit`` command."""

import sys

from mfa_audit.cli import main

sys.exit(main())
