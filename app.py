"""Serve the aigve web UI: ``python app.py [--backend macs --model ... --allowed-dir DIR ...]`` (see --help)."""

from aigve.webui import main

raise SystemExit(main())
