"""aigve.run.folder: the run folder's lock, the overwrite rule with the same words for every command, ENOSPC."""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from aigve.errors import AigveError, InputError
from aigve.run.folder import (
    FolderInUseError,
    NoSpaceError,
    OutputExistsError,
    RunFolder,
    claim,
    exclusive,
    writing,
)

HOLD = ("import sys, time; from pathlib import Path; from aigve.run.folder import RunFolder\n"
        "with RunFolder(Path(sys.argv[1])).lock():\n"
        "    Path(sys.argv[2]).write_text('held')\n"
        "    time.sleep(60)\n")


def _other_thread(fn):
    box: list = []

    def target():
        try:
            box.append(fn())
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            box.append(exc)

    t = threading.Thread(target=target)
    t.start()
    t.join(10)
    return box[0]


def test_a_second_lock_is_refused_at_once_and_names_the_holder(tmp_path):
    folder = RunFolder(tmp_path / "run")
    with folder.lock():
        start = time.perf_counter()
        refused = _other_thread(lambda: folder.lock().__enter__())
        waited = time.perf_counter() - start
    assert isinstance(refused, FolderInUseError) and isinstance(refused, AigveError)
    text = str(refused)
    assert text.startswith(f"{folder.path} is in use by another aigve run (pid {os.getpid()} on {socket.gethostname()}, "
                           "started ")
    assert text.endswith("); wait for it or choose another `out`")
    assert waited < 5  # non-blocking: refused, not queued
    with folder.lock():  # released: free again
        pass


def test_the_lock_is_reentrant_in_its_own_thread(tmp_path):
    folder = RunFolder(tmp_path)
    with folder.lock(), folder.lock():
        assert isinstance(_other_thread(lambda: folder.lock().__enter__()), FolderInUseError)
    with folder.lock():
        pass


def test_a_lock_held_by_another_process_is_refused_and_freed_when_it_is_killed(tmp_path):
    out, ready = tmp_path / "run", tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(out), str(ready)])
    try:
        deadline = time.time() + 60
        while not ready.exists() and time.time() < deadline:
            time.sleep(0.05)
        assert ready.exists()
        with pytest.raises(FolderInUseError, match=rf"pid {proc.pid} on "):
            with RunFolder(out).lock():
                pass
    finally:
        proc.kill()  # kill -9: the OS releases the lock; the stale lock file must not block anyone
        proc.wait()
    with RunFolder(out).lock():
        pass


def test_shard_ranks_lock_their_own_files(tmp_path):
    with RunFolder(tmp_path, rank=0).lock():
        with RunFolder(tmp_path, rank=1).lock():  # another rank of the same launch: not refused
            pass
        assert isinstance(_other_thread(lambda: RunFolder(tmp_path, rank=0).lock().__enter__()), FolderInUseError)


def test_claim_refuses_an_existing_output_with_one_text_for_folders_and_files(tmp_path):
    folder, file = tmp_path / "report", tmp_path / "cal.json"
    with claim(folder, overwrite=False):  # a new folder: created, claimed
        (folder / "report.md").write_text("x")
    with claim(file, overwrite=False, is_dir=False):
        file.write_text("{}")
    texts = []
    for target, is_dir in ((folder, True), (file, False)):
        with pytest.raises(OutputExistsError) as err:
            with claim(target, overwrite=False, is_dir=is_dir):
                pass
        texts.append(str(err.value).removeprefix(f"{target}: "))
        with claim(target, overwrite=True, is_dir=is_dir):
            pass
    assert texts[0] == texts[1] == "already exists; pass `overwrite` to discard it and start afresh, or choose another `out`"
    assert isinstance(err.value, InputError)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cal.json", "report"]  # no lock left beside the file


def test_an_empty_folder_or_one_holding_only_locks_is_not_an_earlier_output(tmp_path):
    (tmp_path / "empty").mkdir()
    with claim(tmp_path / "empty", overwrite=False):
        pass
    with claim(tmp_path / "empty", overwrite=False):  # its own .aigve.lock does not count
        pass


def test_claim_names_a_file_where_a_folder_belongs_and_an_uncreatable_folder(tmp_path):
    (tmp_path / "taken").write_text("x")
    with pytest.raises(InputError, match="is a file; give `out` a folder"):
        with claim(tmp_path / "taken", overwrite=True):
            pass
    with pytest.raises(InputError, match="cannot create the report folder"):
        with claim(tmp_path / "taken" / "sub", overwrite=True, what="report"):
            pass


def test_exclusive_lock_file_beside_a_file_is_removed(tmp_path):
    lock = tmp_path / ".x.aigve.lock"
    with exclusive(lock, shown=tmp_path / "x", remove=True):
        assert lock.exists() and json.loads(Path(str(lock) + ".owner.json").read_text())["pid"] == os.getpid()
    assert list(tmp_path.iterdir()) == []


def test_writing_turns_a_full_disk_into_one_error_naming_the_file(tmp_path):
    with pytest.raises(NoSpaceError) as err:
        with writing(tmp_path / "results.csv"):
            raise OSError(errno.ENOSPC, "No space left on device")
    assert str(err.value) == (f"no space left on device while writing {tmp_path / 'results.csv'}; free space and "
                              "rerun with `resume`: nothing already written is lost")
    assert err.value.__cause__ is None and err.value.__suppress_context__
    with pytest.raises(PermissionError):  # other OS errors pass through untouched
        with writing(tmp_path / "x"):
            raise PermissionError(errno.EACCES, "denied")


