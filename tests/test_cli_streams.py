"""Machine output alone on stdout, messages on stderr, and a reader that leaves early ends the command quietly."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from aigve.cli import main, run_guarded

REPO = Path(__file__).resolve().parents[1]


def _env():
    return {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "0"}


def test_probe_json_puts_only_json_on_stdout(shared_videos, capsys):
    assert main(["probe", str(shared_videos), "--json"]) == 0
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert len(lines) == 11 and all(json.loads(line)["status"] == "ok" for line in lines)
    assert out.err.strip() == "11 readable, 0 failed"


def test_probe_without_json_keeps_its_summary_with_the_listing(shared_videos, capsys):
    assert main(["probe", str(shared_videos)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("11 readable, 0 failed")


def _probe_into_a_closed_pipe(args):
    """Run ``aigve probe ARGS`` with stdout a pipe whose reader is already gone."""
    r, w = os.pipe()
    os.close(r)  # the reader leaves before the first line is written
    try:
        proc = subprocess.run([sys.executable, "-m", "aigve.cli", "probe", *args], stdout=w,
                              stderr=subprocess.PIPE, text=True, env=_env(), cwd=REPO, timeout=120)
    finally:
        os.close(w)
    return proc


@pytest.mark.parametrize("json_flag", [["--json"], []])
def test_a_reader_that_closes_early_ends_probe_quietly(shared_videos, json_flag):
    proc = _probe_into_a_closed_pipe([str(shared_videos), *json_flag])
    assert proc.returncode == 141, proc.stderr
    assert "Traceback" not in proc.stderr and "BrokenPipeError" not in proc.stderr
    assert "Exception ignored" not in proc.stderr


def test_head_reads_two_json_lines_and_nothing_else_is_said(shared_videos):
    proc = subprocess.run(f"{sys.executable} -m aigve.cli probe {shared_videos} --json | head -2",
                          shell=True, capture_output=True, text=True, env=_env(), cwd=REPO, timeout=120)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0 and len(lines) == 2 and all(json.loads(line)["status"] == "ok" for line in lines)
    assert "Traceback" not in proc.stderr and "BrokenPipeError" not in proc.stderr


def test_a_broken_pipe_elsewhere_is_still_an_error(capsys):
    def body():  # e.g. a socket to a model server: stdout is fine, so this is not a reader leaving
        raise BrokenPipeError(32, "Broken pipe")

    with pytest.raises(BrokenPipeError):
        run_guarded("aigve x", body)


def test_loading_a_model_is_announced_on_stderr(tiny_model, capsys):
    from aigve.cli import build_parser
    from aigve.commands.options import evaluator_from_args

    args = build_parser().parse_args(["score", "x.mp4", "--model", str(tiny_model), "--out", "unused"])
    evaluator_from_args(args).close()
    out = capsys.readouterr()
    assert out.out == ""
    assert f"loading {tiny_model} (backend macs) ..." in out.err and re.search(r"model loaded in \d+\.\d s", out.err)
    args = build_parser().parse_args(["score", "x.mp4", "--backend", "fake", "--out", "unused"])
    evaluator_from_args(args).close()
    assert "loading" not in capsys.readouterr().err  # nothing to load, nothing to announce
