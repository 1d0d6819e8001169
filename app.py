"""Serve the aigve web UI: ``python app.py [--backend macs --model ... --allowed-dir DIR ...]`` (see --help)."""

import sys

from aigve.cli import main

raise SystemExit(main(["app", *sys.argv[1:]]))
