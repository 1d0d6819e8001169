"""aigve leaderboard: recovers known orderings, covers the truth at the stated rate, writes every file."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from aigve.cli import main
from aigve.core import stats as S
from aigve.errors import ConfigError
from aigve.report.lb_data import Item, choose_score_kind, load_items
from aigve.report.leaderboard import compute_leaderboard, score_table

ASPECTS = ("technical_quality", "dynamic", "overall")


def _items(shifts: dict[str, float], n_prompts: int, per_prompt: int, rng: np.random.Generator, *,
           noise: float = 0.5, expected: bool = False) -> list[Item]:
    """Synthetic generators: score = prompt difficulty + generator shift + noise, shared prompts."""
    difficulty = rng.normal(2.5, 0.8, n_prompts)
    items = []
    for g, shift in shifts.items():
        for p in range(n_prompts):
            for v in range(per_prompt):
                sc = {a: float(difficulty[p] + shift + rng.normal(0, noise)) for a in ASPECTS}
                ints = {a: float(np.clip(np.round(x), 0, 5)) for a, x in sc.items()}
                items.append(Item(f"{g}-{p}-{v}", g, f"prompt {p}", None, "synthetic", ints,
                                  sc if expected else {}, {}))
    return items


def _write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_score_table_sums_and_counts_by_hand():
    items = [Item("1", "a", "p", None, "s", {"overall": 2.0}), Item("2", "a", "p", None, "s", {"overall": 4.0}),
             Item("3", "b", "q", None, "s", {"overall": 1.0}), Item("4", "b", "p", None, "s", {}, error="boom")]
    t = score_table(items, ["a", "b"], ["p", "q"], "overall", ["overall"], "integer")
    assert t.sums.tolist() == [[6.0, 0.0], [0.0, 1.0]]
    assert t.counts.tolist() == [[2.0, 0.0], [0.0, 1.0]]


def test_recovers_known_order_and_separates_clear_gaps():
    items = _items({"best": 1.0, "mid": 0.0, "worst": -1.0}, 20, 2, np.random.default_rng(1), expected=True)
    data = compute_leaderboard(items, n_boot=300, seed=0)
    assert data["settings"]["score_kind"] == "expected"
    mean = data["table"]["mean"]
    assert [g for g, _ in sorted(mean.items(), key=lambda kv: kv[1]["rank"])] == ["best", "mid", "worst"]
    assert mean["best"]["rank_low"] == mean["best"]["rank_high"] == 1.0
    assert all(not p["indistinguishable"] for p in data["pairs"]["mean"])
    pair = next(p for p in data["pairs"]["mean"] if (p["a"], p["b"]) == ("best", "worst"))
    assert pair["win_rate_a"] == 1.0 and pair["n_shared_prompts"] == 20


def test_equal_generators_are_reported_indistinguishable():
    items = _items({"x": 0.0, "y": 0.0}, 6, 1, np.random.default_rng(5), noise=0.3)
    data = compute_leaderboard(items, n_boot=200, seed=0, score_kind="integer")
    pair = data["pairs"]["overall"][0]
    assert pair["exact"]  # 6 prompts -> all 64 sign patterns
    assert pair["indistinguishable"]
    assert any("x and y are statistically indistinguishable" in line for line in data["indistinguishable"])


def test_p_value_is_the_exact_sign_flip_of_prompt_means():
    items = _items({"x": 0.4, "y": 0.0}, 5, 2, np.random.default_rng(2))
    data = compute_leaderboard(items, n_boot=0, score_kind="integer")
    t = score_table(items, ["x", "y"], sorted({i.prompt for i in items}), "overall", list(ASPECTS), "integer")
    m = t.prompt_means()
    want = S.sign_flip_test(m[0] - m[1]).p_value
    assert data["pairs"]["overall"][0]["p_value"] == pytest.approx(want)
    assert data["pairs"]["overall"][0]["p_holm"] == pytest.approx(want)  # one pair: Holm changes nothing


def test_ci_coverage_near_nominal_in_a_simulation():
    """200 simulated leaderboards: the prompt-clustered 95% CI of a generator's mean covers the true
    mean (prompt population mean 2.5 + shift) about 95% of the time, though videos of a prompt correlate."""
    rng = np.random.default_rng(123)
    covered = 0
    for _ in range(200):
        items = _items({"g": 0.3}, 30, 3, rng, noise=0.4, expected=True)
        row = compute_leaderboard(items, n_boot=300, seed=int(rng.integers(1 << 30)))["table"]["overall"]["g"]
        covered += row["ci_low"] <= 2.8 <= row["ci_high"]
    assert 0.88 <= covered / 200 <= 0.99


def test_different_prompt_sets_use_the_intersection_and_say_so():
    rng = np.random.default_rng(0)
    items = _items({"a": 0.0}, 6, 1, rng) + [i for i in _items({"b": 0.0}, 6, 1, rng) if i.prompt != "prompt 0"]
    data = compute_leaderboard(items, n_boot=50, score_kind="integer")
    assert data["pairs"]["overall"][0]["n_shared_prompts"] == 5
    assert any("intersection" in n for n in data["notes"])
    assert any("a vs b: 5 shared prompts (a: 6, b: 5)" in n for n in data["notes"])


def test_score_kind_choice():
    with_exp = [Item("1", "a", "p", None, "s", {"overall": 3.0}, {"overall": 3.2})]
    without = [*with_exp, Item("2", "a", "p", None, "s", {"overall": 3.0})]
    assert choose_score_kind(with_exp) == "expected"
    assert choose_score_kind(without) == "integer"
    assert choose_score_kind(with_exp, "integer") == "integer"
    with pytest.raises(ConfigError, match="expected scores"):
        choose_score_kind(without, "expected")


def test_generator_from_meta_column_or_name(tmp_path):
    recs = [{"id": "v1", "prompt": "p1", "scores": {"overall": 3}, "meta": {"generator": "cog"}},
            {"id": "v2", "prompt": "p1", "scores": {"overall": 4}, "model": "lavie"},
            {"id": "v3", "prompt": "p1", "scores": {"overall": 2}}]
    path = _write_jsonl(tmp_path / "r.jsonl", recs)
    assert [i.generator for i in load_items([path])] == ["cog", "r", "r"]
    assert [i.generator for i in load_items([path], by="model")] == ["r", "lavie", "r"]
    assert {i.generator for i in load_items([f"mine={path}"])} == {"mine"}


def test_cli_end_to_end_on_shared_clips(shared_videos, tmp_path, capsys):
    manifest = shared_videos / "manifest.csv"
    for backend in ("fake", "signals"):
        assert main(["score", str(manifest), "--backend", backend, "--out", str(tmp_path / backend),
                     "--no-progress"]) == 0
    out = tmp_path / "lb"
    code = main(["leaderboard", f"fake={tmp_path / 'fake' / 'results.jsonl'}",
                 f"signals={tmp_path / 'signals' / 'results.jsonl'}", "--out", str(out), "--examples", "2",
                 "--bootstrap", "200"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "leaderboard written to" in printed and "integer scores" in printed
    for name in ("leaderboard.md", "leaderboard.html", "leaderboard.json", "leaderboard.csv",
                 "plots/means.png", "plots/winrate.png", "plots/radar.png", "examples/example_01.png",
                 "examples/example_02.png"):
        assert (out / name).is_file(), name
    data = json.loads((out / "leaderboard.json").read_text())
    assert data["settings"]["cluster_by"] == "prompt" and data["n_prompts"] == 11
    assert {g["name"]: g["n_videos"] for g in data["generators"]} == {"fake": 11, "signals": 11}
    assert len(data["examples"]["items"]) == 2
    md = (out / "leaderboard.md").read_text()
    assert "[fake]" in md and "Computed only from what pixels can tell" in md  # both judges' comments
    rows = list(csv.DictReader((out / "leaderboard.csv").open()))
    assert {r["section"] for r in rows} == {"ranking", "pair"}
    # reproducible: same seed -> same numbers
    main(["leaderboard", f"fake={tmp_path / 'fake' / 'results.jsonl'}",
          f"signals={tmp_path / 'signals' / 'results.jsonl'}", "--out", str(tmp_path / "lb2"), "--bootstrap", "200",
          "--no-plots"])
    again = json.loads((tmp_path / "lb2" / "leaderboard.json").read_text())
    assert again["table"] == data["table"] and again["pairs"] == data["pairs"]


def test_signals_ranks_clips_degraded_by_known_amounts(tmp_path):
    """Blur by increasing amounts: the signals backend's technical quality ranks them in that order."""
    from scipy.ndimage import uniform_filter

    from aigve.evaluator import load_evaluator
    from aigve.testing.videos import make_clip, write_video

    recs = []
    with load_evaluator("signals") as ev:
        for p in range(4):
            clip = make_clip("moving", num_frames=16, size=(96, 96), seed=p)
            for g, blur in (("sharp", 1), ("soft", 5), ("blurry", 11)):
                frames = uniform_filter(clip, size=(1, blur, blur, 1)) if blur > 1 else clip
                path = write_video(tmp_path / f"{g}_{p}.mp4", frames)
                r = ev.evaluate(path, f"prompt {p}", id=f"{g}_{p}")
                assert r.ok, r.error
                recs.append({**r.to_record(), "meta": {"generator": g}})
    results = _write_jsonl(tmp_path / "results.jsonl", recs)
    data = compute_leaderboard(load_items([results]), n_boot=100)
    tq = data["table"]["technical_quality"]
    assert [g for g, _ in sorted(tq.items(), key=lambda kv: kv[1]["rank"])] == ["sharp", "soft", "blurry"]


