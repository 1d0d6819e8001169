"""Numeric settings of the refinement loop are refused outside the range in which they can act (exit 2, before
any model loads), instead of silently turning into a plain round budget or stopping at round 0."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import load_script

from aigve.cli import main
from aigve.errors import ConfigError
from aigve.refine.loop import Controller, StopPolicy, check_run_settings

REPO = Path(__file__).resolve().parents[1]
PROMPT = "a red ball bouncing on a wooden floor"


@pytest.mark.parametrize("target", [-1, 0, 0.0, 5.01, 6, float("nan"), float("inf")])
def test_target_outside_the_score_scale_is_refused(target):
    with pytest.raises(ConfigError, match=r"invalid target=.*must be in \(0, 5\]") as err:
        StopPolicy(rounds=4, target=target)
    assert err.value.field == "target"


@pytest.mark.parametrize("target", [0.5, 3, 4.99, 5])
def test_target_inside_the_score_scale_is_kept(target):
    assert StopPolicy(rounds=4, target=target).target == target


def test_patience_must_be_able_to_fire_within_the_round_budget():
    assert StopPolicy(rounds=4, patience=3).patience == 3
    with pytest.raises(ConfigError, match=r"invalid patience=4: must be in 1\.\.3 with rounds=4"):
        StopPolicy(rounds=4, patience=4)
    with pytest.raises(ConfigError, match=r"invalid patience=1: must be left out with rounds=1"):
        StopPolicy(rounds=1, patience=1)
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ConfigError, match="patience"):
            StopPolicy(rounds=4, patience=bad)


@pytest.mark.parametrize("budget", [0, -1, float("nan"), float("inf")])
def test_time_budget_must_be_positive_and_finite(budget):
    with pytest.raises(ConfigError, match="invalid time_budget=.*positive, finite"):
        StopPolicy(time_budget_s=budget)


def test_min_delta_and_rounds_ranges():
    for bad in (-0.1, 5, float("nan")):
        with pytest.raises(ConfigError, match="min_delta"):
            StopPolicy(min_delta=bad)
    for bad in (0, -1, 2.0):
        with pytest.raises(ConfigError, match="rounds"):
            StopPolicy(rounds=bad)


def test_seeds_and_retries_must_be_non_negative_integers():
    check_run_settings(0, 0, 0)
    for field, args in (("seed", (-1, 0, 2)), ("seed_step", (0, -1, 2)), ("generator_retries", (0, 0, -1)),
                        ("seed", (1.5, 0, 2))):
        with pytest.raises(ConfigError, match=f"invalid {field}=") as err:
            check_run_settings(*args)
        assert err.value.field == field
    with pytest.raises(ConfigError, match="invalid seed=-3"):
        Controller(object(), object(), object(), seed=-3)


@pytest.mark.parametrize("argv, expected", [
    (["--target", "6"], "invalid --target=6.0: must be in (0, 5]"),
    (["--target", "-1"], "invalid --target=-1.0: must be in (0, 5]"),
    (["--target", "0"], "invalid --target=0.0: must be in (0, 5]"),
    (["--rounds", "0"], "invalid --rounds=0"),
    (["--rounds", "3", "--patience", "3"], "invalid --patience=3: must be in 1..2 with rounds=3"),
    (["--time-budget", "0"], "invalid --time-budget=0.0"),
    (["--time-budget", "nan"], "invalid --time-budget=nan"),
    (["--seed", "-1"], "invalid --seed=-1: must be an integer >= 0"),
    (["--seed-step", "-1"], "invalid --seed-step=-1"),
    (["--retries", "-1"], "invalid --retries=-1"),
])
def test_refine_command_refuses_out_of_range_flags_before_the_evaluator_loads(tmp_path, capsys, monkeypatch,
                                                                             argv, expected):
    import aigve.commands.refine as refine_command

    def no_model(args):
        raise AssertionError("the evaluator was built before the flags were checked")

    monkeypatch.setattr(refine_command, "build_evaluator", no_model)
    out = tmp_path / "r"
    assert main(["refine", PROMPT, "--evaluator", "macs", "--out", str(out), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("aigve refine: error: ") and expected in err and err.count("\n") == 1, err
    assert not out.exists()  # nothing written


def test_refine_prompts_script_refuses_out_of_range_flags_before_the_evaluator_loads(tmp_path, capsys):
    refine_prompts = load_script("eval", "refine_prompts")
    # macs without a model would fail to load: exit 2 with the flag's message proves nothing loaded first
    for argv, expected in [(["--target", "6"], "invalid --target=6.0: must be in (0, 5]"),
                           (["--patience", "9"], "invalid --patience=9"),
                           (["--seed", "-1"], "invalid --seed=-1")]:
        rc = refine_prompts.main([*argv, "--evaluator", "macs", "--out", str(tmp_path / "o")])
        err = capsys.readouterr().err
        assert rc == 2 and err.startswith("refine_prompts.py: error: ") and expected in err, err
