"""Training recipe: YAML files, validation, command-line overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from aigve.errors import ConfigError
from aigve.training.recipe import TrainRecipe, load_recipe, parse_set

CONFIGS = Path(__file__).resolve().parents[1] / "train" / "configs"


def test_default_yaml_is_the_builtin_default():
    assert load_recipe(CONFIGS / "default.yaml") == TrainRecipe()


@pytest.mark.parametrize("name", ["tiny_cpu.yaml", "aigve_bench_7b_lora.yaml"])
def test_shipped_recipes_validate(name):
    recipe = load_recipe(CONFIGS / name)
    assert recipe.sampling_config().max_frames >= 2
    if recipe.deepspeed:
        assert Path(recipe.deepspeed).is_file()  # resolved next to the YAML


def test_7b_recipe_is_realistic():
    r = load_recipe(CONFIGS / "aigve_bench_7b_lora.yaml")
    assert r.precision == "bf16" and r.gradient_checkpointing and r.vision == "frozen"
    assert r.sampling_config().jitter > 0 and r.lora_r >= 16
    cfg = r.sampling_config().to_dict()
    from aigve.config import SamplingConfig

    assert {k: v for k, v in cfg.items() if k != "jitter"} == \
        {k: v for k, v in SamplingConfig().to_dict().items() if k != "jitter"}  # what `aigve score` sends


def test_deepspeed_json_is_found_next_to_the_recipe(tmp_path):
    import json
    import shutil

    shutil.copy(CONFIGS / "ds_zero2.json", tmp_path / "ds_zero2.json")
    (tmp_path / "r.yaml").write_text("deepspeed: ds_zero2.json\n")
    r = load_recipe(tmp_path / "r.yaml")
    assert Path(r.deepspeed) == tmp_path / "ds_zero2.json"
    assert json.loads((CONFIGS / "ds_zero2.json").read_text())["zero_optimization"]["stage"] == 2


def test_overrides_parse_strings_to_field_types():
    r = load_recipe(CONFIGS / "tiny_cpu.yaml", {"lr": "1e-4", "max_steps": "3", "skip_bad": "true",
                                                 "lora_targets": "q_proj,v_proj", "save_total_limit": "none",
                                                 "sampling.jitter": "0.25"})
    assert r.learning_rate == 1e-4 and isinstance(r.learning_rate, float)
    assert r.max_steps == 3 and r.skip_bad is True and r.lora_targets == ["q_proj", "v_proj"]
    assert r.save_total_limit is None
    assert r.sampling_config().jitter == 0.25
    assert r.sampling_config().max_frames == 4  # other sampling fields of the YAML kept


def test_yaml_exponent_without_dot_is_a_float(tmp_path):
    (tmp_path / "r.yaml").write_text("learning_rate: 2e-5\n")  # PyYAML reads this as a string
    assert load_recipe(tmp_path / "r.yaml").learning_rate == 2e-5


def test_parse_set():
    assert parse_set(["lr=1e-4", "sampling.max_frames=8", "merge=true"]) == \
        {"lr": "1e-4", "sampling.max_frames": 8, "merge": True}
    with pytest.raises(ConfigError, match="key=value"):
        parse_set(["lr"])


@pytest.mark.parametrize(("overrides", "field"), [
    ({"lrr": 1}, "lrr"),
    ({"val_fraction": 0.6, "test_fraction": 0.5}, "val_fraction"),
    ({"weight_score": -1}, "weight_score"),
    ({"vision": "half"}, "vision"),
    ({"max_steps": 0}, "max_steps"),
    ({"learning_rate": "fast"}, "learning_rate"),
    ({"sampling.max_frames": 0}, "max_frames"),
    ({"sampling.fsp": 2}, "fsp"),
    ({"lora_targets": []}, "lora_targets"),
    ({"deepspeed": "nope.json"}, "deepspeed"),
])
def test_bad_values_name_the_field(overrides, field):
    with pytest.raises(ConfigError) as info:
        load_recipe(None, overrides)
    assert info.value.field == field


def test_unknown_field_suggests_a_close_name():
    with pytest.raises(ConfigError, match="did you mean 'learning_rate'"):
        load_recipe(None, {"learning_rat": 1e-4})


def test_missing_or_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_recipe(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_recipe(tmp_path / "list.yaml")


def test_required_paths():
    with pytest.raises(ConfigError, match="--model"):
        TrainRecipe().require_paths()


def test_yaml_round_trip(tmp_path):
    r = load_recipe(CONFIGS / "tiny_cpu.yaml", {"model": "/m", "data": "/d.json"})
    (tmp_path / "out.yaml").write_text(r.to_yaml())
    assert load_recipe(tmp_path / "out.yaml") == r


def test_command_line_precedence(tmp_path):
    from aigve.cli import build_parser
    from aigve.commands.train import recipe_from_args

    args = build_parser().parse_args([
        "train", "--config", str(CONFIGS / "tiny_cpu.yaml"), "--lr", "1e-4", "--max-steps", "7", "--skip-bad",
        "--no-gradient-checkpointing", "--set", "max_steps=9", "--set", "sampling.jitter=0.1", "--model", "M",
    ])
    r = recipe_from_args(args)
    assert (r.learning_rate, r.max_steps, r.skip_bad, r.gradient_checkpointing, r.model) == (1e-4, 9, True, False, "M")
    assert r.sampling_config().jitter == 0.1 and r.lora_r == 4  # untouched YAML value kept
    defaults = recipe_from_args(build_parser().parse_args(["train"]))
    assert defaults == TrainRecipe()


def test_train_script_is_the_cli_entry(capsys, monkeypatch):
    import runpy

    monkeypatch.setattr("sys.argv", ["train/train.py", "--help"])
    with pytest.raises(SystemExit) as info:
        runpy.run_path(str(CONFIGS.parents[1] / "train" / "train.py"), run_name="__main__")
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: aigve train" in out and "--lr" in out and "--set KEY=VALUE" in out


def test_cli_without_model_or_data_is_a_usage_error(capsys, tmp_path):
    from aigve.cli import main

    assert main(["train", "--data", str(tmp_path / "x.json")]) == 2
    assert "--model" in capsys.readouterr().err
    assert main(["train", "--model", str(tmp_path), "--data", str(tmp_path / "x.json"), "--lr", "fast"]) == 2
    assert "--learning-rate" in capsys.readouterr().err  # the CLI names the flag, the library the setting


def _commented_command(name: str) -> list[str]:
    """The `python train/train.py ...` line in a recipe's header comment, as argv."""
    import shlex

    lines = [line.lstrip("# ").strip() for line in (CONFIGS / name).read_text().splitlines() if line.startswith("#")]
    return shlex.split(next(line for line in lines if line.startswith("python train/train.py")))


