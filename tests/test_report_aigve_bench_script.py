"""``eval/report_aigve_bench.py``: its own name on errors, a git-ignored default output folder, a real run."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import load_script

REPO = Path(__file__).resolve().parents[1]


def _script():
    return load_script("eval", "report_aigve_bench")


def test_input_error_names_the_script_not_aigve_report(tmp_path, capsys):
    script = _script()
    assert script.main(["--outputs", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("report_aigve_bench.py: error: ") and "nope.jsonl: score file not found" in err
    assert "aigve report" not in err and err.count("\n") == 1


def test_default_output_folder_is_git_ignored():
    out = Path(_script().build_parser().parse_args([]).out)
    ignored = [line.strip().strip("/") for line in (REPO / ".gitignore").read_text().splitlines()]
    assert out.parts[0] in ignored, f"{out} would show up in git status"


def test_report_over_the_released_outputs(macs_outputs, tmp_path, capsys):
    out = tmp_path / "macs"
    assert _script().main(["--outputs", str(macs_outputs), "--out", str(out), "--bootstrap", "0",
                           "--no-embeddings"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert [s["name"] for s in metrics["systems"]] == ["AIGVE-MACS"] and (out / "report.md").is_file()
    assert "report written to" in capsys.readouterr().out
