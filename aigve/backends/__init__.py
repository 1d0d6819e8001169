"""Scoring backends. Look them up by name through :data:`aigve.registry.BACKENDS`."""