def _two_generator_results(tmp_path, video=None):
    recs = []
    for g, shift in (("cog", 1), ("lavie", 0)):
        for p in range(4):
            recs.append({"id": f"{g}{p}", "prompt": f"p{p}", "video": video, "meta": {"generator": g},
                         "scores": {"overall": 2 + shift + (p % 2), "dynamic": 3}, "comments": {"overall": f"{g} says"}})
    return _write_jsonl(tmp_path / "results.jsonl", recs)


def test_web_ui_leaderboard_tab_builds_and_hides_server_paths(tmp_path, shared_videos):
    from aigve.webui.leaderboard_tab import build
    from aigve.webui.service import ServiceConfig, WebService

    svc = WebService(ServiceConfig(backend="fake", allowed_dirs=(str(shared_videos),), work_dir=str(tmp_path / "w")))
    clip = str(sorted(shared_videos.glob("*.mp4"))[0])
    path = _two_generator_results(tmp_path, video=clip)
    md, plots, downloads = build(svc, [str(path)], "generator", False, 100, 1)
    assert "cog" in md and "lavie" in md and str(tmp_path) not in md
    assert any("means" in p for p, _ in plots) and any("example 1" in c for _, c in plots)
    assert {Path(d).name for d in downloads} == {"leaderboard.html", "leaderboard.md", "leaderboard.json",
                                                  "leaderboard.csv"}
    # a video outside the allowed folders gets no frames (the example stays, with its comments)
    outside = WebService(ServiceConfig(backend="fake", work_dir=str(tmp_path / "w2")))
    md2, plots2, _ = build(outside, [str(path)], "generator", False, 0, 1)
    assert not any("example" in c for _, c in plots2) and "frames not shown" in md2
    from aigve.webui.safety import RequestRefused

    with pytest.raises(RequestRefused, match="upload at least one"):
        build(svc, [], "generator", False, 0, 0)


