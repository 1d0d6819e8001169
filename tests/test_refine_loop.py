"""The controller: improvement over rounds, each stopping rule, retries, failures, and what stays on disk."""

from __future__ import annotations

import filecmp
import json
from pathlib import Path

import pytest

from aigve.aspects import ASPECT_KEYS
from aigve.errors import ConfigError
from aigve.refine.generators import ProceduralGenerator
from aigve.refine.loop import Controller, StopPolicy
from aigve.refine.refiners import RulesRefiner
from aigve.refine.roles import GenerationError, Refinement
from aigve.refine.trace import read_trace
from aigve.results import EvaluationResult

PROMPT = "a red ball bouncing on a wooden floor"


class FileGenerator:
    """Writes a small file whose bytes name the prompt; fails on the attempts listed in ``fail_on``."""

    name = "file"

    def __init__(self, fail_on: set[int] | None = None, tick=None):
        self.calls: list[tuple[str, int]] = []
        self.fail_on, self.tick = fail_on or set(), tick

    def generate(self, prompt, seed, out_path):
        self.calls.append((prompt, seed))
        if self.tick:
            self.tick()
        if len(self.calls) in self.fail_on:
            raise GenerationError(self.name, f"pretend crash on call {len(self.calls)}")
        Path(out_path).write_text(f"{prompt}|{seed}")
        return Path(out_path)

    def describe(self):
        return {"name": self.name}


class ScriptedEvaluator:
    """Returns the i-th score dict on the i-th call (the last one repeats); records what it was asked."""

    def __init__(self, script: list[dict], error_on: int | None = None):
        self.script, self.calls, self.error_on = script, [], error_on

    def evaluate(self, video, prompt):
        self.calls.append((str(video), prompt))
        if self.error_on == len(self.calls):
            return EvaluationResult.failed("x", str(video), prompt, ValueError("cannot decode"), stage="decode")
        scores = self.script[min(len(self.calls), len(self.script)) - 1]
        return EvaluationResult(id="x", video=str(video), prompt=prompt,
                                scores={k: scores.get(k) for k in ASPECT_KEYS},
                                comments={k: f"{k} note" if scores.get(k) is not None else None for k in ASPECT_KEYS})


def scores(tq, dyn, con):
    return {"technical_quality": tq, "dynamic": dyn, "consistency": con}


def run(tmp_path, script, stop, **kw):
    evaluator = ScriptedEvaluator(script, kw.pop("error_on", None))
    generator = kw.pop("generator", None) or FileGenerator()
    controller = Controller(generator, evaluator, RulesRefiner(), stop=stop, **kw)
    return controller.run(PROMPT, tmp_path / "run"), generator, evaluator


def rounds_of(tmp_path):
    return [e for e in read_trace(tmp_path / "run") if e["event"] == "round"]


def test_rounds_budget_best_round_and_trace(tmp_path):
    script = [scores(2, 4, 1), scores(3, 4, 3), scores(4, 4, 2)]
    summary, generator, evaluator = run(tmp_path, script, StopPolicy(rounds=3))
    assert summary["stop_rule"] == "rounds" and summary["rounds_run"] == 3
    assert summary["best_round"] == 1  # objectives 7/3, 10/3, 10/3: a tie does not replace the best
    assert summary["objective"]["abs_gain"] == pytest.approx(1.0)
    assert summary["objective"]["rel_gain"] == pytest.approx(3 / 7)
    assert summary["aspects"]["consistency"] == {"round0": 1, "best": 3, "abs_gain": 2, "rel_gain": 2.0}
    assert summary["aspects"]["physics"]["abs_gain"] is None
    assert all(prompt == PROMPT for _, prompt in evaluator.calls)  # always judged against the user's prompt
    assert generator.calls[0] == (PROMPT, 0) and generator.calls[1][0].startswith(PROMPT + ", ")
    events = read_trace(tmp_path / "run")
    assert [e["event"] for e in events] == ["start", "round", "round", "round", "stop"]
    r0 = events[1]
    for key in ("round", "prompt", "seed", "video", "scores", "comments", "critique", "refined_prompt", "timings"):
        assert key in r0
    assert r0["critique"]["problems"][0]["aspect"] == "consistency"
    assert r0["refined_prompt"] == events[2]["prompt"]
    assert set(r0["timings"]) >= {"generate_s", "evaluate_s", "critique_s", "refine_s", "round_s"}
    assert events[3]["refined_prompt"] is None  # the last round is not refined
    assert filecmp.cmp(tmp_path / "run" / "best.mp4", events[2]["video"], shallow=False)
    on_disk = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert on_disk["best_round"] == 1 and on_disk["stop_rule"] == "rounds"


