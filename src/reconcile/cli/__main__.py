"""``python -m reconcile.cli``: the ``reconcile`` command."""

import sys

from reconcile.cli import main

sys.exit(main())
