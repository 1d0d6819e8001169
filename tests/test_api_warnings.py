"""The Python API warns (NotARealEvaluationWarning) when results do not come from a real judge."""

import warnings

import pytest

import aigve
from aigve.cli import main
from aigve.core.provenance import random_arch, write_stamp
from aigve.errors import NotARealEvaluationWarning
from aigve.evaluator import not_a_real_evaluation

CLIP = "lavie_beach_00.mp4"


def test_the_fake_backend_warns_once_per_evaluator(shared_videos):
    ev = aigve.load_evaluator(backend="fake")
    with pytest.warns(NotARealEvaluationWarning, match="NOT A REAL EVALUATION.*'fake' backend") as caught:
        result = ev.evaluate(shared_videos / CLIP, "a beach")
        list(ev.evaluate_many([(shared_videos / CLIP, "again")]))
    assert result.ok
    assert len([w for w in caught if w.category is NotARealEvaluationWarning]) == 1
    assert caught[0].filename == __file__  # points at the caller's line, not at aigve's insides
    with pytest.warns(NotARealEvaluationWarning) as caught:
        list(aigve.load_evaluator(backend="fake").evaluate_many([(shared_videos / CLIP, "x")]))
    assert caught[0].filename == __file__


def test_a_tiny_test_model_warns(tiny_model, tiny_sampling, shared_videos, one_torch_thread):
    ev = aigve.load_evaluator(backend="macs", model=str(tiny_model), sampling=tiny_sampling,
                              generation={"max_new_tokens": 4})
    with pytest.warns(NotARealEvaluationWarning, match="tiny random-weight test model"):
        ev.evaluate(shared_videos / CLIP, "a beach")
    ev.close()


def test_the_signals_backend_does_not_warn(shared_videos):
    ev = aigve.load_evaluator(backend="signals")
    with warnings.catch_warnings():
        warnings.simplefilter("error", NotARealEvaluationWarning)
        assert ev.evaluate(shared_videos / CLIP, "").ok


def test_random_weight_and_real_descriptions(tmp_path):
    write_stamp(tmp_path, random_arch("qwen2.5-vl-7b"))  # as aigve bench --random-init-arch stamps its build
    assert "random-weight" in not_a_real_evaluation({"name": "macs", "model": str(tmp_path)})
    assert not_a_real_evaluation({"name": "macs", "model": "xiaoliux/AIGVE-MACS"}) is None
    assert not_a_real_evaluation({"name": "signals", "model": None}) is None


def test_the_command_line_prints_its_note_instead(shared_videos, tmp_path, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error", NotARealEvaluationWarning)  # would fail the run if it escaped
        assert main(["score", str(shared_videos / CLIP), "--prompt", "a beach", "--backend", "fake",
                     "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "NOT A REAL EVALUATION" in err and "NotARealEvaluationWarning" not in err