def test_web_ui_app_has_a_leaderboard_tab(tmp_path):
    from aigve.webui.app import build_app
    from aigve.webui.service import ServiceConfig, WebService

    demo = build_app(WebService(ServiceConfig(backend="fake", work_dir=str(tmp_path))))
    assert "leaderboard" in {fn.api_name for fn in demo.fns.values()}


def test_counts_failures_and_partial_results():
    items = [Item("1", "a", "p", None, "s", {"overall": 3.0, "dynamic": 2.0}),
             Item("2", "a", "q", None, "s", {"overall": 4.0}),  # dynamic missing: partial
             Item("3", "a", "r", None, "s", {}, error="undecodable"),
             Item("4", "b", "p", None, "s", {"overall": 1.0, "dynamic": 1.0}),
             Item("5", "b", "q", None, "s", {"overall": 2.0, "dynamic": 5.0})]
    data = compute_leaderboard(items, n_boot=20, score_kind="integer")
    gens = {g["name"]: g for g in data["generators"]}
    assert (gens["a"]["n_videos"], gens["a"]["n_failures"], gens["a"]["n_partial"], gens["a"]["n_prompts"]) == (3, 1, 1, 2)
    assert (gens["b"]["n_videos"], gens["b"]["n_failures"], gens["b"]["n_partial"]) == (2, 0, 0)
    # the mean of aspects needs every shared aspect: item 2 is left out of it
    assert data["table"]["mean"]["a"]["n"] == 1 and data["table"]["overall"]["a"]["n"] == 2
    assert data["table"]["overall"]["a"]["mean"] == pytest.approx(3.5)


def test_mixed_expected_scores_fall_back_to_integer_and_say_why():
    items = [Item("1", "a", "p", None, "s", {"overall": 3.0}, {"overall": 3.4}),
             Item("2", "b", "p", None, "s", {"overall": 2.0})]
    data = compute_leaderboard(items, n_boot=0)
    assert data["settings"]["score_kind"] == "integer"
    assert any("expected scores exist for only 1 of 2" in n for n in data["notes"])


def test_generators_without_shared_prompts_are_not_called_indistinguishable():
    items = [Item("1", "a", "p", None, "s", {"overall": 3.0}), Item("2", "b", "q", None, "s", {"overall": 1.0})]
    data = compute_leaderboard(items, n_boot=10)
    pair = data["pairs"]["overall"][0]
    assert pair["n_shared_prompts"] == 0 and pair["p_value"] is None and pair["indistinguishable"] is None
    assert data["indistinguishable"] == ["Overall: a and b were not compared (no shared prompt)"]


def test_examples_pick_the_largest_differences_for_a_chosen_pair(tmp_path):
    from aigve.report.lb_examples import find_examples

    items = []
    for g, scores in (("a", [5, 3, 4]), ("b", [1, 3, 3]), ("c", [0, 0, 0])):
        items += [Item(f"{g}{p}", g, f"p{p}", None, "s", {"overall": float(v)}, {}, {"overall": f"{g}{p} note"})
                  for p, v in enumerate(scores)]
    data = compute_leaderboard(items, n_boot=0, score_kind="integer")
    ex = find_examples(items, data, tmp_path, k=2, pair=("a", "b"))
    assert [(e["a"]["id"], e["b"]["id"], e["difference"]) for e in ex["items"]] == [("a0", "b0", 4.0), ("a2", "b2", 1.0)]
    assert ex["items"][0]["a"]["comment"] == "a0 note" and "image_error" in ex["items"][0]  # no video to show
    with pytest.raises(ConfigError, match="two of the generators"):
        find_examples(items, data, tmp_path, k=1, pair=("a", "zz"))
