"""``python -m aigve ...``: the console script without an installed entry point (e.g. a checkout on PYTHONPATH)."""

import sys

from aigve.cli import main

sys.exit(main())