def test_target_stops_as_soon_as_reached(tmp_path):
    summary, _, _ = run(tmp_path, [scores(2, 2, 2), scores(4, 4, 5), scores(5, 5, 5)],
                        StopPolicy(rounds=10, target=4.3))
    assert summary["stop_rule"] == "target" and summary["rounds_run"] == 2 and summary["best_round"] == 1


def test_patience_stops_after_k_rounds_without_improvement(tmp_path):
    script = [scores(2, 2, 2), scores(3, 3, 3), scores(3, 3, 3), scores(2, 3, 3), scores(5, 5, 5)]
    summary, _, _ = run(tmp_path, script, StopPolicy(rounds=10, patience=2))
    assert summary["stop_rule"] == "patience" and summary["rounds_run"] == 4 and summary["best_round"] == 1
    assert "no improvement for 2" in summary["stop_detail"]


def test_time_budget_stops_before_a_new_round(tmp_path):
    clock = {"t": 0.0}
    generator = FileGenerator(tick=lambda: clock.__setitem__("t", clock["t"] + 5.0))  # each round costs 5 s
    script = [scores(1, 1, 1), scores(2, 2, 2), scores(3, 3, 3), scores(4, 4, 4)]
    summary, _, _ = run(tmp_path, script, StopPolicy(rounds=10, time_budget_s=12), generator=generator,
                        clock=lambda: clock["t"])
    assert summary["stop_rule"] == "time_budget" and summary["rounds_run"] == 3  # 5, 10 < 12 <= 15
    assert summary["total_s"] == 15.0


def test_no_change_stops_when_the_refiner_has_nothing_left(tmp_path):
    only_tq = {"technical_quality": 2}  # three technical_quality templates, then nothing new
    summary, generator, _ = run(tmp_path, [only_tq], StopPolicy(rounds=10))
    assert summary["stop_rule"] == "no_change" and summary["rounds_run"] == 4
    assert len({p for p, _ in generator.calls}) == 4


def test_generator_failures_are_retried_and_recorded(tmp_path):
    generator = FileGenerator(fail_on={1, 2})  # round 0 succeeds on its third attempt
    summary, _, _ = run(tmp_path, [scores(2, 2, 2)], StopPolicy(rounds=1), generator=generator, generator_retries=2)
    assert summary["stop_rule"] == "rounds" and len(generator.calls) == 3
    events = read_trace(tmp_path / "run")
    failed = [e for e in events if e["event"] == "generation_failed"]
    assert [e["error"]["attempt"] for e in failed] == [1, 2]
    assert "pretend crash" in failed[0]["error"]["message"]
    assert len(rounds_of(tmp_path)[0]["generation_errors"]) == 2


def test_generation_failing_every_attempt_ends_the_run_with_everything_kept(tmp_path):
    generator = FileGenerator(fail_on={2, 3, 4})  # round 0 fine, round 1 fails all 3 attempts
    summary, _, _ = run(tmp_path, [scores(2, 2, 2)], StopPolicy(rounds=5), generator=generator, generator_retries=2)
    assert summary["stop_rule"] == "generation_failed" and summary["best_round"] == 0
    assert [r["status"] for r in rounds_of(tmp_path)] == ["ok", "generation_failed"]
    assert (tmp_path / "run" / "best.mp4").read_text().startswith(PROMPT)
    assert read_trace(tmp_path / "run")[-1]["event"] == "stop"


