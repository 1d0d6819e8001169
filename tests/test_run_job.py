"""aigve.run.job.ScoreJob: one job from the command line, a job file or keyword arguments; run.json replays."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from aigve.cli import build_parser, main
from aigve.errors import ConfigError, InputError, UnknownNameError
from aigve.results import iter_records
from aigve.run.job import ScoreJob


def _args(*argv: str):
    return build_parser().parse_args(["score", *argv])


SETTINGS = dict(backend="signals", backend_options={"flow_preset": "fast"}, sampling={"fps": 2.0, "max_frames": 8},
                batch_size=2, out="runs/x", resume=True, decode_workers="thread")


def test_the_same_job_from_args_from_a_file_and_from_keywords(tmp_path):
    from_args = ScoreJob.from_args(_args("clips", "--backend", "signals", "--backend-option", "flow_preset=fast",
                                         "--fps", "2", "--max-frames", "8", "--batch-size", "2", "--out", "runs/x",
                                         "--resume"))
    kwargs = ScoreJob(inputs="clips", **SETTINGS)
    assert from_args == kwargs == ScoreJob.create("clips", **SETTINGS)
    yaml_file = tmp_path / "job.yaml"
    yaml_file.write_text("inputs: /data/clips\nbackend: signals\nbackend_options: {flow_preset: fast}\n"
                         "sampling: {fps: 2, max_frames: 8}\nbatch_size: 2\nout: /runs/x\nresume: true\n")
    json_file = tmp_path / "job.json"
    json_file.write_text(json.dumps({**SETTINGS, "inputs": "/data/clips", "out": "/runs/x"}))
    expected = kwargs.replace(inputs="/data/clips", out=Path("/runs/x"))
    assert ScoreJob.from_file(yaml_file) == ScoreJob.from_file(json_file) == expected
    assert ScoreJob.from_file(json_file, **expected.to_dict()) == expected  # to_dict round-trips


def test_relative_paths_in_a_job_file_are_relative_to_the_file(tmp_path):
    (tmp_path / "job.yaml").write_text("inputs: clips\nbackend: fake\nout: runs/a\n")
    job = ScoreJob.from_file(tmp_path / "job.yaml")
    assert job.inputs == str(tmp_path / "clips") and job.out == tmp_path / "runs" / "a"


def test_flags_given_with_config_override_the_file_and_defaults_do_not(tmp_path):
    (tmp_path / "job.yaml").write_text(f"inputs: {tmp_path}/clips\nbackend: signals\nbatch_size: 4\n"
                                       f"sampling: {{fps: 2}}\nout: {tmp_path}/a\n")
    from aigve.commands.score import job_from_args

    job = job_from_args(_args("--config", str(tmp_path / "job.yaml"), "--max-frames", "8", "--out", str(tmp_path / "b")))
    assert job.backend == "signals" and job.batch_size == 4  # not reset to the flag defaults
    assert dict(job.sampling) == {"fps": 2.0, "max_frames": 8} and job.out == tmp_path / "b"
    other = job_from_args(_args(str(tmp_path / "other.mp4"), "--config", str(tmp_path / "job.yaml")))
    assert other.inputs == str(tmp_path / "other.mp4")


@pytest.mark.parametrize("setting,value,words", [
    ("batch_size", 0, "batch_size"), ("batch_size", True, "batch_size"), ("limit", -1, "limit"),
    ("decode_workers", "procss", "did you mean 'process'"), ("shard", "4/4", "0 <= I < N"),
    ("sampling", {"fps": math.inf}, "fps"), ("sampling", {"fps": math.nan}, "fps"),
    ("sampling", {"max_frames": 1e308}, "max_frames"), ("sampling", {"fsp": 2}, "did you mean 'fps'"),
    ("generation", {"max_new_tokens": 0}, "max_new_tokens"), ("resume", "maybe", "resume"),
    ("backend_options", ["model"], "backend_options"),
])
def test_bad_settings_are_refused_on_construction_naming_the_setting(setting, value, words):
    with pytest.raises(ConfigError) as err:
        ScoreJob(inputs="clips", backend="fake", **{setting: value})
    assert words in str(err.value)


def test_other_construction_errors():
    with pytest.raises(UnknownNameError, match="(?i)did you mean 'fake'"):
        ScoreJob(inputs="clips", backend="fak")
    with pytest.raises(ConfigError, match="either overwrite or resume"):
        ScoreJob(inputs="clips", overwrite=True, resume=True)
    with pytest.raises(ConfigError, match="sharded run cannot clear"):
        ScoreJob(inputs="clips", overwrite=True, shard="1/2")
    with pytest.raises(ConfigError, match="did you mean 'batch_size'"):
        ScoreJob.create("clips", batch_sise=2)


def test_on_the_command_line_the_errors_name_the_flag(tmp_path, capsys):
    for flag, value in (("--fps", "inf"), ("--fps", "nan"), ("--max-frames", "0"), ("--batch-size", "0")):
        code = main(["score", str(tmp_path), "--backend", "fake", "--out", str(tmp_path / "o"), flag, value])
        err = capsys.readouterr().err
        assert code == 2 and f"invalid {flag}=" in err and "Traceback" not in err, err
    assert not (tmp_path / "o").exists()


def test_job_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "job.yaml"
    bad.write_text("inputs: [unclosed\n")
    with pytest.raises(InputError, match="job.yaml: not valid YAML"):
        ScoreJob.from_file(bad)
    bad.write_text("inputs: clips\nbatch_sise: 2\n")
    with pytest.raises(ConfigError, match="did you mean 'batch_size'"):
        ScoreJob.from_file(bad)
    bad.write_text("- a list\n")
    with pytest.raises(InputError, match="mapping of settings"):
        ScoreJob.from_file(bad)
    with pytest.raises(InputError, match="job file not found"):
        ScoreJob.from_file(tmp_path / "missing.json")


def test_spec_of_a_job_is_the_spec_of_its_flags():
    from aigve.commands.options import run_spec

    args = _args("clip.mp4", "--backend", "signals", "--backend-option", "flow_preset=fast", "--max-frames", "8")
    spec, settings = ScoreJob.from_args(args).spec()
    assert spec.to_dict() == run_spec(args)[0] and settings == run_spec(args)[1]
    assert spec.backend == "signals" and spec.model is None and spec.prompt_template is None


def test_a_profile_is_part_of_the_spec_and_passed_as_a_backend_option():
    plain, _ = ScoreJob(inputs="c", backend="fake").spec()
    profiled = ScoreJob(inputs="c", backend="fake", profile="strict")
    assert "profile" not in plain.to_dict()
    assert profiled.spec()[0].to_dict()["profile"] == "strict" and profiled.options()["profile"] == "strict"


def test_run_json_of_an_earlier_run_replays_it(shared_videos, tmp_path, capsys):
    first = tmp_path / "first"
    assert main(["score", str(shared_videos / "manifest.csv"), "--backend", "fake", "--backend-option", "seed=7",
                 "--max-frames", "6", "--limit", "2", "--out", str(first), "--no-progress"]) == 0
    info = json.loads((first / "run.json").read_text())
    assert info["job"]["backend_options"] == {"seed": 7} and info["job"]["limit"] == 2
    again = tmp_path / "again"
    assert main(["score", "--config", str(first / "run.json"), "--out", str(again), "--no-progress"]) == 0
    replayed = json.loads((again / "run.json").read_text())
    assert replayed["spec"] == info["spec"]
    scores = [{r["id"]: r["scores"] for r in iter_records(out / "results.jsonl")} for out in (first, again)]
    assert scores[0] == scores[1] and len(scores[0]) == 2
    # Replayed into its own folder without --resume/--overwrite: refused like any rerun.
    assert main(["score", "--config", str(first / "run.json"), "--no-progress"]) == 2
    assert "--resume" in capsys.readouterr().err


def test_a_run_json_without_a_job_says_what_to_do(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"spec": {"backend": "fake"}}))
    with pytest.raises(InputError, match="records no job"):
        ScoreJob.from_file(tmp_path / "run.json")


def test_score_without_input_or_config_is_a_clear_error(capsys):
    assert main(["score"]) == 2
    assert "--config" in capsys.readouterr().err
