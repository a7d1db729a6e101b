"""``python -m ingest``: the same CLI as ``docqa-ingest``."""

import sys

from .cli import main

sys.exit(main())