def test_evaluation_failure_ends_the_run(tmp_path):
    summary, _, _ = run(tmp_path, [scores(2, 2, 2)], StopPolicy(rounds=5), error_on=2)
    assert summary["stop_rule"] == "evaluation_failed" and "cannot decode" in summary["stop_detail"]
    assert summary["objective"]["best"] == 2.0


def test_an_unexpected_crash_still_writes_trace_and_summary(tmp_path):
    class Boom(ScriptedEvaluator):
        def evaluate(self, video, prompt):
            if self.calls:
                raise KeyboardInterrupt
            return super().evaluate(video, prompt)

    controller = Controller(FileGenerator(), Boom([scores(2, 2, 2)]), RulesRefiner(), stop=StopPolicy(rounds=5))
    with pytest.raises(KeyboardInterrupt):
        controller.run(PROMPT, tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["stop_rule"] == "interrupted" and summary["best_round"] == 0
    assert [e["event"] for e in read_trace(tmp_path / "run")] == ["start", "round", "stop"]


def test_out_folder_is_protected_and_policy_is_validated(tmp_path):
    run(tmp_path, [scores(2, 2, 2)], StopPolicy(rounds=1))
    with pytest.raises(ConfigError, match="overwrite"):
        run(tmp_path, [scores(2, 2, 2)], StopPolicy(rounds=1))
    controller = Controller(FileGenerator(), ScriptedEvaluator([scores(3, 3, 3)]), RulesRefiner(),
                            stop=StopPolicy(rounds=1))
    assert controller.run(PROMPT, tmp_path / "run", overwrite=True)["objective"]["round0"] == 3.0
    for bad in ({"rounds": 0}, {"patience": 0}, {"time_budget_s": -1}):
        with pytest.raises(ConfigError):
            StopPolicy(**bad)


@pytest.fixture(scope="module")
def signals_evaluator():
    import aigve

    return aigve.load_evaluator(backend="signals")


def test_offline_end_to_end_procedural_signals_rules_improves_the_targeted_aspects(tmp_path, signals_evaluator):
    controller = Controller(ProceduralGenerator(), signals_evaluator, RulesRefiner(), stop=StopPolicy(rounds=4))
    summary = controller.run(PROMPT, tmp_path / "run")
    history = summary["history"]
    first, best = history[0]["scores"], history[summary["best_round"]]["scores"]
    targeted = rounds_of(tmp_path)[0]["refinement"]["addressed"]
    assert targeted == ["consistency", "technical_quality"]  # the weakest two at round 0
    for aspect in targeted:
        assert best[aspect] > first[aspect]
    assert first["consistency"] <= 1 and best["consistency"] >= 4  # flicker gone
    assert summary["objective"]["rel_gain"] > 0.3
    objectives = [h["objective"] for h in history]
    assert objectives[1] > objectives[0] and max(objectives) == objectives[summary["best_round"]]
    assert summary["stop_rule"] == "rounds" and (tmp_path / "run" / "best.mp4").stat().st_size > 0
    assert summary["aspects"]["physics"]["abs_gain"] is None  # signals does not judge physics


def test_end_to_end_stops_on_target_and_patience(tmp_path, signals_evaluator):
    reach = Controller(ProceduralGenerator(), signals_evaluator, RulesRefiner(),
                       stop=StopPolicy(rounds=6, target=3.5)).run(PROMPT, tmp_path / "t")
    assert reach["stop_rule"] == "target" and reach["rounds_run"] < 6 and reach["objective"]["best"] >= 3.5
    # a refiner that never changes the prompt cannot improve it; a new seed each round keeps no_change off
    class Stubborn:
        name = "stubborn"

        def refine(self, original, current, critique):
            return Refinement(current, self.name)

    patient = Controller(ProceduralGenerator(), signals_evaluator, Stubborn(), seed_step=1,
                         stop=StopPolicy(rounds=6, patience=1, min_delta=1.0))
    result = patient.run(PROMPT, tmp_path / "p")
    assert result["stop_rule"] == "patience" and result["rounds_run"] == 2 and result["best_round"] == 0
