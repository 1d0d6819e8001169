"""Sharded scoring: one manifest split across processes, GPUs or nodes, merged into one results.jsonl.

Each rank ``i`` of ``n`` takes a deterministic share of the items (``hash``: sha1 of the id modulo ``n``,
stable whatever the manifest order; ``round-robin``: every ``n``-th id in sorted order, the most even split),
scores it into ``OUT/results.rank{i}.jsonl`` (resumable per shard) and records its assignment and completion
in ``OUT/shard.rank{i}.json``. When the last rank finishes, it merges every shard into ``OUT/results.jsonl``
and ``results.csv`` in manifest order; ``aigve merge-shards OUT`` (:func:`merge_shards`) does the same by hand.

The rank comes from ``--shard i/n`` or, under ``torchrun`` / ``accelerate launch``, from the ``RANK`` and
``WORLD_SIZE`` environment variables. Ranks share nothing but the output folder (a shared filesystem across
nodes), so they need no process group.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aigve.errors import ConfigError, InputError
from aigve.evaluator import VideoItem
from aigve.results import write_text_atomic
from aigve.run.folder import CSV_NAME, RESULTS_NAME, RunFolder, ShardLayoutError, SpecMismatchError, writing
from aigve.run.spec import as_recorded, shard_conflicts

if TYPE_CHECKING:
    from aigve.run.batch import EvaluatorSource

log = logging.getLogger(__name__)

METHODS = ("hash", "round-robin")
_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_shard(spec: str) -> tuple[int, int]:
    """``"i/n"`` -> ``(i, n)`` with 0 <= i < n (ranks count from 0, as torchrun's RANK does)."""
    match = _SPEC.match(str(spec))
    if not match:
        raise ConfigError("shard", spec, "use I/N, e.g. 0/4 for the first of four shards (ranks count from 0)")
    rank, world = int(match.group(1)), int(match.group(2))
    if world < 1 or rank >= world:
        raise ConfigError("shard", spec, f"need 0 <= I < N; got I={rank}, N={world}")
    return rank, world


def shard_from_env(env: Mapping[str, str] | None = None) -> tuple[int, int] | None:
    """``(RANK, WORLD_SIZE)`` set by torchrun / accelerate launch; None when unset or WORLD_SIZE is 1."""
    env = os.environ if env is None else env
    if "WORLD_SIZE" not in env or "RANK" not in env:
        return None
    try:
        rank, world = int(env["RANK"]), int(env["WORLD_SIZE"])
    except ValueError:
        raise ConfigError("RANK/WORLD_SIZE", f"{env['RANK']}/{env['WORLD_SIZE']}", "must be integers") from None
    if world <= 1:
        return None
    return parse_shard(f"{rank}/{world}")


def resolve_shard(spec: str | None, env: Mapping[str, str] | None = None) -> tuple[int, int] | None:
    """The shard to run: ``spec`` (``"i/n"``) when given, else from the environment (``spec`` None or ``auto``)."""
    if spec is None or str(spec).lower() == "auto":
        return shard_from_env(env)
    rank, world = parse_shard(spec)
    return None if world == 1 else (rank, world)


def shard_index(item_id: str, world: int) -> int:
    """Shard of ``item_id`` under ``hash``: sha1 of the UTF-8 id, first 8 bytes, modulo ``world``."""
    return int.from_bytes(hashlib.sha1(item_id.encode("utf-8")).digest()[:8], "big") % world


def select_shard(items: Sequence[VideoItem], rank: int, world: int, method: str = "hash") -> list[VideoItem]:
    """The items of shard ``rank`` of ``world``, in input order. Every item lands in exactly one shard."""
    if method not in METHODS:
        raise ConfigError("shard_method", method, f"choose one of {', '.join(METHODS)}")
    if method == "hash":
        return [it for it in items if shard_index(it.id, world) == rank]
    mine = set(sorted(it.id for it in items)[rank::world])
    return [it for it in items if it.id in mine]


def results_path(out_dir: str | os.PathLike, rank: int) -> Path:
    return Path(out_dir) / f"results.rank{rank}.jsonl"


def state_path(out_dir: str | os.PathLike, rank: int) -> Path:
    return Path(out_dir) / f"shard.rank{rank}.json"


@dataclass
class ShardSummary:
    """Outcome of one rank (counts as in :class:`aigve.run.batch.RunSummary`); ``merged``: path when this rank merged."""

    rank: int
    world: int
    total: int
    scored: int
    failed: int
    skipped: int
    wall_s: float
    out_dir: Path
    merged: Path | None = None
    partial: tuple[str, ...] = ()
    """Ids of this shard's scored records missing some judged aspect (status ``partial``)."""

    def line(self) -> str:
        from aigve.run.batch import summary_text

        text = f"shard {self.rank}/{self.world}: " + summary_text(
            self.scored, self.failed, self.skipped, self.total, self.wall_s, results_path(self.out_dir, self.rank),
            partial=self.partial)
        if self.merged:
            text += f"; all shards done, merged into {self.merged}"
        else:
            text += f"; merge with `aigve merge-shards {self.out_dir}` once every shard is done"
        return text


@dataclass(frozen=True)
class ShardPlan:
    """Shard ``rank`` of ``world`` for the batch loop (:func:`aigve.run.batch.run_batch`): it picks the items,
    checks the folder's earlier sharding, and keeps ``shard.rank{i}.json`` (assignment, spec, completion)."""

    rank: int
    world: int
    method: str = "hash"
    merge: bool = True

    def pick(self, items: Sequence[VideoItem]) -> list[VideoItem]:
        return select_shard(items, self.rank, self.world, self.method)

    def check(self, folder: RunFolder, *, resume: bool, spec: Mapping[str, Any] | None) -> None:
        """Refuse a resume sharded otherwise, and options other than those of the other ranks of the launch."""
        if resume:
            _check_previous(folder.path, self.rank, self.world, self.method)
        conflicts = shard_conflicts(_states(folder.path), self.rank, spec)
        if conflicts:
            raise SpecMismatchError(folder.path, "the other shards of this run were started with other options:\n  "
                                    + "\n  ".join(conflicts)
                                    + "\nstart every rank with the same options, or use another `out`")

    def started(self, folder: RunFolder, items: Sequence[VideoItem], *, spec: Mapping[str, Any] | None) -> None:
        self._write(folder, items, done=False, spec=spec)

    def finished(self, folder: RunFolder, items: Sequence[VideoItem], *, spec: Mapping[str, Any] | None) -> Path | None:
        """Record completion; merge (returning the merged file) when this was the last rank to finish."""
        self._write(folder, items, done=True, spec=spec)
        return merge_shards(folder.path) if self.merge and all_done(folder.path, self.world) else None

    def _write(self, folder: RunFolder, items: Sequence[VideoItem], *, done: bool,
               spec: Mapping[str, Any] | None) -> None:
        positions = {it.id: pos for pos, it in enumerate(items)}
        mine = self.pick(items)
        state = {"rank": self.rank, "world": self.world, "method": self.method, "done": done,
                 "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "ids": [it.id for it in mine],
                 "positions": [positions[it.id] for it in mine]}
        if spec is not None:
            state["spec"] = as_recorded(spec)  # each rank's own, compared across ranks
        with writing(state_path(folder.path, self.rank)):
            write_text_atomic(state_path(folder.path, self.rank), json.dumps(state))


def _states(out: Path) -> list[dict[str, Any]]:
    states = []
    for path in sorted(out.glob("shard.rank*.json")):
        try:
            states.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return states


def _check_previous(out: Path, rank: int, world: int, method: str) -> None:
    path = state_path(out, rank)
    if not path.exists():
        return
    prev = json.loads(path.read_text(encoding="utf-8"))
    if (prev.get("world"), prev.get("method")) != (world, method):
        raise ShardLayoutError(path, f"this folder was sharded as {prev.get('world')} shards by {prev.get('method')!r}; "
                                     f"resume with the same `shard` count N and `shard_method`, or use another `out`")


def run_shard(evaluator: EvaluatorSource, items: Sequence[VideoItem], out_dir: str | os.PathLike, rank: int, world: int, *,
              method: str = "hash", resume: bool = False, batch_size: int = 1, progress: bool = True,
              merge: bool = True, spec: Mapping[str, Any] | None = None,
              settings: Mapping[str, Any] | None = None, job: Mapping[str, Any] | None = None) -> ShardSummary:
    """Score shard ``rank`` of ``items`` into ``results.rank{rank}.jsonl``; merge when every shard is done.

    The batch loop of :func:`aigve.run.batch.run_batch` with a :class:`ShardPlan`; ``spec``/``settings`` as
    there: the spec is checked against the shared run.json whenever the folder already holds records (of this
    shard on resume, or of other shards of the run).
    """
    from aigve.run.batch import run_batch

    s = run_batch(evaluator, list(items), out_dir, resume=resume, batch_size=batch_size, progress=progress,
                  spec=spec, settings=settings, job=job, shard=ShardPlan(rank, world, method, merge))
    return ShardSummary(rank, world, s.total, s.scored, s.failed, s.skipped, s.wall_s, s.out_dir, s.merged, s.partial)


def all_done(out_dir: str | os.PathLike, world: int) -> bool:
    """True when every rank 0..world-1 has recorded completion."""
    for rank in range(world):
        path = state_path(out_dir, rank)
        if not path.exists():
            return False
        try:
            if not json.loads(path.read_text(encoding="utf-8")).get("done"):
                return False
        except (OSError, ValueError):
            return False
    return True


def merge_shards(out_dir: str | os.PathLike, *, allow_incomplete: bool = False) -> Path:
    """Merge ``results.rank*.jsonl`` into ``results.jsonl`` + ``results.csv`` in manifest order.

    Keeps the last record per id (a resumed shard may re-score a failed video). Raises InputError when a
    shard is missing or unfinished, or a video has no record, unless ``allow_incomplete``.
    """
    from aigve.results import iter_records, latest_by_id, write_csv

    out = Path(out_dir)
    states = sorted(out.glob("shard.rank*.json"))
    if not states:
        raise InputError(out, "holds no shard.rank*.json; score into it as a sharded run (shard I/N) first")
    parsed = [json.loads(p.read_text(encoding="utf-8")) for p in states]
    world = parsed[0]["world"]
    problems = _completeness(out, parsed, world)
    if problems and not allow_incomplete:
        raise InputError(out, "; ".join(problems) + " (finish those shards, or merge anyway with `allow_incomplete`)")
    order: dict[str, int] = {}
    for state in parsed:
        order.update(zip(state["ids"], state["positions"], strict=True))
    records: dict[str, dict[str, Any]] = {}
    for state in parsed:
        path = results_path(out, state["rank"])
        if path.exists():
            records.update(latest_by_id(iter_records(path)))
    merged = sorted(records.values(), key=lambda r: order.get(str(r.get("id")), len(order)))
    target = out / RESULTS_NAME
    # Private temporary names + atomic renames: two ranks finishing at once cannot interleave their writes.
    with writing(target):
        write_text_atomic(target, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in merged))
    with writing(out / CSV_NAME):
        write_csv(merged, out / CSV_NAME)  # atomic itself: two ranks finishing at once cannot interleave
    log.info("merged %d records from %d shard(s) into %s", len(merged), len(parsed), target)
    return target


