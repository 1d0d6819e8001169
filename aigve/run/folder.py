"""The output folder of a run: its files, its rules and its lock.

:class:`RunFolder` owns a scoring run's folder (``results.jsonl``, ``results.csv``, ``run.json``, the shard
files): reading and writing ``run.json`` atomically, whether it holds results, the refuse-existing / overwrite /
resume rules, and an exclusive lock (``.aigve.lock``, taken with the ``filelock`` package) held for the whole
run. The lock is what makes two runs into one folder impossible: without it two fresh runs wrote every record
twice, and two staggered ``--resume`` runs lost most records when one rewrote the file under the other's handle.

:func:`claim` is the same lock and the same overwrite rule for every other command that writes an output
(``train``, ``calibrate``, ``report``, ``bench --json``, ``refine --out``): one message text for all.

:func:`writing` turns "no space left on device" into one :class:`NoSpaceError` line naming the file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aigve.errors import AigveError, InputError

log = logging.getLogger(__name__)

RESULTS_NAME, CSV_NAME, RUN_NAME = "results.jsonl", "results.csv", "run.json"
LOCK_NAME = ".aigve.lock"
#: Who holds a lock, written beside it once it is taken (a failed attempt by another process must be able to
#: read it, and some filelock versions truncate the lock file itself on every attempt).
OWNER_SUFFIX = ".owner.json"


class FolderInUseError(AigveError):
    """Another aigve run holds the lock of this output (folder or file)."""

    def __init__(self, path: object, owner: Mapping[str, Any], setting: str = "out"):
        self.path, self.owner = str(path), dict(owner)
        who = (f"pid {owner.get('pid', '?')} on {owner.get('host', '?')}, started {owner.get('started', '?')}"
               if owner else "holder unknown")
        super().__init__(f"{self.path} is in use by another aigve run ({who}); wait for it or choose another `{setting}`")


class OutputExistsError(InputError):
    """The output already holds what an earlier run wrote, and neither overwrite nor resume was asked for."""

    def __init__(self, path: object, *, resumable: bool = False, setting: str = "out", overwritable: bool = True):
        resume = "`resume` to continue it, " if resumable else ""
        if not overwritable:  # a shard: one rank cannot clear a folder the other ranks are writing
            super().__init__(path, f"already exists; pass `resume` to continue it, or choose another `{setting}`")
            return
        super().__init__(path, f"already exists; pass {resume}`overwrite` to discard it and start afresh, "
                               f"or choose another `{setting}`")


class SpecMismatchError(InputError):
    """A resume (or another shard) would add results scored with other settings than those recorded."""


class ShardLayoutError(InputError):
    """A shard folder was started with another number of shards or another method."""


class NoSpaceError(AigveError):
    """The disk filled up while a file was written (nothing already written is lost)."""

    def __init__(self, path: object):
        self.path = str(path)
        super().__init__(f"no space left on device while writing {self.path}; free space and rerun with `resume`: "
                         f"nothing already written is lost")


@contextlib.contextmanager
def writing(path: str | os.PathLike) -> Iterator[None]:
    """Within this block an OSError ENOSPC/EDQUOT becomes :class:`NoSpaceError` naming ``path``, without the
    chained traceback (the OSError's own text says nothing a user can act on beyond the file name)."""
    try:
        yield
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            raise NoSpaceError(path) from None
        raise


# ------------------------------------------------------------------------------------------------ the lock

# Locks this process holds, by lock path: a run that already holds its folder's lock (the score command) may
# call into the library (run_batch), which takes it again; the same thread re-enters, any other is refused.
_HELD: dict[str, list[Any]] = {}
_HELD_GUARD = threading.Lock()


def _owner_text() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def _read_owner(lock_path: Path) -> dict[str, Any]:
    try:
        owner = json.loads(Path(str(lock_path) + OWNER_SUFFIX).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return owner if isinstance(owner, dict) else {}


@contextlib.contextmanager
def exclusive(lock_path: str | os.PathLike, *, shown: object, setting: str = "out", remove: bool = False) -> Iterator[None]:
    """Hold the exclusive lock ``lock_path`` for the block, acquired without waiting: held by another process
    (or another thread of this one) it raises :class:`FolderInUseError` at once naming ``shown``. The holder
    (pid, host, start time) is written beside the lock so the refusal can say who it is. Re-entrant in the
    thread that holds it. The OS releases the lock when the holder dies (kill -9 included), so a stale lock file
    never blocks a later run. ``remove``: delete the lock file when done (a lock beside a user's file should
    not stay there; the window in which a third process could then lock a new file while a second still holds
    the old one is accepted: every attempt is non-blocking, so nobody waits on the old file)."""
    from filelock import FileLock, Timeout

    key = os.path.abspath(lock_path)
    me = threading.get_ident()
    with _HELD_GUARD:
        held = _HELD.get(key)
        if held is not None and held[0] == me:
            held[2] += 1
            reentered = True
        elif held is not None:
            raise FolderInUseError(shown, _read_owner(Path(key)), setting)
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _HELD_GUARD:
                _HELD[key][2] -= 1
        return
    Path(key).parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(key, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise FolderInUseError(shown, _read_owner(Path(key)), setting) from None
    owner_path = Path(key + OWNER_SUFFIX)
    with _HELD_GUARD:
        _HELD[key] = [me, lock, 1]
    try:
        try:
            owner_path.write_text(json.dumps(_owner_text()), encoding="utf-8")
        except OSError as exc:  # a full disk must not stop the lock from working; only the message loses detail
            log.debug("%s: cannot record the lock holder (%s)", owner_path, exc)
        yield
    finally:
        with _HELD_GUARD:
            del _HELD[key]
        with contextlib.suppress(OSError):
            owner_path.unlink()
        if remove:
            with contextlib.suppress(OSError):
                Path(key).unlink()
        lock.release()


def lock_path_for(target: str | os.PathLike, *, is_dir: bool) -> Path:
    """Where the lock of an output lives: ``DIR/.aigve.lock`` for a folder, ``.NAME.aigve.lock`` beside a file."""
    target = Path(target)
    return target / LOCK_NAME if is_dir else target.with_name(f".{target.name}{LOCK_NAME}")


def output_exists(target: Path, *, is_dir: bool) -> bool:
    """True when ``target`` holds an earlier output: a non-empty file, or a folder with anything but locks."""
    if is_dir:
        return target.is_dir() and any(not p.name.startswith(".aigve.") for p in target.iterdir())
    return target.exists() and (not target.is_file() or target.stat().st_size > 0)


@contextlib.contextmanager
def claim(target: str | os.PathLike, *, overwrite: bool, what: str = "output", is_dir: bool = True,
          setting: str = "out", exists: bool | None = None) -> Iterator[Path]:
    """Claim an output for one command run: take its lock (:func:`exclusive`) and refuse
    (:class:`OutputExistsError`, the same words for every command) when it already holds an earlier output and
    ``overwrite`` is False. With ``overwrite`` the caller replaces the output itself, under the lock.

    ``is_dir``: the output is a folder (locked inside it) or a file (locked beside it). ``exists``: the caller's
    own answer to "is there an earlier output" (default: :func:`output_exists`). ``what`` names the output in
    messages ("cannot create the report folder"). The folder (or a file's folder) is created. Yields the path.
    """
    target = Path(target)
    if target.exists() and target.is_dir() != is_dir:
        raise InputError(target, f"is a {'folder' if target.is_dir() else 'file'}; give `{setting}` a "
                                 f"{'folder' if is_dir else 'file name'}")
    try:
        (target if is_dir else target.parent).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        action = f"create the {what} folder" if is_dir else f"write the {what}"
        raise InputError(target, f"cannot {action} ({exc.strerror or exc}); choose another `{setting}`") from None
    with exclusive(lock_path_for(target, is_dir=is_dir), shown=target, setting=setting, remove=not is_dir):
        earlier = output_exists(target, is_dir=is_dir) if exists is None else exists
        if earlier and not overwrite:
            raise OutputExistsError(target, setting=setting)
        if earlier:
            log.info("%s: replacing the earlier %s (--overwrite)", target, what)
        yield target


# ---------------------------------------------------------------------------------------------- RunFolder


@dataclass(frozen=True)
class RunFolder:
    """A scoring run's output folder. ``rank``: the shard this process writes (None: not sharded); each rank
    locks only its own files (ranks of one launch share the folder on purpose)."""

    path: Path
    rank: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    @property
    def results(self) -> Path:
        """This process's results file: ``results.jsonl``, or ``results.rank{i}.jsonl`` for a shard."""
        return self.path / (RESULTS_NAME if self.rank is None else f"results.rank{self.rank}.jsonl")

    @property
    def merged_results(self) -> Path:
        return self.path / RESULTS_NAME

    @property
    def csv(self) -> Path:
        return self.path / CSV_NAME

    @property
    def run_json(self) -> Path:
        return self.path / RUN_NAME

    @property
    def lock_file(self) -> Path:
        return self.path / (LOCK_NAME if self.rank is None else f".aigve.rank{self.rank}.lock")

    def state_file(self, rank: int) -> Path:
        return self.path / f"shard.rank{rank}.json"

    def make(self) -> RunFolder:
        """Create the folder (an unusable --out fails at once with its name, not a traceback)."""
        if self.path.exists() and not self.path.is_dir():
            raise InputError(self.path, "is a file, not a folder; choose another `out`")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(self.path, f"cannot create the `out` folder ({exc.strerror or exc}); "
                                        f"choose another `out`") from None
        return self

    def lock(self) -> contextlib.AbstractContextManager[None]:
        """The folder's exclusive lock for the whole run (see :func:`exclusive`)."""
        self.make()
        return exclusive(self.lock_file, shown=self.path)

    # -- results

    def has_results(self) -> bool:
        """True when the folder holds any record (results.jsonl or a shard's results.rank*.jsonl)."""
        files = [self.path / RESULTS_NAME, *self.path.glob("results.rank*.jsonl")]
        return any(p.stat().st_size for p in files if p.is_file())

    def refuse_existing(self, resume: bool) -> None:
        """:class:`OutputExistsError` when this process's results file holds records and this is no resume."""
        if self.results.exists() and self.results.stat().st_size and not resume:
            raise OutputExistsError(self.results, resumable=True, overwritable=self.rank is None)

    def discard(self) -> None:
        """Remove what an earlier run wrote here (results, per-shard files, csv, run info); call under the lock."""
        for pattern in ("results.jsonl", "results.csv", "run.json", "results.rank*.jsonl", "shard.rank*.json"):
            for path in self.path.glob(pattern):
                path.unlink()

    # -- run.json

    def read_info(self) -> dict[str, Any]:
        """``run.json`` as a dict; {} when missing or unreadable."""
        try:
            info = json.loads(self.run_json.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("%s: unreadable (%s); its run spec cannot be checked", self.run_json, exc)
            return {}
        return info if isinstance(info, dict) else {}

    def write_info(self, info: Mapping[str, Any]) -> None:
        """Write ``run.json`` atomically (sharded ranks may write it at the same time)."""
        from aigve.results import write_text_atomic

        with writing(self.run_json):
            write_text_atomic(self.run_json, json.dumps(info, indent=2, default=str))
