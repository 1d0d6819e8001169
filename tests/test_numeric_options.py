"""Every numeric option of every command refuses inf, NaN, huge, negative and garbage values with one
``error:`` line and exit 2, never a traceback (issues 14 and 19: ``--fps inf`` used to die in an
OverflowError mid-run, ``app --max-duration-s nan`` silently turned the limit off).

The options are discovered from the argparse parsers (actions with ``type=int``/``type=float``, nested
subcommands included), so an option added later is covered without touching this file. Commands run in
process through :func:`aigve.cli.main`; the check happens before any input is read or model loaded, so the
positional arguments are placeholders.
"""

from __future__ import annotations

import argparse
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aigve.cli import build_parser, main
from aigve.commands.numeric import RANGES, _generic, numeric_actions
from aigve.errors import ConfigError

BAD_ALWAYS = ("inf", "-inf", "nan", "1e308", "1e400", "abc", "-1", "", "0x10", "[1]")


def _walk(parser: argparse.ArgumentParser, prefix: list[str]):
    """(argv prefix that reaches ``parser`` with its required arguments filled, parser) for every (nested) command."""
    argv = list(prefix)
    nested = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            nested = [(name, sub) for name, sub in action.choices.items()]
        elif not action.option_strings and action.nargs not in ("?", "*"):
            argv.append(str(next(iter(action.choices))) if action.choices else "placeholder")
        elif action.required:
            argv += [action.option_strings[0], "placeholder"]
    if nested:
        for name, sub in nested:
            yield from _walk(sub, [*argv, name])
    else:
        yield argv, parser


def _cases() -> list[tuple[list[str], argparse.Action]]:
    top = build_parser()
    sub = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    cases = []
    for name, parser in sub.choices.items():
        for argv, leaf in _walk(parser, [name]):
            parsers = [leaf] if leaf is parser else [parser, leaf]
            cases += [(argv, a) for p in parsers for a in numeric_actions(p)]
    return cases


CASES = _cases()


def _refused(capsys, argv: list[str]) -> str:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse itself refused the text (not a number of this type)
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, (argv, code, err)
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    return lines[0]


def test_every_command_with_numeric_options_is_covered():
    commands = {argv[0] for argv, _ in CASES}
    assert {"score", "report", "refine", "bench", "app", "calibrate", "testing"} <= commands
    assert len(CASES) >= 50


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=st.sampled_from(CASES), bad=st.sampled_from(BAD_ALWAYS))
def test_inf_nan_huge_negative_and_garbage_are_one_line_errors(capsys, case, bad):
    argv, action = case
    flag = action.option_strings[-1]
    line = _refused(capsys, [*argv, f"{flag}={bad}"])
    assert flag in line or action.option_strings[0] in line, line


def _refuses_zero(action: argparse.Action) -> bool:
    try:
        RANGES.get(action.dest, _generic(action))("x", 0)
    except ConfigError:
        return True
    return False


ZERO_CASES = [(argv, a) for argv, a in CASES if _refuses_zero(a)]


@pytest.mark.parametrize("argv,action", ZERO_CASES, ids=[f"{a[0]}{b.option_strings[-1]}" for a, b in ZERO_CASES])
def test_zero_is_refused_wherever_the_range_excludes_it(capsys, argv, action):
    flag = action.option_strings[-1]
    assert "invalid " + flag in _refused(capsys, [*argv, f"{flag}=0"])


def test_zero_counts_are_refused_and_zero_seeds_are_not():
    zero_ok = {a.dest for _, a in CASES if not _refuses_zero(a)}
    assert {"seed", "bootstrap"} <= zero_ok and not {"fps", "batch_size", "max_frames", "port"} & zero_ok


def test_the_error_names_option_value_and_range(capsys):
    assert _refused(capsys, ["score", "clip.mp4", "--backend", "fake", "--fps", "inf"]).endswith(
        "invalid --fps=inf: must be a finite number in (0, 1000]")
    assert "invalid --max-duration-s=nan" in _refused(capsys, ["app", "--max-duration-s", "nan"])
    assert "invalid --max-upload-mb=inf" in _refused(capsys, ["app", "--max-upload-mb", "inf"])


@pytest.mark.parametrize("option", ["seed=nan", "seed=abc", "seed=[1]", "seed=1e400", "seed=1.5", "seed=true"])
def test_fake_backend_seed_must_be_an_integer(capsys, tmp_path, option):
    line = _refused(capsys, ["score", "clip.mp4", "--backend", "fake", "--backend-option", option,
                             "--out", str(tmp_path / "o"), "--no-progress"])
    assert "invalid seed=" in line and "integer" in line
    assert not (tmp_path / "o" / "results.jsonl").exists()


@pytest.mark.parametrize("command", [["score", "clip.mp4", "--no-progress"], ["app", "--lazy"]])
def test_signals_calibration_must_be_a_path(capsys, tmp_path, command):
    line = _refused(capsys, [*command, "--backend", "signals", "--backend-option", "calibration=123",
                             *(["--out", str(tmp_path / "o")] if command[0] == "score" else [])])
    assert "invalid calibration=123" in line and "path" in line


@pytest.mark.parametrize("flag,value", [("--lr", "inf"), ("--lr", "nan"), ("--learning-rate", "-1"),
                                        ("--num-train-epochs", "inf"), ("--warmup-ratio", "nan"),
                                        ("--per-device-batch-size", "1e308"), ("--seed", "-1")])
def test_train_recipe_numbers_refuse_inf_and_nan(capsys, tmp_path, flag, value):
    line = _refused(capsys, ["train", "--model", str(tmp_path), "--data", str(tmp_path / "d.json"),
                             "--output-dir", str(tmp_path / "o"), flag, value])
    assert "invalid --" in line and value in line


def test_library_configs_refuse_inf_and_nan():
    from aigve.config import GenerationConfig, SamplingConfig
    from aigve.training.recipe import TrainRecipe
    from aigve.webui.safety import Limits

    for build in (lambda x: SamplingConfig(fps=x), lambda x: GenerationConfig(temperature=x),
                  lambda x: TrainRecipe(learning_rate=x), lambda x: Limits(max_duration_s=x),
                  lambda x: Limits(max_upload_mb=x)):
        for bad in (math.inf, math.nan, -1.0):
            with pytest.raises(ConfigError):
                build(bad)
