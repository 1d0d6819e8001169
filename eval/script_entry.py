"""The error contract of the ``aigve`` console script, for the scripts in eval/.

``aigve.cli.main`` turns an :class:`aigve.errors.AigveError` into one ``aigve COMMAND: error: ...`` line on
stderr and exit 2, and Ctrl-C into exit 130. :func:`run_guarded` does the same under a script's own name,
so ``python eval/x.py`` never ends in a traceback for a bad argument or input file.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable


def run_guarded(prog: str, body: Callable[[], int | None]) -> int:
    """Run ``body()`` and return its exit code; an AigveError prints ``PROG: error: MESSAGE`` on stderr
    and returns 2, a KeyboardInterrupt returns 130 (what was written so far is kept)."""
    from aigve.errors import AigveError

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(body() or 0)
    except AigveError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; everything written so far is kept", file=sys.stderr)
        return 130