def test_run_json_is_written_atomically_and_read_back(tmp_path):
    folder = RunFolder(tmp_path)
    assert folder.read_info() == {}
    folder.write_info({"spec": {"backend": "fake"}})
    assert folder.read_info() == {"spec": {"backend": "fake"}}
    (tmp_path / "run.json").write_text("{not json")
    assert folder.read_info() == {}
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]  # no temporary file left


def test_write_csv_keeps_the_previous_file_whole_when_the_disk_fills(tmp_path, monkeypatch):
    import builtins

    import aigve.results as results

    path = tmp_path / "results.csv"
    results.write_csv([{"id": "a", "scores": {"overall": 3}}], path)
    before = path.read_text()
    real_open = builtins.open

    def full_disk_open(file, mode="r", *args, **kwargs):
        fh = real_open(file, mode, *args, **kwargs)
        if "w" in mode and str(file).endswith(".tmp"):
            fh.close()
            raise OSError(errno.ENOSPC, "No space left on device", str(file))
        return fh

    monkeypatch.setattr(builtins, "open", full_disk_open)
    with pytest.raises(OSError):
        results.write_csv([{"id": "b"}], path)
    monkeypatch.undo()
    assert path.read_text() == before and before  # never truncated to 0 bytes
    assert [p.name for p in tmp_path.iterdir()] == ["results.csv"]  # the temporary file is gone


def test_environment_records_versions_and_the_source_commit():
    from aigve.run.environment import environment, git_commit

    env = environment()
    assert set(env) >= {"aigve", "git_commit", "python", "torch", "transformers", "numpy", "decord", "av", "host"}
    assert env["numpy"] and env["host"] == socket.gethostname()
    root = Path(__file__).resolve().parents[1]
    if (root / ".git").exists():
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
        assert env["git_commit"].startswith(head.strip())
    assert git_commit(Path("/")) is None  # not a checkout


WORDS = "already exists; pass --overwrite to discard it and start afresh, or choose another"


def test_every_command_refuses_to_overwrite_with_the_same_words(tmp_path, capsys, monkeypatch):
    """train and calibrate used to overwrite silently; report and bench --json too; refine had its own text."""
    from aigve.cli import main

    monkeypatch.delenv("RANK", raising=False)
    earlier_dir = tmp_path / "earlier"
    earlier_dir.mkdir()
    (earlier_dir / "adapter_config.json").write_text("{}")
    (earlier_dir / "trace.jsonl").write_text('{"event": "start"}\n')
    earlier_file = tmp_path / "earlier.json"
    earlier_file.write_text("{}")
    data = tmp_path / "data.csv"
    data.write_text("video,prompt\n")
    commands = {
        "train": (["train", "--model", str(tmp_path), "--data", str(data), "--output-dir", str(earlier_dir)],
                  earlier_dir, "--output-dir"),
        "calibrate": (["calibrate", str(tmp_path / "results.jsonl"), str(data), "--out", str(earlier_file)],
                      earlier_file, "--out"),
        "report": (["report", "--scores", str(tmp_path / "results.jsonl"), "--out", str(earlier_dir)],
                   earlier_dir, "--out"),
        "bench": (["bench", str(tmp_path), "--model", str(tmp_path), "--json", str(earlier_file)],
                  earlier_file, "--json"),
        "refine": (["refine", "a cat", "--evaluator", "fake", "--out", str(earlier_dir)], earlier_dir, "--out"),
    }
    (tmp_path / "clip.mp4").write_bytes(b"")  # bench collects its inputs first
    for name, (argv, target, flag) in commands.items():
        assert main(argv) == 2, name
        err = capsys.readouterr().err
        assert err == f"aigve {name}: error: {target}: {WORDS} {flag}\n", (name, err)
    assert earlier_file.read_text() == "{}" and (earlier_dir / "adapter_config.json").read_text() == "{}"


def test_score_uses_the_same_words_and_adds_resume(shared_videos, tmp_path, capsys):
    from aigve.cli import main

    argv = ["score", str(shared_videos / "lavie_beach_00.mp4"), "--backend", "fake", "--out", str(tmp_path),
            "--no-progress", "--prompt", "p"]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(argv) == 2
    assert (f"{tmp_path / 'results.jsonl'}: already exists; pass --resume to continue it, --overwrite to discard it "
            f"and start afresh, or choose another --out") in capsys.readouterr().err


def test_a_full_disk_anywhere_else_is_one_line_too(capsys):
    from aigve.cli import run_guarded

    def body():
        raise OSError(errno.ENOSPC, "No space left on device", "/out/adapter_model.safetensors")

    assert run_guarded("aigve train", body) == 2
    assert capsys.readouterr().err == ("aigve train: error: no space left on device while writing "
                                       "/out/adapter_model.safetensors; free space and rerun\n")


def test_a_shard_is_not_told_to_overwrite(tmp_path):
    (tmp_path / "results.rank1.jsonl").write_text('{"id": "a"}\n')
    (tmp_path / "results.jsonl").write_text('{"id": "a"}\n')
    with pytest.raises(OutputExistsError) as shard:
        RunFolder(tmp_path, rank=1).refuse_existing(resume=False)
    assert str(shard.value).endswith("already exists; pass `resume` to continue it, or choose another `out`")
    with pytest.raises(OutputExistsError, match="`overwrite` to discard it"):
        RunFolder(tmp_path).refuse_existing(resume=False)
    RunFolder(tmp_path, rank=1).refuse_existing(resume=True)
