"""build_report end to end on a synthetic benchmark, the CLI, the released model's real outputs, and
`aigve score --backend fake` output."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from aigve.report import build_report

ASPECTS = ("technical_quality", "physics", "action_quality", "dynamic")
N = 60


def _synthetic(tmp_path: Path) -> dict:
    """Human AIGVE-Bench-style JSON (60 items, 3 generators, comments), system A as results.jsonl
    (fake backend, 58 items + 1 stray + 1 failed), system B as CSV (noisier)."""
    rng = np.random.default_rng(0)
    human = {k: rng.integers(1, 6, N) for k in ASPECTS}
    human["dynamic"] = np.full(N, 3)  # constant: every correlation on it is undefined
    human["action_quality"][:10] = 0  # "no action"
    entries = []
    for i in range(N):
        entry = {"video_path_pd": f"videos/g{i % 3}_{i}.mp4", "prompt_gt": f"prompt {i}", "model": f"g{i % 3}"}
        for k in ASPECTS:
            entry[k] = {"score": int(human[k][i]), "comment": f"the {k} of clip {i} is rated {human[k][i]}"}
        entries.append(entry)
    human_path = tmp_path / "human.json"
    human_path.write_text(json.dumps({"metainfo": {"name": "synthetic"}, "data_list": entries}))
    a = {k: np.clip(human[k] + rng.integers(-1, 2, N), 0, 5) for k in ASPECTS}
    b = {k: np.clip(human[k] + rng.integers(-3, 4, N), 0, 5) for k in ASPECTS}
    records = []
    for i in range(58):
        records.append({"id": f"run{i}", "video": f"/somewhere/g{i % 3}_{i}.mp4", "prompt": f"prompt {i}",
                        "scores": {k: int(a[k][i]) for k in ASPECTS},
                        "comments": {k: f"the {k} of clip {i} looks like {a[k][i]}" for k in ASPECTS},
                        "error": None, "backend": {"name": "fake", "model": None}})
    records[5] = {**records[5], "scores": {k: None for k in ASPECTS}, "error": {"message": "decode failed"}}
    records.append({"id": "stray", "video": "/x/stray.mp4", "scores": {"physics": 3}, "error": None,
                    "backend": {"name": "fake"}})
    a_path = tmp_path / "run_a" / "results.jsonl"
    a_path.parent.mkdir()
    a_path.write_text("".join(json.dumps(r) + "\n" for r in records))
    b_path = tmp_path / "sys_b.csv"
    with open(b_path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", *ASPECTS])
        w.writerows([f"g{i % 3}_{i}", *(int(b[k][i]) for k in ASPECTS)] for i in range(N))
    return {"human": human, "a": a, "b": b, "human_path": human_path, "a_path": a_path, "b_path": b_path}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("synthetic")
    data = _synthetic(tmp)
    data["report"] = build_report([data["a_path"], data["b_path"]], data["human_path"], tmp / "out",
                                  group_by="generator", n_boot=200, seed=0, embeddings=False)
    return data


def test_synthetic_report_numbers_match_scipy(synthetic):
    m = synthetic["report"].metrics
    assert [s["name"] for s in m["systems"]] == ["run_a", "sys_b"]
    ok = [i for i in range(58) if i != 5]  # system A: item 5 failed, 58/59 never scored
    for k in ("technical_quality", "physics", "action_quality"):
        h, a = synthetic["human"][k][ok], synthetic["a"][k][ok]
        est = m["agreement"]["run_a"][k]
        assert est["srcc"]["n"] == len(ok)
        assert est["srcc"]["value"] == pytest.approx(stats.spearmanr(h, a).statistic)
        assert est["plcc"]["value"] == pytest.approx(stats.pearsonr(h, a).statistic)
        assert est["krcc"]["value"] == pytest.approx(stats.kendalltau(h, a).statistic)
        assert est["srcc"]["ci_low"] <= est["srcc"]["value"] <= est["srcc"]["ci_high"]
        b_est = m["agreement"]["sys_b"][k]["srcc"]
        assert b_est["value"] == pytest.approx(stats.spearmanr(synthetic["human"][k], synthetic["b"][k]).statistic)
    dyn = m["agreement"]["run_a"]["dynamic"]
    assert dyn["srcc"]["value"] is None and dyn["srcc"]["ci_low"] is None and dyn["pairwise_acc"]["value"] is None
    assert dyn["exact_acc"]["value"] is not None  # accuracy is still defined
    mean = m["agreement"]["run_a"]["mean"]["srcc"]
    hm = np.mean([synthetic["human"][k][ok] for k in ASPECTS], axis=0)
    am = np.mean([synthetic["a"][k][ok] for k in ASPECTS], axis=0)
    assert mean["value"] == pytest.approx(stats.spearmanr(hm, am).statistic)


def test_synthetic_report_inputs_groups_and_comparisons(synthetic):
    m = synthetic["report"].metrics
    a, b = m["systems"]
    assert a["unmatched_scores"] == ["stray"] and a["unmatched_human"] == ["g1_58", "g2_59"]
    assert a["n_errors"] == 1 and a["n_matched"] == 58
    assert "NOT A REAL EVALUATION" in a["disclaimer"] and b["disclaimer"] is None
    assert b["unmatched_scores"] == [] and b["unmatched_human"] == []
    groups = m["groups"]["by_system"]["run_a"]
    assert sorted(groups) == ["g0", "g1", "g2"]
    assert sum(groups[g]["physics"]["srcc"]["n"] for g in groups) == 57
    comps = {c["aspect"]: c for c in m["comparisons"]}
    assert comps["physics"]["n"] == 57 and comps["physics"]["p_value"] is not None
    assert comps["dynamic"]["diff"] is None
    comments = m["comments"]
    assert comments["by_system"]["run_a"]["all"]["n"] == 57 * 4
    assert 0 < comments["by_system"]["run_a"]["physics"]["rouge_l"] < 1
    assert comments["by_system"]["run_a"]["physics"]["embedding"] is None
    assert "embedding similarity not computed (option off)" in comments["notes"]
    assert comments["not_computed"] == {"embedding": "option off"}  # null on purpose, not undefined
    assert "sys_b" not in comments["by_system"]  # a CSV has no comments


def test_measures_not_computed_say_so_not_undefined(synthetic):
    out = synthetic["report"].out_dir
    md = (out / "report.md").read_text()
    section = md[md.index("## Comment quality"):md.index("## Score distributions")]
    rows = [line for line in section.splitlines() if line.startswith("| Physics")]
    assert rows and all(line.rstrip(" |").endswith("| not computed") for line in rows)
    assert "undefined" not in section and "--no-embeddings" not in md
    assert "not computed</td>" in (out / "report.html").read_text()
    emb = [r for r in csv.DictReader(open(out / "metrics.csv")) if r["section"] == "comments" and r["metric"] == "embedding"]
    assert emb and {r["value"] for r in emb} == {"not computed"}


def test_markdown_shows_definitions_as_written(synthetic):
    markdown_it = pytest.importorskip("markdown_it")
    md = (synthetic["report"].out_dir / "report.md").read_text()
    definitions = md[md.index("## Definitions"):]
    html = markdown_it.MarkdownIt("commonmark").enable("table").render(definitions)
    assert "<em>" not in html and "<strong>" not in html and "<code>" not in html
    assert "(#d*&lt;=0 + 1)/(B+1), (#d*&gt;=0 + 1)/(B+1)" in html  # the formula, literally
    assert "zero_as_na" in definitions and "\\_" not in definitions  # ids keep their underscores readable


def test_synthetic_report_files(synthetic):
    report = synthetic["report"]
    out = report.out_dir
    for name in ("report.md", "report.html", "metrics.json", "metrics.csv"):
        assert (out / name).is_file()
    pngs = sorted(p.name for p in (out / "plots").glob("*.png"))
    assert pngs == ["hist_0.png", "hist_1.png", "scatter_0.png", "scatter_1.png", "srcc.png"]
    for p in (out / "plots").glob("*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "report.md").read_text()
    assert "NOT A REAL EVALUATION" in md and "](plots/srcc.png)" in md
    assert "undefined" in md and "stray" in md and "g1_58" in md
    assert md.index("NOT A REAL EVALUATION") < md.index("## Agreement")
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 5 and 'src="plots/' not in html
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["agreement"]["run_a"]["dynamic"]["srcc"]["value"] is None
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    dyn = [r for r in rows if r["section"] == "agreement" and r["system"] == "run_a" and r["aspect"] == "dynamic"
           and r["metric"] == "srcc"]
    assert dyn[0]["value"] == "undefined"
    srcc = [r for r in rows if r["section"] == "agreement" and r["system"] == "sys_b" and r["aspect"] == "physics"
            and r["metric"] == "srcc"]
    assert float(srcc[0]["value"]) == pytest.approx(metrics["agreement"]["sys_b"]["physics"]["srcc"]["value"])


def test_zero_as_na_drops_absent_actions(tmp_path):
    data = _synthetic(tmp_path)
    counted = build_report([data["b_path"]], data["human_path"], None, n_boot=0, embeddings=False)
    dropped = build_report([data["b_path"]], data["human_path"], None, n_boot=0, zero_as_na=True, embeddings=False)
    h, b = data["human"]["action_quality"], data["b"]["action_quality"]
    keep = (h != 0) & (b != 0)
    assert counted.metrics["agreement"]["sys_b"]["action_quality"]["srcc"]["n"] == N
    est = dropped.metrics["agreement"]["sys_b"]["action_quality"]["srcc"]
    assert est["n"] == int(keep.sum())
    assert est["value"] == pytest.approx(stats.spearmanr(h[keep], b[keep]).statistic)
    assert est["ci_low"] is None  # n_boot=0


def test_model_only_report(tmp_path):
    data = _synthetic(tmp_path)
    report = build_report([("B", data["b_path"])], None, tmp_path / "out", n_boot=10)
    d = report.metrics["distributions"]["B"]["physics"]["model"]
    assert d["n"] == N and sum(d["counts"].values()) == N
    assert (tmp_path / "out" / "plots" / "dist_0.png").is_file()
    assert "distributions only" in (tmp_path / "out" / "report.md").read_text()


def test_cut_off_results_file_is_noted_in_the_report(tmp_path, capsys):
    from aigve.cli import main

    data = _synthetic(tmp_path)
    with open(data["a_path"], "a", encoding="utf-8") as fh:
        fh.write('{"id": "run58", "video": "/somewhere/g1_58.mp4", "scores": {"phys')  # killed mid-write
    out = tmp_path / "out"
    assert main(["report", "--scores", str(data["a_path"]), "--human", str(data["human_path"]), "--out", str(out),
                 "--bootstrap", "0", "--no-embeddings", "--no-plots"]) == 0
    note = f"{data['a_path']}: last line is incomplete (interrupted run?); 1 line skipped (line 60)"
    assert f"note: {note}" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert note in metrics["notes"]
    (system,) = metrics["systems"]
    assert system["skipped_lines"] == [60] and system["n_records"] == 59
    assert note in (out / "report.md").read_text()
    assert "interrupted run?" in (out / "report.html").read_text()


def test_cli_report_and_errors(tmp_path, capsys):
    from aigve.cli import main

    data = _synthetic(tmp_path)
    out = tmp_path / "cli"
    code = main(["report", "--scores", f"A={data['a_path']}", "--scores", str(data["b_path"]),
                 "--human", str(data["human_path"]), "--out", str(out), "--group-by", "generator",
                 "--bootstrap", "50", "--seed", "1", "--no-embeddings", "--no-plots"])
    printed = capsys.readouterr().out
    assert code == 0 and "NOT A REAL EVALUATION" in printed and "Physics" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert [s["name"] for s in metrics["systems"]] == ["A", "sys_b"]
    assert metrics["settings"]["bootstrap"] == 50 and metrics["plots"] == {}
    bad = tmp_path / "bad.csv"
    bad.write_text("id,physics\nx,3\ny,three\n")
    assert main(["report", "--scores", str(bad), "--human", str(data["human_path"]), "--out", str(out),
                 "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "row 3" in err and "not a number" in err
    assert main(["report", "--scores", f"x={data['b_path']}", "--scores", f"x={data['a_path']}",
                 "--out", str(out), "--overwrite"]) == 2
    assert "unique" in capsys.readouterr().err


def test_released_model_agrees_with_humans(macs_outputs, capsys):
    """Real numbers: the released AIGVE-MACS outputs (parsed from raw text) against AIGVE-Bench humans."""
    if not macs_outputs.is_file():
        pytest.skip(f"{macs_outputs} missing")
    try:
        report = build_report([("AIGVE-MACS", macs_outputs)], macs_outputs, None, n_boot=200, embeddings=False)
    except NotImplementedError:
        pytest.skip("aigve.parsing.parse_response not implemented yet")
    m = report.metrics
    assert m["systems"][0]["n_matched"] == 149 and m["systems"][0]["n_parse_failures"] == 0
    assert m["human"]["aspects"] == ["technical_quality", "physics", "element_presence", "element_quality",
                                     "action_presence", "action_quality"]
    with capsys.disabled():
        print("\nAIGVE-MACS vs AIGVE-Bench humans (149-video sample)")
        for aspect, st in m["agreement"]["AIGVE-MACS"].items():
            e = st["srcc"]
            print(f"  {aspect:<18} SRCC {e['value']:.3f} [{e['ci_low']:.3f}, {e['ci_high']:.3f}] n={e['n']}")
    for aspect, st in m["agreement"]["AIGVE-MACS"].items():
        assert st["srcc"]["n"] == 149
        assert st["srcc"]["value"] > 0, aspect
    assert m["agreement"]["AIGVE-MACS"]["mean"]["srcc"]["ci_low"] > 0


def test_report_on_fake_score_run(shared_videos, tmp_path):
    """`aigve score --backend fake` on the shared clips, then a report against a made-up human file."""
    from aigve.cli import build_parser, main

    manifest = shared_videos / "manifest.csv"
    if not manifest.is_file():
        pytest.skip(f"{manifest} missing")
    if "score" not in build_parser()._subparsers._group_actions[0].choices:
        pytest.skip("`aigve score` is not registered yet")
    run = tmp_path / "run"
    assert main(["score", str(manifest), "--backend", "fake", "--out", str(run), "--no-progress"]) == 0
    names = [row["video"] for row in csv.DictReader(open(manifest))]
    rng = np.random.default_rng(0)
    human = tmp_path / "human.csv"
    with open(human, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["video", "prompt", "physics", "overall", "element_presence"])
        w.writerows([name, "p", *rng.integers(1, 6, 3)] for name in names)
    out = tmp_path / "report"
    assert main(["report", "--scores", str(run / "results.jsonl"), "--human", str(human), "--out", str(out),
                 "--bootstrap", "100", "--no-embeddings", "--no-plots"]) == 0  # plots: see the synthetic test
    metrics = json.loads((out / "metrics.json").read_text())
    (system,) = metrics["systems"]
    assert system["n_matched"] == len(names) and system["unmatched_human"] == []
    assert "fake" in system["disclaimer"]
    assert metrics["agreement"]["run"]["physics"]["srcc"]["n"] == len(names)
    assert "NOT A REAL EVALUATION" in (out / "report.md").read_text()


def test_paired_mean_uses_the_aspects_both_systems_score(tmp_path):
    """A system scoring 2 aspects vs one scoring 4: the paired 'mean' compares both on the 2 shared
    aspects against one human mean (it used to mix the first system's human mean with the second's)."""
    rng = np.random.default_rng(1)
    n, keys, shared = 40, ("technical_quality", "dynamic", "physics", "overall"), ("technical_quality", "overall")
    human = {k: rng.integers(0, 6, n) for k in keys}
    full = {k: np.clip(human[k] + rng.integers(-2, 3, n), 0, 5) for k in keys}
    part = {k: np.clip(human[k] + rng.integers(-1, 2, n), 0, 5) for k in shared}
    human_path = tmp_path / "human.csv"
    paths = {"full": tmp_path / "full.csv", "part": tmp_path / "part.csv"}
    for path, table in ((human_path, human), (paths["full"], full), (paths["part"], part)):
        with open(path, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["id", *table])
            w.writerows([f"v{i}", *(int(table[k][i]) for k in table)] for i in range(n))
    m = build_report([paths["part"], paths["full"]], human_path, tmp_path / "out", n_boot=50, seed=0,
                     embeddings=False).metrics
    comp = next(c for c in m["comparisons"] if c["aspect"] == "mean")
    h = np.mean([human[k] for k in shared], axis=0)
    assert comp["n"] == n
    assert comp["srcc_a"] == pytest.approx(stats.spearmanr(h, np.mean([part[k] for k in shared], axis=0)).statistic)
    assert comp["srcc_b"] == pytest.approx(stats.spearmanr(h, np.mean([full[k] for k in shared], axis=0)).statistic)


def test_comments_of_unscored_aspects_are_not_compared(tmp_path):
    """signals leaves physics unscored with a 'Not scored: ...' comment: that placeholder is not a comment
    to compare with the human one."""
    human = tmp_path / "human.jsonl"
    scores = tmp_path / "results.jsonl"
    human.write_text("".join(json.dumps({"id": f"v{i}", "technical_quality": {"score": i % 6, "comment": f"sharp {i}"},
                                         "physics": {"score": i % 5, "comment": f"ball falls {i}"}}) + "\n"
                             for i in range(6)))
    scores.write_text("".join(json.dumps({"id": f"v{i}", "scores": {"technical_quality": i % 6, "physics": None},
                                          "comments": {"technical_quality": f"sharp frames {i}",
                                                       "physics": "Not scored: use a vision-language backend"}}) + "\n"
                              for i in range(6)))
    m = build_report([scores], human, tmp_path / "out", n_boot=0, embeddings=False, plots=False).metrics
    (by_aspect,) = m["comments"]["by_system"].values()
    assert by_aspect["technical_quality"]["n"] == 6
    assert "physics" not in by_aspect and by_aspect["all"]["n"] == 6


def test_out_that_is_a_file_is_a_one_line_error(macs_outputs, tmp_path, capsys):
    from aigve.cli import main

    (tmp_path / "taken").write_text("x")
    base = ["report", "--scores", str(macs_outputs), "--bootstrap", "0", "--no-embeddings", "--no-plots"]
    assert main([*base, "--out", str(tmp_path / "taken")]) == 2
    assert "is a file; give --out a folder" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "taken" / "sub")]) == 2
    assert "cannot create the report folder" in capsys.readouterr().err


def test_md_text_escapes_line_markers_on_every_line():
    from aigve.report.render import md_text

    text = md_text("first line\n# not a heading\n> not a quote\n- not a list\n1. not a list\nplain 2 * 3")
    assert text.splitlines() == ["first line", "\\# not a heading", "\\> not a quote", "\\- not a list",
                                 "1\\. not a list", "plain 2 \\* 3"]
