"""``python -m core``: the lab's command line (see core/app/cli.py)."""

import sys

from core.app.cli import main

sys.exit(main())