def _completeness(out: Path, states: list[dict], world: int) -> list[str]:
    from aigve.results import done_ids

    problems = []
    ranks = {s["rank"] for s in states}
    missing = sorted(set(range(world)) - ranks)
    if missing:
        problems.append(f"shard(s) {missing} of {world} never started")
    specs = {json.dumps(s["spec"], sort_keys=True): s["rank"] for s in states if isinstance(s.get("spec"), dict)}
    if len(specs) > 1:
        problems.append(f"shards {sorted(specs.values())} were scored with different options (see 'spec' in "
                        f"shard.rank*.json); rescore them with one set of options")
    for s in states:
        if s["world"] != world:
            problems.append(f"shard {s['rank']} was run with {s['world']} shards, others with {world}")
        if not s.get("done"):
            problems.append(f"shard {s['rank']} has not finished")
            continue
        seen = done_ids(results_path(out, s["rank"]), include_errors=True)
        lacking = [i for i in s["ids"] if i not in seen]
        if lacking:
            problems.append(f"shard {s['rank']} lacks records for {len(lacking)} video(s), e.g. {lacking[0]!r}")
    return problems


# --------------------------------------------------------------------------------------- CLI wiring


def add_shard_args(p: argparse.ArgumentParser) -> None:
    """``--shard I/N``, ``--shard-method``, ``--no-merge`` (for ``aigve score``)."""
    g = p.add_argument_group("sharding (several processes, GPUs or nodes)")
    g.add_argument("--shard", default=None, metavar="I/N",
                   help="score only shard I of N (0-based) into OUT/results.rankI.jsonl; default: from RANK and "
                        "WORLD_SIZE when set (torchrun, accelerate launch)")
    g.add_argument("--shard-method", choices=METHODS, default="hash",
                   help="hash: sha1 of the id (stable under reordering); round-robin: every N-th sorted id")
    g.add_argument("--no-merge", action="store_true",
                   help="do not merge into results.jsonl when the last shard finishes (use `aigve merge-shards`)")


