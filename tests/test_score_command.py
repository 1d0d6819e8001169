"""``aigve score`` as a new user meets it: run identity on --resume, failure lines, messages, help."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aigve.cli import main
from aigve.results import iter_records


def _score(manifest: Path, out: Path, *extra: str) -> int:
    return main(["score", str(manifest), "--out", str(out), "--no-progress", *extra])


def _run_info(out: Path) -> dict:
    return json.loads((out / "run.json").read_text())


# ------------------------------------------------------------------------------ run identity (--resume)


def test_resume_with_another_backend_is_refused_and_leaves_the_folder_alone(shared_videos, tmp_path, capsys):
    manifest, out = shared_videos / "manifest.csv", tmp_path / "run"
    assert _score(manifest, out, "--backend", "signals", "--limit", "2") == 0
    before = {name: (out / name).read_bytes() for name in ("results.jsonl", "results.csv", "run.json")}
    capsys.readouterr()
    code = _score(manifest, out, "--backend", "fake", "--resume")
    err = capsys.readouterr().err
    assert code == 2
    assert str(out) in err and "backend: 'signals' -> 'fake'" in err
    assert "same options" in err and "another --out" in err
    assert {name: (out / name).read_bytes() for name in before} == before  # nothing appended or rewritten


def test_resume_names_every_differing_field(shared_videos, tmp_path, capsys):
    manifest, out = shared_videos / "manifest.csv", tmp_path / "run"
    assert _score(manifest, out, "--backend", "fake", "--limit", "1") == 0
    capsys.readouterr()
    code = _score(manifest, out, "--backend", "fake", "--resume", "--fps", "2", "--backend-option", "seed=1")
    err = capsys.readouterr().err
    assert code == 2
    assert "sampling.fps: (unset) -> 2.0" in err and "backend_options.seed: (unset) -> 1" in err


def test_run_json_records_the_spec_and_settings(shared_videos, tmp_path):
    out = tmp_path / "run"
    assert _score(shared_videos / "manifest.csv", out, "--backend", "signals", "--limit", "1", "--batch-size", "2",
                  "--max-frames", "8", "--backend-option", "flow_preset=fast") == 0
    info = _run_info(out)
    spec = info["spec"]
    assert spec["backend"] == "signals" and spec["model"] is None and spec["adapter"] is None
    assert spec["sampling"] == {"max_frames": 8} and spec["backend_options"] == {"flow_preset": "fast"}
    assert info["settings"]["batch_size"] == 2 and info["settings"]["decode_workers"] == "thread"
    assert info["evaluator"]["name"] == "signals"


def test_checkpoint_backend_spec_fills_defaults_and_resolves_folders(tmp_path, monkeypatch):
    import argparse

    from aigve.commands.options import DEFAULT_MODEL, add_backend_args, add_sampling_args, run_spec

    parser = argparse.ArgumentParser()
    add_backend_args(parser)
    add_sampling_args(parser)
    spec, settings = run_spec(parser.parse_args(["--dtype", "bfloat16", "--backend-option", "concurrency=4"]))
    assert spec["model"] == DEFAULT_MODEL and spec["released_keys"] is True
    assert spec["generation"]["max_new_tokens"] == 1500 and len(spec["prompt_template"]) == 12  # macs-card
    assert spec["profile"] == "macs-card" and spec["generation"]["from_checkpoint"] is True
    assert "dtype" not in spec["backend_options"] and settings["dtype"] == "bfloat16"
    assert settings["concurrency"] == 4
    same, _ = run_spec(parser.parse_args(["--model", DEFAULT_MODEL, "--max-new-tokens", "1500"]))
    assert same == spec  # the defaults spelled out are the same run
    (tmp_path / "ckpt").mkdir()
    monkeypatch.chdir(tmp_path)
    local, _ = run_spec(parser.parse_args(["--model", "ckpt", "--profile", "aigve",
                                           "--backend-option", "released_keys=false"]))
    assert local["model"] == str(tmp_path / "ckpt") and local["released_keys"] is False
    assert local["prompt_template"] != spec["prompt_template"]
    secret, settings = run_spec(parser.parse_args(["--backend", "vllm", "--backend-option", "api_key=sk-123"]))
    assert "sk-123" not in json.dumps([secret, settings])


def test_spec_differences_are_flat_and_readable():
    from aigve.run.spec import spec_differences

    old = {"backend": "macs", "sampling": {"fps": 1.0}, "model": "a/b"}
    new = {"backend": "macs", "sampling": {"fps": 2.0, "max_frames": 8}, "model": "a/b", "adapter": "lora"}
    assert spec_differences(old, new) == ["adapter: (unset) -> 'lora'", "sampling.fps: 1.0 -> 2.0",
                                          "sampling.max_frames: (unset) -> 8"]
    assert spec_differences(old, dict(old)) == []


def test_runtime_settings_do_not_block_a_resume(shared_videos, tmp_path):
    manifest, out = shared_videos / "manifest.csv", tmp_path / "run"
    assert _score(manifest, out, "--backend", "signals", "--limit", "1") == 0
    assert _score(manifest, out, "--backend", "signals", "--limit", "2", "--resume", "--batch-size", "2",
                  "--device", "cpu") == 0
    records = list(iter_records(out / "results.jsonl"))
    assert len(records) == 2 and all(r["error"] is None for r in records)
    info = _run_info(out)
    assert info["settings"]["batch_size"] == 2 and "resumed" in info


def test_run_folder_without_spec_resumes_with_a_warning(shared_videos, tmp_path, caplog):
    manifest, out = shared_videos / "manifest.csv", tmp_path / "run"
    assert _score(manifest, out, "--backend", "fake", "--limit", "1") == 0
    info = _run_info(out)
    del info["spec"]
    (out / "run.json").write_text(json.dumps(info))
    with caplog.at_level("WARNING"):
        assert _score(manifest, out, "--backend", "fake", "--limit", "2", "--resume") == 0
    assert "records no run spec" in caplog.text
    assert _run_info(out)["spec"]["backend"] == "fake"  # recorded from now on


def test_sharded_resume_checks_the_spec_too(shared_videos, tmp_path, capsys):
    manifest, out = shared_videos / "manifest.csv", tmp_path / "run"
    assert _score(manifest, out, "--backend", "fake", "--limit", "3", "--shard", "0/2",
                  "--shard-method", "round-robin") == 0
    assert _run_info(out)["spec"]["backend"] == "fake"
    capsys.readouterr()
    code = _score(manifest, out, "--backend", "fake", "--limit", "3", "--shard", "1/2",
                  "--shard-method", "round-robin", "--backend-option", "seed=4")
    assert code == 2 and "backend_options.seed: (unset) -> 4" in capsys.readouterr().err
    assert not (out / "results.rank1.jsonl").exists()
    assert _score(manifest, out, "--backend", "fake", "--limit", "3", "--shard", "0/2",
                  "--shard-method", "round-robin", "--resume") == 0


# ------------------------------------------------------------------------------ failures on screen


def _missing_manifest(folder: Path, n: int, good: Path | None = None) -> Path:
    rows = [f"gone_{i:02d}.mp4,p" for i in range(n)] + ([f"{good},p"] if good else [])
    manifest = folder / "m.csv"
    manifest.write_text("video,prompt\n" + "\n".join(rows) + "\n")
    return manifest


def test_failed_videos_are_listed_with_their_error(shared_videos, tmp_path, capsys):
    manifest = _missing_manifest(tmp_path, 2, good=shared_videos / "lavie_beach_00.mp4")
    out = tmp_path / "run"
    assert _score(manifest, out, "--backend", "fake") == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("  gone_")]
    assert len(lines) == 2 and lines[0].startswith("  gone_00: ") and "gone_00.mp4" in lines[0]
    assert "and 0 more" not in err and str(out / "results.jsonl") in err


def test_failure_list_is_capped_truncated_and_covers_this_run_only(tmp_path, capsys):
    manifest = _missing_manifest(tmp_path, 12)
    out = tmp_path / "run"
    assert _score(manifest, out, "--backend", "fake") == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("  gone_")]
    assert len(lines) == 10 and "  ... and 2 more" in err
    assert all(len(line) <= 2 + 200 + 30 for line in lines)
    assert _score(manifest, out, "--backend", "fake", "--resume", "--limit", "2") == 1  # retries the first two only
    err = capsys.readouterr().err
    assert [line.split(":")[0] for line in err.splitlines() if line.startswith("  gone_")] == ["  gone_00", "  gone_01"]
    assert "more" not in err


def test_failure_line_is_one_line_of_at_most_200_characters():
    from aigve.commands.score import failure_line

    line = failure_line({"id": "x", "error": {"message": "first\nsecond " + "y" * 500}})
    assert line.startswith("  x: first second y") and "\n" not in line and line.endswith("...")
    assert len(line) <= len("  x: ") + 200


def test_a_shard_lists_its_own_failures(shared_videos, tmp_path, capsys):
    manifest = _missing_manifest(tmp_path, 1, good=shared_videos / "lavie_beach_00.mp4")
    out = tmp_path / "run"
    assert _score(manifest, out, "--backend", "fake", "--shard", "1/2", "--shard-method", "round-robin") == 1
    err = capsys.readouterr().err
    assert "  gone_00: " in err and str(out / "results.rank1.jsonl") in err


# ------------------------------------------------------------------------------ messages


def test_rerun_into_a_used_folder_names_resume_overwrite_and_out(shared_videos, tmp_path, capsys):
    clip, out = shared_videos / "lavie_beach_00.mp4", tmp_path / "run"
    assert _score(clip, out, "--prompt", "p", "--backend", "fake") == 0
    capsys.readouterr()
    assert _score(clip, out, "--prompt", "p", "--backend", "fake") == 2
    err = capsys.readouterr().err
    assert "--resume" in err and "--overwrite" in err and "another --out" in err


def test_overwrite_is_refused_for_a_sharded_run(shared_videos, tmp_path, capsys, monkeypatch):
    """Each rank clearing the folder would delete what the ranks that started earlier already wrote."""
    clip, out = shared_videos / "manifest.csv", tmp_path / "run"
    assert _score(clip, out, "--backend", "fake", "--shard", "0/2") == 0
    kept = (out / "results.rank0.jsonl").read_bytes()
    capsys.readouterr()
    assert _score(clip, out, "--backend", "fake", "--shard", "1/2", "--overwrite") == 2
    assert "sharded" in capsys.readouterr().err and (out / "results.rank0.jsonl").read_bytes() == kept
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert _score(clip, out, "--backend", "fake", "--overwrite") == 2  # under torchrun too
    assert (out / "results.rank0.jsonl").read_bytes() == kept


@pytest.fixture
def offline(monkeypatch):
    from aigve.backends import hf_checkpoint

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hf_checkpoint, "_cached", lambda repo, filename: False)  # whatever this machine cached


@pytest.mark.parametrize("extra", [
    [],  # the default backend and model
    ["--backend", "macs", "--scores-only", "--model", "nobody/not-a-model"],
    ["--backend", "vllm", "--model", "nobody/not-a-model"],
])
def test_an_unavailable_model_fails_before_anything_is_written(shared_videos, tmp_path, capsys, offline, extra):
    out = tmp_path / "run"
    code = _score(shared_videos / "lavie_beach_00.mp4", out, "--prompt", "p", *extra)
    err = capsys.readouterr().err
    assert code == 2 and "offline" in err and "hf download" in err
    assert "scoring" not in err  # no progress bar was drawn
    assert not out.exists()


def test_a_missing_adapter_fails_before_overwrite_discards_anything(shared_videos, tmp_path, capsys, offline):
    clip, out = shared_videos / "lavie_beach_00.mp4", tmp_path / "run"
    assert _score(clip, out, "--prompt", "p", "--backend", "fake") == 0
    before = sorted(p.name for p in out.iterdir())
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "config.json").write_text("{}")  # enough for the source check, which loads nothing
    capsys.readouterr()
    code = _score(clip, out, "--prompt", "p", "--model", str(ckpt), "--adapter", str(tmp_path / "lora"), "--overwrite")
    err = capsys.readouterr().err
    assert code == 2 and "adapter" in err and "lora" in err
    assert sorted(p.name for p in out.iterdir()) == before and (out / "results.jsonl").stat().st_size


@pytest.mark.parametrize("backend,reads_prompt", [("signals", False), ("fake", True)])
def test_missing_prompt_warning_only_for_backends_that_read_it(shared_videos, tmp_path, caplog, backend, reads_prompt):
    out = tmp_path / "run"
    with caplog.at_level("WARNING"):
        assert _score(shared_videos / "lavie_beach_00.mp4", out, "--backend", backend) == 0
    assert ("no --prompt given" in caplog.text) is reads_prompt
    assert (_run_info(out)["spec"]["prompt_template"] is not None) is reads_prompt


def test_probe_does_not_warn_about_prompts(shared_videos, tmp_path, caplog):
    import shutil

    shutil.copy(shared_videos / "lavie_beach_00.mp4", tmp_path / "a.mp4")
    with caplog.at_level("WARNING"):
        assert main(["probe", str(tmp_path)]) == 0
    assert "prompt" not in caplog.text


# ------------------------------------------------------------------------------ help


def test_help_lists_every_registered_backend_and_the_defaults(capsys):
    from aigve.registry import BACKENDS

    with pytest.raises(SystemExit) as done:
        main(["score", "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for name in BACKENDS.names():
        assert name in text
    assert "default: runs/score" in text and "(default: 1)" in text


def test_building_the_parser_imports_no_backend():
    import subprocess
    import sys

    code = ("import sys; from aigve.cli import build_parser; build_parser(); "
            "print(sorted(m for m in sys.modules if m.startswith('aigve.backends.') and m != 'aigve.backends.base'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_in_process_vllm_without_vllm_fails_before_anything_is_written(shared_videos, tmp_path, capsys, tiny_model):
    from aigve.backends.vllm import vllm_unavailable_reason

    if vllm_unavailable_reason() is None:
        pytest.skip("vllm and a GPU are present here")
    out = tmp_path / "run"
    assert _score(shared_videos / "lavie_beach_00.mp4", out, "--prompt", "p", "--backend", "vllm",
                  "--model", str(tiny_model)) == 2
    assert "server_url" in capsys.readouterr().err and not out.exists()


def _spec(*argv: str) -> dict:
    from aigve.cli import build_parser
    from aigve.commands.options import run_spec

    return run_spec(build_parser().parse_args(["score", "clip.mp4", *argv]))[0]


def test_a_vllm_client_spec_names_no_checkpoint_and_lets_the_server_url_change():
    a = _spec("--backend", "vllm", "--backend-option", "server_url=http://node0:8000", "--model", "x/y")
    b = _spec("--backend", "vllm", "--backend-option", "server_url=http://node1:8000/")
    assert a == b and a["model"] is None  # per-node servers; what they serve is checked once connected
    named = _spec("--backend", "vllm", "--backend-option", "server_url=http://node0:8000",
                  "--backend-option", "served_model_name=judge-v2")
    assert named["backend_options"]["served_model_name"] == "judge-v2" and named != a


def test_released_keys_is_recorded_as_the_backend_reads_it():
    zero = _spec("--model", "owner/judge", "--profile", "aigve", "--backend-option", "released_keys=0")
    false = _spec("--model", "owner/judge", "--profile", "aigve", "--backend-option", "released_keys=false")
    true = _spec("--model", "owner/judge", "--profile", "aigve")
    assert zero == false and zero["released_keys"] is False
    assert zero["prompt_template"] != true["prompt_template"]
