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
from aigve.results import compact_results, write_text_atomic

if TYPE_CHECKING:
    from aigve.runner import EvaluatorSource

log = logging.getLogger(__name__)

METHODS = ("hash", "round-robin")
_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_shard(spec: str) -> tuple[int, int]:
    """``"i/n"`` -> ``(i, n)`` with 0 <= i < n (ranks count from 0, as torchrun's RANK does)."""
    match = _SPEC.match(str(spec))
    if not match:
        raise ConfigError("--shard", spec, "use I/N, e.g. 0/4 for the first of four shards (ranks count from 0)")
    rank, world = int(match.group(1)), int(match.group(2))
    if world < 1 or rank >= world:
        raise ConfigError("--shard", spec, f"need 0 <= I < N; got I={rank}, N={world}")
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
        raise ConfigError("--shard-method", method, f"choose one of {', '.join(METHODS)}")
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
    """Outcome of one rank (counts as in :class:`aigve.runner.RunSummary`); ``merged``: path when this rank merged."""

    rank: int
    world: int
    total: int
    scored: int
    failed: int
    skipped: int
    wall_s: float
    out_dir: Path
    merged: Path | None = None

    def line(self) -> str:
        from aigve.runner import summary_text

        text = f"shard {self.rank}/{self.world}: " + summary_text(
            self.scored, self.failed, self.skipped, self.total, self.wall_s, results_path(self.out_dir, self.rank))
        if self.merged:
            text += f"; all shards done, merged into {self.merged}"
        else:
            text += f"; merge with `aigve merge-shards {self.out_dir}` once every shard is done"
        return text


def _write_state(out: Path, rank: int, world: int, method: str, items: list[tuple[int, VideoItem]], done: bool,
                 spec: Mapping[str, Any] | None = None) -> None:
    state = {"rank": rank, "world": world, "method": method, "done": done, "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
             "ids": [it.id for _, it in items], "positions": [pos for pos, _ in items]}
    if spec is not None:
        from aigve.runner import as_recorded

        state["spec"] = as_recorded(spec)  # each rank's own, compared across ranks
    write_text_atomic(state_path(out, rank), json.dumps(state))


def _spec_conflicts(out: Path, rank: int, spec: Mapping[str, Any] | None) -> list[str]:
    """How other ranks' recorded specs differ from ``spec`` (one line per rank): ranks of one launch must
    score with the same options, or the merged file would mix two judges."""
    from aigve.runner import as_recorded, spec_differences

    if spec is None:
        return []
    mine = as_recorded(spec)
    problems = []
    for path in sorted(out.glob("shard.rank*.json")):
        try:
            other = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if other.get("rank") == rank or not isinstance(other.get("spec"), Mapping):
            continue
        diffs = spec_differences(other["spec"], mine)
        if diffs:
            problems.append(f"shard {other.get('rank')} (recorded -> this rank): " + "; ".join(diffs))
    return problems


def _check_previous(out: Path, rank: int, world: int, method: str) -> None:
    path = state_path(out, rank)
    if not path.exists():
        return
    prev = json.loads(path.read_text(encoding="utf-8"))
    if (prev.get("world"), prev.get("method")) != (world, method):
        raise InputError(path, f"this folder was sharded as {prev.get('world')} shards by {prev.get('method')!r}; "
                               f"resume with the same --shard N and --shard-method, or use another --out")


def run_shard(evaluator: EvaluatorSource, items: Sequence[VideoItem], out_dir: str | os.PathLike, rank: int, world: int, *,
              method: str = "hash", resume: bool = False, batch_size: int = 1, progress: bool = True,
              merge: bool = True, spec: Mapping[str, Any] | None = None,
              settings: Mapping[str, Any] | None = None) -> ShardSummary:
    """Score shard ``rank`` of ``items`` into ``results.rank{rank}.jsonl``; merge when every shard is done.

    ``spec``/``settings``: as for :func:`aigve.runner.run_batch`; the spec is checked against the shared run.json
    whenever the folder already holds records (of this shard on resume, or of other shards of the run).
    """
    from aigve.runner import begin_run, recording, score_into

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    positions = {it.id: pos for pos, it in enumerate(items)}
    mine = [(positions[it.id], it) for it in select_shard(items, rank, world, method)]
    path = results_path(out, rank)
    if path.exists() and path.stat().st_size and not resume:
        raise InputError(path, "already exists; pass --resume to continue this shard or choose another --out")
    if resume:
        _check_previous(out, rank, world, method)
    conflicts = _spec_conflicts(out, rank, spec)
    if conflicts:
        raise InputError(out, "the other shards of this run were started with other options:\n  "
                              + "\n  ".join(conflicts) + "\nstart every rank with the same options, or use another --out")
    begin_run(out, spec, settings, resume=resume, items=len(items))
    _write_state(out, rank, world, method, mine, done=False, spec=spec)
    start = time.perf_counter()
    scored, failed, skipped = score_into(recording(evaluator, out, len(items), batch_size), [it for _, it in mine],
                                         path, resume=resume, batch_size=batch_size, progress=progress)
    if resume:
        compact_results(path)  # one record per video in the shard file too (the merge keeps the newest anyway)
    _write_state(out, rank, world, method, mine, done=True, spec=spec)
    summary = ShardSummary(rank, world, len(mine), scored, failed, skipped, time.perf_counter() - start, out)
    if merge and all_done(out, world):
        summary.merged = merge_shards(out)
    return summary


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
    from aigve.runner import CSV_NAME, RESULTS_NAME

    out = Path(out_dir)
    states = sorted(out.glob("shard.rank*.json"))
    if not states:
        raise InputError(out, "holds no shard.rank*.json; run `aigve score ... --shard I/N --out` into it first")
    parsed = [json.loads(p.read_text(encoding="utf-8")) for p in states]
    world = parsed[0]["world"]
    problems = _completeness(out, parsed, world)
    if problems and not allow_incomplete:
        raise InputError(out, "; ".join(problems) + " (finish those shards, or merge anyway with --allow-incomplete)")
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
    write_text_atomic(target, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in merged))
    tmp_csv = write_csv(merged, out / f".{CSV_NAME}.{os.getpid()}.tmp")
    os.replace(tmp_csv, out / CSV_NAME)
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


def rank_device(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> None:
    """Under torchrun / accelerate launch, put each local rank on its own GPU (``cuda:LOCAL_RANK``).

    Only when ``--device`` was not given (or is ``auto``) and a CUDA device is visible; call it before the
    evaluator is built.
    """
    env = os.environ if env is None else env
    if getattr(args, "device", None) not in (None, "auto") or "LOCAL_RANK" not in env:
        return
    import torch

    if torch.cuda.is_available():
        args.device = f"cuda:{int(env['LOCAL_RANK']) % torch.cuda.device_count()}"


def run_sharded_from_args(args: argparse.Namespace, evaluator: EvaluatorSource, items: Sequence[VideoItem],
                          **run_info: Any) -> ShardSummary | None:
    """Run this process's shard when ``--shard`` or RANK/WORLD_SIZE asks for one; None when not sharded.
    ``run_info``: ``spec`` and ``settings`` for :func:`run_shard`."""
    shard = resolve_shard(getattr(args, "shard", None))
    if shard is None:
        return None
    return run_shard(evaluator, items, args.out, *shard, method=args.shard_method, resume=args.resume,
                     batch_size=args.batch_size, progress=not getattr(args, "no_progress", False),
                     merge=not args.no_merge, **run_info)
