"""aigve.run.batch: runs into one folder cannot collide; a full disk is one clear error and a resume recovers.

The collision tests fail without the folder lock: two fresh runs wrote every record twice, and two staggered
``--resume`` runs lost records when one rewrote results.jsonl under the other's handle.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from aigve.backends.fake import FakeBackend
from aigve.cli import main
from aigve.evaluator import Evaluator
from aigve.results import iter_records
from aigve.run.batch import run_batch
from aigve.run.folder import FolderInUseError
from aigve.runner import collect_items

N = 4


@pytest.fixture
def items(shared_videos):
    return collect_items(shared_videos / "manifest.csv", uses_prompt=False)[:N]


def _ids(out: Path) -> list[str]:
    return [r["id"] for r in iter_records(out / "results.jsonl")]


def _wait_for_records(out: Path, proc: subprocess.Popen | None = None, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        path = out / "results.jsonl"
        if path.exists() and path.read_text().count("\n") >= 1:
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the first run ended early ({proc.returncode})")
        time.sleep(0.05)
    raise AssertionError("the first run wrote no record in time")


def test_two_fresh_runs_into_one_folder_the_second_is_refused_nothing_doubled(items, tmp_path):
    out = tmp_path / "run"
    errors: list[BaseException] = []

    def first():
        try:
            run_batch(Evaluator(FakeBackend(delay_s=0.4), prefetch=1), items, out, progress=False)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=first)
    thread.start()
    _wait_for_records(out)
    with pytest.raises(FolderInUseError, match=r"is in use by another aigve run \(pid \d+ on .+, started .+\)"):
        run_batch(Evaluator(FakeBackend(), prefetch=1), items, out, progress=False)
    thread.join(120)
    assert not errors
    ids = _ids(out)
    assert sorted(ids) == sorted(it.id for it in items) and len(ids) == len(set(ids)) == N
    assert (out / "results.csv").read_text().count("\n") == N + 1


def test_a_staggered_resume_in_another_process_is_refused_and_loses_nothing(shared_videos, tmp_path, capsys):
    out = tmp_path / "run"
    manifest = shared_videos / "manifest.csv"
    cli = ["score", str(manifest), "--backend", "fake", "--out", str(out), "--no-progress", "--limit", str(N)]
    slow = [sys.executable, "-m", "aigve", *cli, "--resume", "--backend-option", "delay_s=0.4"]
    proc = subprocess.Popen(slow, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    try:
        _wait_for_records(out, proc)
        assert main([*cli, "--resume"]) == 2
        err = capsys.readouterr().err
        assert f"{out} is in use by another aigve run (pid {proc.pid} on " in err
        assert "wait for it or choose another --out" in err and "Traceback" not in err
        assert main([*cli, "--overwrite"]) == 2  # --overwrite discards nothing while the folder is in use
        capsys.readouterr()
    finally:
        assert proc.wait(timeout=180) == 0, proc.stderr.read()
    ids = _ids(out)
    assert len(ids) == len(set(ids)) == N


def test_disk_full_mid_run_is_one_line_exit_2_and_a_resume_completes(shared_videos, tmp_path, capsys, monkeypatch):
    import aigve.results as results

    out = tmp_path / "run"
    cli = ["score", str(shared_videos / "manifest.csv"), "--backend", "fake", "--out", str(out), "--no-progress",
           "--limit", str(N)]
    real_write, calls = results.ResultWriter.write, []

    def write_then_fill_up(self, result):
        calls.append(1)
        if len(calls) > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(self, result)

    monkeypatch.setattr(results.ResultWriter, "write", write_then_fill_up)
    assert main(cli) == 2
    err = capsys.readouterr().err
    assert err == (f"aigve score: error: no space left on device while writing {out / 'results.jsonl'}; free space "
                   f"and rerun with --resume: nothing already written is lost\n")
    assert len(_ids(out)) == 2 and (out / "results.csv").read_text().count("\n") == 3  # the CSV is whole
    monkeypatch.undo()
    assert main([*cli, "--resume"]) == 0
    ids = _ids(out)
    assert len(ids) == len(set(ids)) == N
    info = json.loads((out / "run.json").read_text())
    assert info["resumed"] and info["environment"]["numpy"]


def test_disk_full_while_rewriting_the_csv_keeps_the_previous_csv(shared_videos, tmp_path, capsys, monkeypatch):
    import aigve.results as results

    out = tmp_path / "run"
    cli = ["score", str(shared_videos / "manifest.csv"), "--backend", "fake", "--out", str(out), "--no-progress",
           "--limit", "2"]
    assert main(cli) == 0
    capsys.readouterr()
    before = (out / "results.csv").read_text()
    real = results.write_text_atomic

    def no_room(path, text, **kw):
        if Path(path).name == "results.csv":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, text, **kw)

    monkeypatch.setattr(results, "write_text_atomic", no_room)
    assert main([*cli[:-1], "3", "--resume"]) == 2
    err = capsys.readouterr().err
    assert f"no space left on device while writing {out / 'results.csv'}" in err and err.count("\n") == 1
    assert (out / "results.csv").read_text() == before
    assert len(_ids(out)) == 3  # the record scored before the disk filled is kept