def rank_device(device: str | None, env: Mapping[str, str] | None = None) -> str | None:
    """Under torchrun / accelerate launch, each local rank's own GPU (``cuda:LOCAL_RANK``); else ``device``.

    Only when ``device`` is None or ``auto`` and a CUDA device is visible; use it before the evaluator is built.
    """
    env = os.environ if env is None else env
    if device not in (None, "auto") or "LOCAL_RANK" not in env:
        return device
    import torch

    if torch.cuda.is_available():
        return f"cuda:{int(env['LOCAL_RANK']) % torch.cuda.device_count()}"
    return device


def run_sharded_from_args(args: argparse.Namespace, evaluator: EvaluatorSource, items: Sequence[VideoItem],
                          **run_info: Any) -> ShardSummary | None:
    """Run this process's shard when ``--shard`` or RANK/WORLD_SIZE asks for one; None when not sharded.
    ``run_info``: ``spec``, ``settings`` and ``job`` for :func:`run_shard`. Reads ``args``, never changes it."""
    shard = resolve_shard(args.shard)
    if shard is None:
        return None
    return run_shard(evaluator, items, args.out, *shard, method=args.shard_method, resume=args.resume,
                     batch_size=args.batch_size, progress=not args.no_progress,
                     merge=not args.no_merge, **run_info)
