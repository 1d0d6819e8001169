"""What a run was computed with, recorded in run.json: package versions, the source commit, the host.

Versions come from installed package metadata (:mod:`importlib.metadata`): nothing heavy (torch, decord) is
imported just to learn its version.
"""

from __future__ import annotations

import functools
import importlib.metadata
import platform
import socket
import subprocess
from pathlib import Path
from typing import Any

#: Distributions whose versions decide how a video is decoded and scored.
PACKAGES = ("torch", "transformers", "numpy", "decord", "av")


def package_version(name: str) -> str | None:
    """The installed version of distribution ``name``; None when it is not installed."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


@functools.cache
def git_commit(source: Path | None = None, timeout_s: float = 2.0) -> str | None:
    """The commit of the aigve source tree (``git rev-parse HEAD``, "+dirty" with uncommitted changes) when it
    is a git checkout; None otherwise (an installed wheel), when git is missing, or when it takes too long."""
    root = source or Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=timeout_s, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=timeout_s, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (head + "+dirty" if dirty else head) or None


def environment() -> dict[str, Any]:
    """``{"aigve", "git_commit", "python", "torch", "transformers", "numpy", "decord", "av", "host"}``."""
    import aigve

    info: dict[str, Any] = {"aigve": aigve.__version__, "git_commit": git_commit(), "python": platform.python_version()}
    info.update({name: package_version(name) for name in PACKAGES})
    info["host"] = socket.gethostname()
    return info
