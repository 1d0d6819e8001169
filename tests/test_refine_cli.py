"""``aigve refine`` and ``eval/refine_prompts.py`` end to end, offline (procedural generator, signals judge)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import load_script

from aigve.cli import main
from aigve.refine.trace import read_trace

REPO = Path(__file__).resolve().parents[1]
PROMPT = "a red ball bouncing on a wooden floor"


def test_refine_command_prints_rounds_and_gain(tmp_path, capsys):
    out = tmp_path / "r"
    rc = main(["refine", PROMPT, "--generator", "procedural", "--evaluator", "signals", "--rounds", "4",
               "--out", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    lines = printed.splitlines()
    header = next(i for i, line in enumerate(lines) if line.lstrip().startswith("round"))
    rows = lines[header + 1: header + 5]
    assert [int(r.split()[0]) for r in rows] == [0, 1, 2, 3]
    assert "stopped: rounds" in printed and "gain (mean):" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["objective"]["rel_gain"] > 0 and summary["stop_rule"] == "rounds"
    assert f"{summary['objective']['rel_gain'] * 100:+.1f}%" in printed
    assert (out / "best.mp4").is_file() and len(list((out / "videos").glob("round_*.mp4"))) == 4
    assert main(["refine", PROMPT, "--evaluator", "signals", "--rounds", "1", "--out", str(out)]) == 2  # kept
    assert "--overwrite" in capsys.readouterr().err


def test_console_script_in_a_fresh_process(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "aigve.cli", "refine", PROMPT, "--evaluator", "signals",
                           "--rounds", "2", "--target", "3.0", "--out", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "stopped: target" in proc.stdout or "stopped: rounds" in proc.stdout


def test_command_generator_and_fake_judge_through_the_cli(tmp_path, capsys):
    tool = tmp_path / "tool.py"
    tool.write_text("import sys, shutil\n"
                    "from aigve.refine.generators import ProceduralGenerator\n"
                    "a = dict(zip(sys.argv[1::2], sys.argv[2::2]))\n"
                    "ProceduralGenerator(width=64, height=48, seconds=1).generate(a['--prompt'], int(a['--seed']),"
                    " a['--out'])\n")
    template = f"{sys.executable} {tool} --prompt {{prompt}} --seed {{seed}} --out {{out}}"
    rc = main(["refine", "a cat's \"toy\" ball; rolling", "--generator", "command", "--generator-option",
               f"template={template}", "--evaluator", "fake", "--rounds", "2", "--seed", "5",
               "--out", str(tmp_path / "c")])
    assert rc == 0, capsys.readouterr()
    rounds = [e for e in read_trace(tmp_path / "c") if e["event"] == "round"]
    assert rounds[0]["prompt"] == "a cat's \"toy\" ball; rolling" and rounds[0]["seed"] == 5
    assert all(r["status"] == "ok" for r in rounds)


def test_usage_errors_exit_2(tmp_path, capsys):
    assert main(["refine", PROMPT, "--generator", "procedurl", "--evaluator", "signals", "--out", str(tmp_path)]) == 2
    assert "Did you mean 'procedural'" in capsys.readouterr().err
    assert main(["refine", PROMPT, "--refiner-model", "x", "--evaluator", "signals", "--out", str(tmp_path)]) == 2
    assert "invalid --refiner-model='x': only the llm refiner uses a model" in capsys.readouterr().err
    assert main(["refine", PROMPT, "--objective", "beauty", "--evaluator", "signals", "--out", str(tmp_path)]) == 2


def _refine_prompts_script():
    return load_script("eval", "refine_prompts")


def test_refine_prompts_script_reports_mean_relative_gain(tmp_path, capsys):
    refine_prompts = _refine_prompts_script()
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# demo\n" + PROMPT + "\n\na green cube spinning on a table  # comment\n")
    assert refine_prompts.read_prompts(prompts) == [PROMPT, "a green cube spinning on a table"]
    rc = refine_prompts.main(["--prompts", str(prompts), "--evaluator", "signals", "--rounds", "3",
                              "--out", str(tmp_path / "e")])
    assert rc == 0
    report = json.loads((tmp_path / "e" / "summary.json").read_text())
    rel = [row["rel_gain"] for row in report["per_prompt"]]
    assert report["prompts"] == 2 and report["mean_relative_gain"] == pytest.approx(sum(rel) / 2) and min(rel) > 0
    assert "mean relative gain across 2 prompt(s)" in capsys.readouterr().out
    assert (tmp_path / "e" / "prompts.csv").read_text().count("\n") == 3
    assert len(refine_prompts.read_prompts(REPO / "data" / "prompts" / "refine_demo.txt")) == 10
    # the same --out again: one line naming the fix, exit 2, before any model loads (no traceback)
    rc = refine_prompts.main(["--prompts", str(prompts), "--evaluator", "signals", "--out", str(tmp_path / "e")])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("refine_prompts.py: error: ") and "--overwrite" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_refine_prompts_script_input_errors_are_one_line_exit_2(tmp_path, capsys):
    refine_prompts = _refine_prompts_script()
    for argv, expected in [(["--prompts", str(tmp_path / "nope.txt")], "nope.txt: prompt file not found"),
                           (["--prompts", str(tmp_path)], "cannot read the prompt file"),
                           (["--limit", "0"], "invalid --limit=0"),
                           (["--generator", "procedurl"], "Did you mean 'procedural'")]:
        assert refine_prompts.main([*argv, "--evaluator", "signals", "--out", str(tmp_path / "o")]) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("refine_prompts.py: error: ") and expected in err and err.count("\n") == 1, err


def test_out_is_checked_before_the_evaluator_loads(tmp_path, capsys, monkeypatch):
    import aigve.commands.refine as refine_command

    def no_model(args):
        raise AssertionError("the evaluator was built before --out was checked")

    monkeypatch.setattr(refine_command, "build_evaluator", no_model)
    (tmp_path / "file").write_text("x")
    (tmp_path / "done").mkdir()
    (tmp_path / "done" / "trace.jsonl").write_text('{"event": "start"}\n')
    for out, expected in [("file", "is a file; give --out a folder"), ("done", "already exists; pass --overwrite")]:
        assert main(["refine", PROMPT, "--evaluator", "macs", "--out", str(tmp_path / out)]) == 2
        assert expected in capsys.readouterr().err
    script = _refine_prompts_script()
    assert script.main(["--out", str(tmp_path / "file"), "--evaluator", "macs"]) == 2
    assert "refine_prompts.py: error: invalid --out=" in capsys.readouterr().err
