"""Sharded scoring with the fake backend: deterministic shards, per-shard resume, merge = single-process run."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aigve.backends.fake import FakeBackend
from aigve.errors import ConfigError, InputError
from aigve.evaluator import Evaluator, VideoItem
from aigve.results import iter_records
from aigve.run.batch import run_batch
from aigve.runner import collect_items
from aigve.sharding import (
    add_shard_args,
    merge_shards,
    parse_shard,
    resolve_shard,
    results_path,
    run_shard,
    run_sharded_from_args,
    select_shard,
    shard_from_env,
    shard_index,
)

SAME = ("id", "video", "prompt", "scores", "comments", "raw_text", "sampling", "status", "error")


def _evaluator() -> Evaluator:
    return Evaluator(FakeBackend(seed=3), prefetch=1)


def _core(records: list[dict]) -> list[dict]:
    return [{k: r.get(k) for k in SAME} for r in records]


@pytest.fixture(scope="module")
def items(shared_videos) -> list[VideoItem]:
    return collect_items(shared_videos / "manifest.csv")


@pytest.fixture(scope="module")
def single(items, tmp_path_factory) -> list[dict]:
    out = tmp_path_factory.mktemp("single")
    run_batch(_evaluator(), items, out, progress=False)
    return list(iter_records(out / "results.jsonl"))


def _args(out: Path, **kw) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_shard_args(p)
    ns = p.parse_args([])
    ns.out, ns.resume, ns.batch_size, ns.no_progress = str(out), False, 2, True
    vars(ns).update(kw)
    return ns


def test_parse_and_env():
    assert parse_shard("1/4") == (1, 4) and parse_shard(" 0 / 1 ") == (0, 1)
    for bad in ("4/4", "1", "a/b", "-1/2", "1/0"):
        with pytest.raises(ConfigError):
            parse_shard(bad)
    assert shard_from_env({"RANK": "3", "WORLD_SIZE": "8"}) == (3, 8)
    assert shard_from_env({"RANK": "0", "WORLD_SIZE": "1"}) is None and shard_from_env({}) is None
    assert resolve_shard("2/3", {"RANK": "0", "WORLD_SIZE": "8"}) == (2, 3)  # the flag wins over the env
    assert resolve_shard(None, {"RANK": "1", "WORLD_SIZE": "2"}) == (1, 2)
    assert resolve_shard("auto", {}) is None and resolve_shard("0/1") is None


@pytest.mark.parametrize("method", ["hash", "round-robin"])
def test_shards_partition_the_items_deterministically(method):
    items = [VideoItem(id=f"v{i:03d}", video=f"v{i}.mp4", prompt="") for i in range(50)]
    shards = [select_shard(items, r, 3, method) for r in range(3)]
    ids = [it.id for s in shards for it in s]
    assert sorted(ids) == sorted(it.id for it in items)  # every item in exactly one shard
    assert all(s for s in shards)
    reordered = [select_shard(list(reversed(items)), r, 3, method) for r in range(3)]
    assert [{it.id for it in s} for s in reordered] == [{it.id for it in s} for s in shards]
    if method == "round-robin":
        assert sorted(len(s) for s in shards) == [16, 17, 17]
    assert shard_index("v001", 3) == shard_index("v001", 3)


def test_two_ranks_via_env_equal_one_process(items, single, tmp_path, monkeypatch):
    out = tmp_path / "sharded"
    for rank in (1, 0):  # finishing order does not matter; the last one to finish merges
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        summary = run_sharded_from_args(_args(out), _evaluator(), items)
        assert summary is not None and summary.rank == rank and results_path(out, rank).exists()
    assert summary.merged == out / "results.jsonl" and "merged" in summary.line()
    sizes = [len(list(iter_records(results_path(out, r)))) for r in (0, 1)]
    assert sum(sizes) == len(items) and min(sizes) > 0
    merged = list(iter_records(out / "results.jsonl"))
    assert _core(merged) == _core(single)  # same records, in manifest order
    assert (out / "results.csv").read_text().count("\n") == len(items) + 1


def test_not_sharded_returns_none(items, tmp_path, monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert run_sharded_from_args(_args(tmp_path), _evaluator(), items) is None


def test_resume_per_shard_and_incomplete_merge(items, single, tmp_path):
    out = tmp_path / "resume"
    run_shard(_evaluator(), items, out, 0, 2, method="round-robin", progress=False)
    with pytest.raises(InputError, match="shard"):
        merge_shards(out)  # rank 1 never ran
    partial = merge_shards(out, allow_incomplete=True)
    assert 0 < len(list(iter_records(partial))) < len(items)
    with pytest.raises(InputError, match="`resume`"):
        run_shard(_evaluator(), items, out, 0, 2, method="round-robin", progress=False)
    again = run_shard(_evaluator(), items, out, 0, 2, method="round-robin", resume=True, progress=False)
    assert again.scored == 0 and again.skipped == again.total > 0
    with pytest.raises(InputError, match="sharded as 2"):
        run_shard(_evaluator(), items, out, 0, 3, method="round-robin", resume=True, progress=False)
    run_shard(_evaluator(), items, out, 1, 2, method="round-robin", progress=False)
    assert _core(list(iter_records(out / "results.jsonl"))) == _core(single)


def test_merge_shards_command(items, tmp_path):
    from aigve.commands import merge_shards as cmd

    out = tmp_path / "cmd"
    for rank in (0, 1):
        run_shard(_evaluator(), items[:4], out, rank, 2, progress=False, merge=False)
    assert not (out / "results.jsonl").exists()
    p = argparse.ArgumentParser().add_subparsers()
    cmd.register(p)
    assert cmd.run(argparse.Namespace(out=str(out), allow_incomplete=False)) == 0
    assert [r["id"] for r in iter_records(out / "results.jsonl")] == [it.id for it in items[:4]]


def test_two_processes_equal_one_process(shared_videos, single, tmp_path):
    """Two OS processes, as torchrun would start them (RANK/WORLD_SIZE), running at the same time."""
    out = tmp_path / "procs"
    code = (
        "import sys; from aigve.backends.fake import FakeBackend; from aigve.evaluator import Evaluator; "
        "from aigve.runner import collect_items; from aigve.sharding import resolve_shard, run_shard; "
        f"items = collect_items({str(shared_videos / 'manifest.csv')!r}); "
        f"run_shard(Evaluator(FakeBackend(seed=3), prefetch=1), items, {str(out)!r}, *resolve_shard(None), progress=False)"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "RANK": str(r), "WORLD_SIZE": "2"})
             for r in (0, 1)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert json.loads((out / "shard.rank1.json").read_text())["done"]
    assert _core(list(iter_records(out / "results.jsonl"))) == _core(single)


def test_two_processes_with_the_tiny_judge_equal_one_process(shared_videos, tiny_judge, tmp_path):
    """The same through the real CLI and the macs backend on the taught tiny model (greedy, so reproducible)."""
    from aigve.cli import main

    manifest = tmp_path / "m.csv"
    lines = (shared_videos / "manifest.csv").read_text().splitlines()[:5]
    manifest.write_text("\n".join(lines).replace("lavie_", str(shared_videos / "lavie_")) + "\n")
    base = ["score", str(manifest), "--model", str(tiny_judge), "--no-progress", "--max-new-tokens", "300"]
    assert main([*base, "--out", str(tmp_path / "one")]) == 0
    cmd = [sys.executable, "-m", "aigve.cli", *base, "--out", str(tmp_path / "two")]
    procs = [subprocess.Popen(cmd, env={**os.environ, "RANK": str(r), "WORLD_SIZE": "2"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for r in (0, 1)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0], [p.stderr.read().decode()[-2000:] for p in procs]
    one = _core(list(iter_records(tmp_path / "one" / "results.jsonl")))
    two = _core(list(iter_records(tmp_path / "two" / "results.jsonl")))
    assert len(one) == 4 and all(r["status"] == "ok" for r in one)
    assert sorted(two, key=lambda r: r["id"]) == sorted(one, key=lambda r: r["id"])


def test_ranks_started_with_different_options_are_refused_before_any_record(items, tmp_path):
    """A typo on one node of a fresh launch: rank 1 sees rank 0's recorded spec (its state file is written
    before scoring starts) and refuses, even though rank 0 has no record yet."""
    out = tmp_path / "launch"
    out.mkdir()
    (out / "shard.rank0.json").write_text(json.dumps({"rank": 0, "world": 2, "method": "hash", "done": False,
                                                      "ids": [], "positions": [], "spec": {"backend": "signals"}}))
    with pytest.raises(InputError, match=r"shard 0 .*backend: 'signals' -> 'fake'"):
        run_shard(_evaluator(), items[:4], out, 1, 2, progress=False, spec={"backend": "fake"})
    assert not results_path(out, 1).exists()
    run_shard(_evaluator(), items[:4], out / "ok", 1, 2, progress=False, spec={"backend": "fake"})  # fresh folder


def test_merge_refuses_shards_scored_with_different_options(items, tmp_path):
    out = tmp_path / "mixed"
    run_shard(_evaluator(), items[:4], out, 0, 2, progress=False, merge=False, spec={"backend": "fake"})
    run_shard(_evaluator(), items[:4], out, 1, 2, progress=False, merge=False, spec={"backend": "fake"})
    state = json.loads((out / "shard.rank1.json").read_text())
    state["spec"] = {"backend": "signals"}  # as if rank 1 had been rescored alone with other options
    (out / "shard.rank1.json").write_text(json.dumps(state))
    with pytest.raises(InputError, match="different options"):
        merge_shards(out)
