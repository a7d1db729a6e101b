"""``python -m app.batch``: the ``batch`` command."""

import sys

from app.batch.cli import main

sys.exit(main())
