"""Judge profiles: how a judge is run (messages, frames, sizes, spacing, decoding, answer format).

Import from the submodules (:mod:`aigve.judges.profile`, :mod:`aigve.judges.profiles`,
:mod:`aigve.judges.inputs`); this package imports nothing heavy.
"""
