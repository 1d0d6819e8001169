"""One module per ``aigve`` subcommand: ``register(subparsers)`` and ``run(args) -> int``."""
