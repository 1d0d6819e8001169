"""Gains (pure math, hand-computed), summary building, aggregation across prompts, trace writing."""

from __future__ import annotations

import json

from aigve.aspects import ASPECT_KEYS
from aigve.refine.trace import TraceWriter, aggregate, aspect_gains, build_summary, gain, read_trace


def test_gain_hand_values():
    assert gain(2, 3) == {"round0": 2, "best": 3, "abs_gain": 1, "rel_gain": 0.5}
    assert gain(2.5, 4.75) == {"round0": 2.5, "best": 4.75, "abs_gain": 2.25, "rel_gain": 0.9}
    assert gain(0, 5)["rel_gain"] is None and gain(0, 5)["abs_gain"] == 5
    assert gain(None, 4)["abs_gain"] is None and gain(3, None)["rel_gain"] is None
    assert gain(4, 2)["rel_gain"] == -0.5


def test_aspect_gains_cover_all_nine_keys():
    gains = aspect_gains({"dynamic": 2, "consistency": 1}, {"dynamic": 3, "consistency": 4})
    assert list(gains) == list(ASPECT_KEYS)
    assert gains["consistency"]["abs_gain"] == 3 and gains["consistency"]["rel_gain"] == 3.0
    assert gains["physics"]["abs_gain"] is None


def test_build_summary_compares_round0_with_best_round():
    rounds = [{"round": 0, "status": "ok", "scores": {"dynamic": 2}, "objective": 2.0, "prompt": "p"},
              {"round": 1, "status": "ok", "scores": {"dynamic": 4}, "objective": 4.0, "prompt": "p, x"},
              {"round": 2, "status": "ok", "scores": {"dynamic": 3}, "objective": 3.0, "prompt": "p, x, y"}]
    s = build_summary("p", rounds, 1, "patience", "detail", "mean", total_s=1.0)
    assert s["best_round"] == 1 and s["best_prompt"] == "p, x" and s["stop_rule"] == "patience"
    assert s["objective"] == {"name": "mean", "round0": 2.0, "best": 4.0, "abs_gain": 2.0, "rel_gain": 1.0}
    assert s["aspects"]["dynamic"]["abs_gain"] == 2 and s["total_s"] == 1.0
    assert [h["objective"] for h in s["history"]] == [2.0, 4.0, 3.0]
    failed = build_summary("p", [{"round": 0, "status": "generation_failed", "prompt": "p"}], None,
                           "generation_failed", "boom", "mean")
    assert failed["objective"]["abs_gain"] is None and failed["best_video"] is None


def test_aggregate_mean_relative_gain():
    def s(rel, absolute, rule):
        return {"objective": {"rel_gain": rel, "abs_gain": absolute}, "stop_rule": rule}

    agg = aggregate([s(0.5, 1.0, "rounds"), s(0.25, 0.5, "target"), s(None, 2.0, "rounds"), s(0.0, 0.0, "patience")])
    assert agg["mean_relative_gain"] == 0.25  # (0.5 + 0.25 + 0) / 3
    assert agg["mean_abs_gain"] == 0.875
    assert agg["without_relative_gain"] == 1 and agg["improved"] == 3
    assert agg["stop_rules"] == {"rounds": 2, "target": 1, "patience": 1}


def test_trace_lines_are_on_disk_after_each_event(tmp_path):
    writer = TraceWriter(tmp_path)
    writer.event("round", round=0, prompt="p")
    lines = (tmp_path / "trace.jsonl").read_text().splitlines()  # readable before close: flushed
    assert json.loads(lines[0])["event"] == "round"
    writer.event("stop", stop_rule="rounds")
    writer.close()
    assert [e["event"] for e in read_trace(tmp_path)] == ["round", "stop"]
