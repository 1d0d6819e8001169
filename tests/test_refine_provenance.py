"""A refinement run with placeholder scores (fake backend, tiny random-weight model) says so, on screen and in
summary.json, with the words of ``aigve score`` / ``aigve report`` / the web UI; a synthetic generator is noted."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import load_script

from aigve.cli import main
from aigve.refine.trace import caveats, read_trace
from aigve.report.provenance import backend_problem

REPO = Path(__file__).resolve().parents[1]
PROMPT = "a red ball bouncing on a wooden floor"
BANNER = "NOTE: NOT A REAL EVALUATION: these scores come from the 'fake' backend"


def test_caveats_reuse_the_report_provenance_test(tmp_path):
    tiny = tmp_path / "model"
    tiny.mkdir()
    (tiny / "aigve_tiny.json").write_text("{}")
    for evaluator in ({"name": "fake", "seed": 0}, {"name": "macs", "model": str(tiny)}):
        problem = caveats({"name": "command"}, evaluator)["not_a_real_evaluation"]
        assert problem and problem == backend_problem(evaluator)
    real = caveats({"name": "diffusers"}, {"name": "macs", "model": "xiaoliux/AIGVE-MACS"})
    assert real == {"not_a_real_evaluation": None, "synthetic_generator": None}
    assert caveats({"name": "signals"}, "ScriptedEvaluator")["not_a_real_evaluation"] is None
    assert "synthetic offline renderer" in caveats({"name": "procedural"}, {"name": "signals"})["synthetic_generator"]


def test_refine_with_the_fake_backend_prints_the_banner_and_marks_the_summary(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["refine", PROMPT, "--evaluator", "fake", "--rounds", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "gain (mean):" in printed.out and BANNER in printed.err
    summary = json.loads((out / "summary.json").read_text())
    assert "'fake' backend" in summary["not_a_real_evaluation"]
    assert "synthetic offline renderer" in summary["synthetic_generator"]
    start = read_trace(out)[0]
    assert start["event"] == "start" and start["not_a_real_evaluation"] == summary["not_a_real_evaluation"]


def test_refine_with_a_real_measurement_has_no_banner(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["refine", PROMPT, "--evaluator", "signals", "--rounds", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "NOT A REAL EVALUATION" not in printed.out + printed.err
    assert "NOTE: the 'procedural' generator is a synthetic offline renderer" in printed.err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["not_a_real_evaluation"] is None and summary["synthetic_generator"]


def test_refine_prompts_script_marks_a_fake_run(tmp_path, capsys):
    refine_prompts = load_script("eval", "refine_prompts")
    prompts = tmp_path / "prompts.txt"
    prompts.write_text(PROMPT + "\n")
    rc = refine_prompts.main(["--prompts", str(prompts), "--evaluator", "fake", "--rounds", "2",
                              "--out", str(tmp_path / "e")])
    assert rc == 0
    assert BANNER in capsys.readouterr().err
    report = json.loads((tmp_path / "e" / "summary.json").read_text())
    assert "'fake' backend" in report["not_a_real_evaluation"] and report["synthetic_generator"]