def test_tiny_cpu_comment_names_files_that_exist_and_load():
    from aigve.aspects import ASPECT_KEYS
    from aigve.training.data import load_examples

    argv = _commented_command("tiny_cpu.yaml")
    repo = CONFIGS.parents[1]
    for flag in ("--config", "--data"):
        assert (repo / argv[argv.index(flag) + 1]).is_file(), f"{flag} {argv[argv.index(flag) + 1]} does not exist"
    loaded = load_examples(repo / argv[argv.index("--data") + 1])
    assert len(loaded.examples) == 3 and not loaded.skipped
    assert all(sorted(e.scores) == sorted(ASPECT_KEYS) and e.comments for e in loaded.examples)


def test_train_help_spells_out_the_data_columns(capsys):
    from aigve.aspects import ASPECT_KEYS
    from aigve.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    formats = out[out.index("--data formats:"):]
    assert all(k in formats for k in (*ASPECT_KEYS, "video", "prompt", "<aspect>_comment", "train/smoke_data.csv"))


@pytest.mark.slow
def test_tiny_cpu_commented_command_trains(tiny_model, tmp_path, capsys, monkeypatch):
    from aigve.cli import main

    monkeypatch.chdir(CONFIGS.parents[1])
    argv = _commented_command("tiny_cpu.yaml")[2:]
    argv[argv.index("--model") + 1] = str(tiny_model)
    assert main(["train", *argv, "--output-dir", str(tmp_path / "lora"), "--no-progress-bar"]) == 0
    assert "done: 8 steps" in capsys.readouterr().out


def test_bad_output_dir_or_resume_fails_before_the_model_loads(capsys, tmp_path):
    from aigve.cli import main

    (tmp_path / "taken").write_text("x")
    base = ["train", "--model", str(tmp_path / "no-model"), "--data", str(tmp_path / "no-data.csv")]
    # model and data do not exist: reaching them would be a different error, so these prove the early check
    assert main([*base, "--output-dir", str(tmp_path / "taken")]) == 2
    assert "output_dir" in capsys.readouterr().err
    assert main([*base, "--output-dir", str(tmp_path / "fresh"), "--resume-from-checkpoint", "last"]) == 2
    assert "no checkpoint-<step> folder" in capsys.readouterr().err
    assert main([*base, "--resume-from-checkpoint", str(tmp_path / "nope")]) == 2
    assert "no such checkpoint folder" in capsys.readouterr().err
    (tmp_path / "run" / "checkpoint-4").mkdir(parents=True)
    (tmp_path / "run" / "checkpoint-4" / "trainer_state.json").write_text("{}")
    assert main([*base, "--output-dir", str(tmp_path / "run"), "--resume-from-checkpoint", "last"]) == 2
    assert "no-data.csv: file not found" in capsys.readouterr().err  # past the check
