"""Agreement report: cluster (prompt) bootstrap and the two "mean of aspects", pinned by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from aigve.annotations import Annotation
from aigve.report.build import build_report
from aigve.report.clustered import cluster_draws, cluster_members, clustered_agreement, mean_of_aspect_srcc
from aigve.report.inputs import ScoreFile, ScoreRecord


def test_cluster_draws_take_whole_clusters():
    clusters = ["p", "q", "p", "r", "q", "q"]
    assert [list(m) for m in cluster_members(clusters)] == [[0, 2], [1, 4, 5], [3]]
    rows = cluster_draws(clusters, 5, seed=3)
    draws = np.random.default_rng(3).integers(0, 3, size=(5, 3))
    members = [[0, 2], [1, 4, 5], [3]]
    assert [list(r) for r in rows] == [[i for c in d for i in members[c]] for d in draws]


def test_clustered_srcc_interval_computed_independently():
    h = np.array([1, 2, 3, 4, 5, 2, 4, 1, 3, 5], dtype=float)
    m = np.array([2, 2, 3, 5, 4, 1, 4, 2, 2, 5], dtype=float)
    clusters = ["a", "a", "b", "b", "c", "c", "d", "d", "e", "e"]
    est = clustered_agreement(h, m, clusters, n_boot=300, seed=9)
    draws = np.random.default_rng(9).integers(0, 5, size=(300, 5))
    vals = []
    for d in draws:
        idx = [2 * c + j for c in d for j in (0, 1)]
        if np.ptp(h[idx]) and np.ptp(m[idx]):
            vals.append(stats.spearmanr(h[idx], m[idx])[0])
    assert est["srcc"].value == pytest.approx(stats.spearmanr(h, m)[0])
    assert est["srcc"].n_boot_valid == len(vals)
    assert (est["srcc"].ci_low, est["srcc"].ci_high) == pytest.approx(tuple(np.quantile(vals, [0.025, 0.975])))


def test_mean_of_aspect_srcc():
    assert mean_of_aspect_srcc([0.2, None, 0.6]) == {"value": pytest.approx(0.4), "n_aspects": 2}
    assert mean_of_aspect_srcc([None]) == {"value": None, "n_aspects": 0}


def _tiny():
    # 6 items on 3 prompts; two aspects scored by humans and by the model
    human = {"technical_quality": [1, 2, 3, 4, 5, 3], "dynamic": [2, 2, 4, 1, 5, 3]}
    model = {"technical_quality": [1, 3, 2, 4, 5, 4], "dynamic": [1, 2, 5, 2, 4, 2]}
    anns = [Annotation(f"v{i}", f"v{i}.mp4", f"prompt {i // 2}", {k: float(v[i]) for k, v in human.items()})
            for i in range(6)]
    recs = [ScoreRecord(f"v{i}", f"v{i}.mp4", {k: float(v[i]) for k, v in model.items()}) for i in range(6)]
    return human, model, anns, ScoreFile("sys", Path("sys.csv"), recs)


def test_both_means_of_aspects_by_hand():
    human, model, anns, system = _tiny()
    from aigve.report.compute import compute

    metrics = compute([system], anns, n_boot=50, cluster_by="prompt").metrics
    per_aspect = [stats.spearmanr(human[k], model[k])[0] for k in ("technical_quality", "dynamic")]
    assert metrics["mean_of_aspect_srcc"]["sys"]["value"] == pytest.approx(np.mean(per_aspect))
    hm = np.mean([human["technical_quality"], human["dynamic"]], axis=0)
    mm = np.mean([model["technical_quality"], model["dynamic"]], axis=0)
    assert metrics["agreement"]["sys"]["mean"]["srcc"]["value"] == pytest.approx(stats.spearmanr(hm, mm)[0])
    assert metrics["settings"]["cluster_by"] == "prompt"


def test_build_report_auto_clusters_and_says_so(tmp_path):
    _, _, anns, system = _tiny()
    path = tmp_path / "sys.csv"
    path.write_text("id,technical_quality,dynamic\n" + "".join(
        f"{r.id},{int(r.scores['technical_quality'])},{int(r.scores['dynamic'])}\n" for r in system.records))
    report = build_report([str(path)], anns, tmp_path / "out", n_boot=50, plots=False, embeddings=False)
    assert report.metrics["settings"]["cluster_by"] == "prompt"
    md = (tmp_path / "out" / "report.md").read_text()
    assert "resampling whole prompt clusters" in md
    assert "SRCC of per-item means" in md and "mean of the per-aspect SRCCs" in md
    off = build_report([str(path)], anns, None, n_boot=50, cluster_by="none", embeddings=False)
    assert off.metrics["settings"]["cluster_by"] is None


def test_report_uses_expected_scores_when_every_record_has_them(tmp_path):
    import json

    _, _, anns, _ = _tiny()
    exp = [1.2, 2.9, 2.1, 4.4, 4.6, 3.3]
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps({"id": f"v{i}", "scores": {"technical_quality": round(e)},
                                        "expected_scores": {"technical_quality": e}}) + "\n"
                            for i, e in enumerate(exp)))
    auto = build_report([str(path)], anns, None, n_boot=0, embeddings=False)
    assert auto.metrics["settings"]["score_kind"] == {"r": "expected"}
    assert any("compared on expected scores" in n for n in auto.metrics["notes"])
    h = [a.scores["technical_quality"] for a in anns]
    assert auto.metrics["agreement"]["r"]["technical_quality"]["srcc"]["value"] == pytest.approx(stats.spearmanr(h, exp)[0])
    ints = build_report([str(path)], anns, None, n_boot=0, embeddings=False, score_kind="integer")
    assert ints.metrics["settings"]["score_kind"] == {"r": "integer"}
