"""``python -m tools.deploy``: see the package's docstring."""

import sys

from tools.deploy.cli import main

sys.exit(main())
