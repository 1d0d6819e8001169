"""Whether scores are a real evaluation: recorded where a judge or checkpoint is built, read back, never guessed.

A :class:`Provenance` is stamped by whoever makes something that is not a real judge: the ``fake`` backend
declares ``fake``; :mod:`aigve.testing.tiny` writes ``tiny`` and ``aigve bench --random-init-arch`` writes
``random_arch`` into the checkpoint folder (:data:`STAMP_FILE`, and ``aigve_provenance`` in ``config.json`` so
a copy of only the HF files keeps it). Backends that load a checkpoint read the stamp (:func:`read_stamp`)
and expose it; every record and ``run.json`` carry it under ``backend.provenance``. A folder without a stamp
is a real checkpoint, whatever its name says (``org/my-tiny-qwen-judge`` is real; a tiny build renamed to
``AIGVE-MACS`` is still tiny).

:func:`banner` is the one "NOT A REAL EVALUATION" line used by the CLI, reports, refine and the web UI.
Pure Python, no torch: the CLI and reports import it freely.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from aigve.core import validate
from aigve.errors import ConfigError

Kind = Literal["real", "fake", "tiny", "random_arch"]
KINDS: tuple[str, ...] = ("real", "fake", "tiny", "random_arch")
#: The stamp written into a checkpoint folder that is not a real judge.
STAMP_FILE = "aigve_provenance.json"
#: The marker of tiny checkpoints built before the stamp existed (still read).
LEGACY_TINY_MARKER = "aigve_tiny.json"
#: ``config.json`` key carrying the same stamp (survives copying only the HF files).
CONFIG_KEY = "aigve_provenance"


@dataclass(frozen=True)
class Provenance:
    """``kind``: real | fake | tiny | random_arch. ``reason``: for a non-real kind, what the scores come from
    (shown in the banner: "the 'fake' backend (deterministic placeholder scores)")."""

    kind: Kind = "real"
    reason: str = ""

    def __post_init__(self) -> None:
        validate.choice("provenance kind", self.kind, KINDS)
        validate.text("provenance reason", self.reason, allow_empty=True, max_length=2000)

    @property
    def is_real(self) -> bool:
        return self.kind == "real"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Provenance:
        return cls(kind=data.get("kind", "real"), reason=str(data.get("reason") or ""))


REAL = Provenance("real", "")
FAKE = Provenance("fake", "the 'fake' backend (deterministic placeholder scores)")


def tiny(taught: bool = False) -> Provenance:
    taught_text = " taught the answer format (not a judge)" if taught else ""
    return Provenance("tiny", f"a tiny random-weight test model{taught_text}")


def random_arch(arch: str) -> Provenance:
    return Provenance("random_arch", f"a random-weight {arch} built by aigve bench (for speed figures only)")


def write_stamp(folder: str | os.PathLike, provenance: Provenance, **extra: Any) -> Path:
    """Write :data:`STAMP_FILE` into ``folder`` (with ``extra`` fields, e.g. ``taught``); returns its path."""
    path = Path(folder) / STAMP_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({**provenance.to_dict(), **extra}, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_stamp(folder: str | os.PathLike | None, config: Any = None) -> Provenance:
    """The provenance stamped in checkpoint ``folder`` (or in a loaded HF ``config``); a folder, hub id or
    config without a stamp is real. Never looks at the name."""
    data = _stamp_data(folder, config)
    if data is None:
        return REAL
    try:
        return Provenance.from_dict(data)
    except ConfigError:
        return Provenance("tiny", f"an unreadable provenance stamp ({data!r:.80}); treated as not real")


def stamp_details(folder: str | os.PathLike | None) -> dict[str, Any]:
    """The whole stamp of ``folder`` (extra fields such as ``taught``), or {} when it has none."""
    return dict(_stamp_data(folder, None) or {})


def _stamp_data(folder: str | os.PathLike | None, config: Any) -> dict[str, Any] | None:
    if folder is not None and str(folder):
        root = Path(folder)
        try:
            if (root / STAMP_FILE).is_file():
                data = json.loads((root / STAMP_FILE).read_text(encoding="utf-8"))
                return data if isinstance(data, dict) else {"kind": "tiny", "reason": "a malformed stamp"}
            if (root / LEGACY_TINY_MARKER).is_file():
                old = json.loads((root / LEGACY_TINY_MARKER).read_text(encoding="utf-8"))
                taught = bool(isinstance(old, dict) and old.get("taught"))
                return {**tiny(taught).to_dict(), "taught": taught}
            if config is None and (root / "config.json").is_file():
                config = json.loads((root / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
    if config is None:
        return None
    get = config.get if isinstance(config, Mapping) else (lambda key, default=None: getattr(config, key, default))
    stamp = get(CONFIG_KEY)
    if isinstance(stamp, Mapping):
        return dict(stamp)
    if get("aigve_tiny"):  # tiny builds from before the stamp
        return tiny().to_dict()
    return None


def of_backend(backend: Any) -> Provenance:
    """The provenance of one record's ``backend`` description (or a backend name): its ``provenance`` entry
    when recorded; for records written before it existed, the ``fake`` name or the old tiny flag."""
    if not isinstance(backend, Mapping):
        return FAKE if backend == "fake" else REAL
    recorded = backend.get("provenance")
    if isinstance(recorded, Mapping):
        try:
            return Provenance.from_dict(recorded)
        except ConfigError:
            return Provenance("tiny", "an unreadable provenance record; treated as not real")
    if backend.get("name") == "fake":
        return FAKE
    if backend.get("aigve_tiny"):
        return tiny(bool(backend.get("taught")))
    for key in ("model", "model_path", "adapter"):  # a record from before the stamp: read the folder's files
        value = backend.get(key)
        if isinstance(value, str) and value and Path(value).is_dir():
            found = read_stamp(value)
            if not found.is_real:
                return found
    return REAL


def banner(provenance: Provenance | str | None) -> str | None:
    """The one NOT A REAL EVALUATION line (CLI, report, refine, web UI), or None for a real evaluation.
    A string is taken as the reason itself."""
    if provenance is None:
        return None
    reason = provenance if isinstance(provenance, str) else (None if provenance.is_real else provenance.reason)
    return None if not reason else f"NOT A REAL EVALUATION: these scores come from {reason}."


def combined(provenances: Iterable[Provenance]) -> Provenance:
    """One provenance for many records: the first non-real one with every distinct reason joined, else real."""
    odd = [p for p in provenances if not p.is_real]
    if not odd:
        return REAL
    reasons = list(dict.fromkeys(p.reason for p in odd))
    return Provenance(odd[0].kind, "; ".join(reasons))
