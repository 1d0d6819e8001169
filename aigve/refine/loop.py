"""The controller of the refinement loop: generate -> evaluate -> critique -> refine, round after round.

Stops on the first rule that fires after a round is scored, checked in this order: ``target`` (objective >=
target), ``patience`` (no improvement of the best objective for k rounds), ``rounds`` (round budget, counting
round 0), ``time_budget`` (wall seconds since the start, checked before a new round begins), ``no_change``
(the refiner returned the prompt unchanged while the seed is fixed: the next round would repeat this one).
A round whose generation fails after all retries, or whose evaluation fails, ends the run with
``generation_failed`` / ``evaluation_failed``; trace, summary and the best video so far are kept in every case.
"""

from __future__ import annotations

import logging
import math
import numbers
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aigve.aspects import SCORE_MAX, SCORE_MIN
from aigve.core import validate
from aigve.errors import ConfigError
from aigve.refine.critic import ScoreCritic
from aigve.refine.roles import Critic, Evaluator, Generator, Refiner
from aigve.refine.trace import (
    BEST_FILE,
    SUMMARY_FILE,
    TRACE_FILE,
    VIDEO_DIR,
    TraceWriter,
    build_summary,
    caveats,
    keep_best,
    run_relative,
    write_json_atomic,
)

log = logging.getLogger(__name__)


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    """A finite int or float (not bool, NaN or infinity: each compares false or never ends a run)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def check_run_settings(seed: int, seed_step: int, generator_retries: int) -> None:
    """Raise ConfigError unless ``seed`` and ``seed_step`` are integers >= 0 (the generators seed NumPy and
    torch random generators; NumPy refuses a negative seed, so every generation of the run would fail) and
    ``generator_retries`` is an integer >= 0. Cheap: callers run it before a model loads."""
    for field, value in (("seed", seed), ("seed_step", seed_step), ("generator_retries", generator_retries)):
        validate.non_negative_int(field, value)


@dataclass(frozen=True)
class StopPolicy:
    """``rounds``: most rounds in all, round 0 (the user's prompt) included. ``target``: objective on the 0-5
    scale. ``patience``: rounds without a new best before stopping. ``time_budget_s``: wall seconds.
    ``min_delta``: how much the objective must exceed the best to count as an improvement.

    Every value is checked against the range in which it can act (ConfigError naming field, value and range):
    a target at or below 0 is met by round 0 and one above 5 is never met, and a patience of ``rounds`` or
    more never fires, so each would silently turn into a plain round budget."""

    rounds: int = 4
    target: float | None = None
    patience: int | None = None
    time_budget_s: float | None = None
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        if not _is_int(self.rounds) or self.rounds < 1:
            raise ConfigError("rounds", self.rounds, "must be a positive integer (round 0 counts)")
        if self.target is not None and not (_is_real(self.target) and SCORE_MIN < self.target <= SCORE_MAX):
            raise ConfigError("target", self.target,
                              f"must be in ({SCORE_MIN}, {SCORE_MAX}]: every objective (mean or one aspect) is on "
                              f"the {SCORE_MIN}-{SCORE_MAX} score scale, a target of {SCORE_MIN} or less is met by "
                              f"round 0 and one above {SCORE_MAX} is never reached; leave it out to stop on the "
                              f"round budget")
        if self.patience is not None:
            if not _is_int(self.patience) or self.patience < 1:
                raise ConfigError("patience", self.patience, "must be a positive integer or unset")
            if self.patience >= self.rounds:
                valid = f"be in 1..{self.rounds - 1}" if self.rounds > 1 else "be left out"
                raise ConfigError("patience", self.patience,
                                  f"must {valid} with rounds={self.rounds}: only {self.rounds - 1} round(s) follow "
                                  f"round 0, so a larger patience never fires; raise rounds or lower patience")
        if self.time_budget_s is not None and not (_is_real(self.time_budget_s) and self.time_budget_s > 0):
            raise ConfigError("time_budget", self.time_budget_s,
                              "must be a positive, finite number of seconds (leave it out for no time limit)")
        if not (_is_real(self.min_delta) and 0 <= self.min_delta < SCORE_MAX):
            raise ConfigError("min_delta", self.min_delta, f"must be in [0, {SCORE_MAX}) score points")

    def check(self, round_index: int, objective: float | None, since_best: int,
              elapsed_s: float) -> tuple[str, str] | None:
        """(rule, detail) when the run must stop after ``round_index``, else None."""
        if self.target is not None and objective is not None and objective >= self.target:
            return "target", f"objective {objective:.3g} >= target {self.target:g}"
        if self.patience is not None and since_best >= self.patience:
            return "patience", f"no improvement for {since_best} round(s) (patience {self.patience})"
        if round_index + 1 >= self.rounds:
            return "rounds", f"ran {round_index + 1} of {self.rounds} rounds"
        if self.time_budget_s is not None and elapsed_s >= self.time_budget_s:
            return "time_budget", f"{elapsed_s:.1f} s elapsed >= budget {self.time_budget_s:g} s"
        return None


def _describe(obj: Any) -> Any:
    describe = getattr(obj, "describe", None)
    try:
        return describe() if callable(describe) else type(obj).__name__
    except Exception as exc:  # a description is informative only; never let it end a run
        return f"{type(obj).__name__} (describe failed: {exc})"


class Controller:
    """Runs the loop for one user prompt and writes ``trace.jsonl``, ``summary.json`` and ``best.mp4``.

    ``seed`` is used for every round (``seed_step`` > 0 varies it per round). A failed generation is retried
    ``generator_retries`` times, ``retry_wait_s`` apart. ``on_round(record)`` is called after each round (the
    CLI prints its table from it; ``record["video"]`` is relative to the run folder, as in ``trace.jsonl``). ``clock`` returns seconds (injectable for tests).
    """

    def __init__(self, generator: Generator, evaluator: Evaluator, refiner: Refiner, *, critic: Critic | None = None,
                 stop: StopPolicy | None = None, seed: int = 0, seed_step: int = 0, generator_retries: int = 2,
                 retry_wait_s: float = 0.0, objective: str = "mean",
                 on_round: Callable[[dict[str, Any]], None] | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        check_run_settings(seed, seed_step, generator_retries)
        self.generator, self.evaluator, self.refiner = generator, evaluator, refiner
        self.critic = critic or ScoreCritic(objective=objective)
        self.stop = stop or StopPolicy()
        self.seed, self.seed_step = int(seed), int(seed_step)
        self.generator_retries, self.retry_wait_s = generator_retries, retry_wait_s
        self.objective_name = objective
        self.on_round, self.clock, self.sleep = on_round, clock, sleep

    def _prepare(self, out: Path, overwrite: bool) -> None:
        trace = out / TRACE_FILE
        if trace.exists() and trace.stat().st_size and not overwrite:
            raise ConfigError("out", str(out), f"{trace} already holds a run; choose a new `out` or set `overwrite`")
        if overwrite:
            for name in (TRACE_FILE, SUMMARY_FILE, BEST_FILE):
                (out / name).unlink(missing_ok=True)
            shutil.rmtree(out / VIDEO_DIR, ignore_errors=True)
        (out / VIDEO_DIR).mkdir(parents=True, exist_ok=True)

    def _generate(self, trace: TraceWriter, rnd: int, prompt: str, seed: int, out: Path,
                  record: dict[str, Any]) -> Path | None:
        target = out / VIDEO_DIR / f"round_{rnd:02d}.mp4"
        for attempt in range(1, self.generator_retries + 2):
            try:
                video = Path(self.generator.generate(prompt, seed, target))
                if not video.is_file() or video.stat().st_size == 0:
                    raise FileNotFoundError(f"generator returned {video}, which is missing or empty")
                return video
            except Exception as exc:  # any generator failure is retried and recorded, never fatal to the trace
                error = {"type": type(exc).__name__, "message": str(exc), "attempt": attempt}
                record["generation_errors"].append(error)
                trace.event("generation_failed", round=rnd, seed=seed, prompt=prompt, error=error)
                log.warning("round %d: generation attempt %d failed: %s", rnd, attempt, exc)
                if attempt <= self.generator_retries and self.retry_wait_s:
                    self.sleep(self.retry_wait_s)
        return None

    def _round(self, trace: TraceWriter, rnd: int, user_prompt: str, prompt: str, out: Path) -> tuple[dict, Any]:
        """Generate, evaluate and critique one round; returns (record, critique or None)."""
        seed = self.seed + rnd * self.seed_step
        record: dict[str, Any] = {"round": rnd, "prompt": prompt, "seed": seed, "video": None, "status": "ok",
                                  "scores": None, "comments": None, "objective": None, "critique": None,
                                  "refined_prompt": None, "refinement": None, "generation_errors": [],
                                  "error": None, "timings": {}}
        timings = record["timings"]
        start = self.clock()
        video = self._generate(trace, rnd, prompt, seed, out, record)
        timings["generate_s"] = round(self.clock() - start, 4)
        if video is None:
            record["status"] = "generation_failed"
            record["error"] = record["generation_errors"][-1]
            return record, None
        record["video"] = run_relative(video, out)  # the folder stays valid when moved
        t = self.clock()
        try:
            result = self.evaluator.evaluate(video, user_prompt)
        except Exception as exc:  # recorded in the trace; the run ends cleanly with what it has
            result, record["error"] = None, {"type": type(exc).__name__, "message": str(exc)}
        timings["evaluate_s"] = round(self.clock() - t, 4)
        if result is None or not result.ok:
            record["status"] = "evaluation_failed"
            record["error"] = record["error"] or result.error
            return record, None
        record["scores"], record["comments"] = dict(result.scores), dict(result.comments)
        t = self.clock()
        critique = self.critic.critique(result, user_prompt)
        timings["critique_s"] = round(self.clock() - t, 4)
        record["critique"], record["objective"] = critique.to_dict(), critique.objective
        return record, critique

    def run(self, prompt: str, out_dir: str | Path, *, overwrite: bool = False) -> dict[str, Any]:
        """Refine ``prompt``; returns the summary (also written to ``out_dir/summary.json``)."""
        if not prompt or not prompt.strip():
            raise ConfigError("prompt", prompt, "give a non-empty text prompt")
        out = Path(out_dir)
        self._prepare(out, overwrite)
        trace = TraceWriter(out)
        context = {"generator": _describe(self.generator), "evaluator": _describe(self.evaluator),
                   "refiner": getattr(self.refiner, "name", type(self.refiner).__name__),
                   "settings": {"seed": self.seed, "seed_step": self.seed_step, "rounds": self.stop.rounds,
                                "target": self.stop.target, "patience": self.stop.patience,
                                "time_budget_s": self.stop.time_budget_s,
                                "generator_retries": self.generator_retries}}
        context.update(caveats(context["generator"], context["evaluator"]))
        trace.event("start", prompt=prompt, **context)
        rounds: list[dict[str, Any]] = []
        best_round: int | None = None
        best_obj: float | None = None
        stop_rule, stop_detail = "error", "the run ended unexpectedly"
        start = self.clock()
        current = prompt
        try:
            for rnd in range(self.stop.rounds):
                record, critique = self._round(trace, rnd, prompt, current, out)
                rounds.append(record)
                if critique is None:
                    stop_rule, stop_detail = record["status"], record["error"]["message"]
                    self._emit(trace, record)
                    break
                obj = record["objective"]
                if obj is not None and (best_obj is None or obj > best_obj + self.stop.min_delta):
                    best_round, best_obj = rnd, obj
                    keep_best(out / record["video"], out)  # an absolute path stays itself
                since_best = rnd - best_round if best_round is not None else rnd + 1
                record["best_round"] = best_round
                decision = self.stop.check(rnd, obj, since_best, self.clock() - start)
                if decision is None:
                    decision = self._refine(record, prompt, current, critique)
                    current = record["refined_prompt"] or current
                self._emit(trace, record)
                if decision is not None:
                    stop_rule, stop_detail = decision
                    break
        except KeyboardInterrupt:
            stop_rule, stop_detail = "interrupted", "stopped by the user"
            raise
        except Exception as exc:
            stop_rule, stop_detail = "error", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            total = round(self.clock() - start, 4)
            context["generator"] = _describe(self.generator)  # a lazily loaded model is known only now
            summary = build_summary(prompt, rounds, best_round, stop_rule, stop_detail, self.objective_name,
                                    total_s=total, **context)
            write_json_atomic(out / SUMMARY_FILE, summary)
            trace.event("stop", stop_rule=stop_rule, stop_detail=stop_detail, best_round=best_round, total_s=total)
            trace.close()
        return summary

    def _refine(self, record: dict[str, Any], user_prompt: str, current: str, critique: Any) -> tuple[str, str] | None:
        t = self.clock()
        try:
            refinement = self.refiner.refine(user_prompt, current, critique)
        except Exception as exc:  # recorded; the run ends with what it has
            record["error"] = {"type": type(exc).__name__, "message": str(exc)}
            record["timings"]["refine_s"] = round(self.clock() - t, 4)
            return "refiner_failed", f"{type(exc).__name__}: {exc}"
        record["timings"]["refine_s"] = round(self.clock() - t, 4)
        record["refined_prompt"], record["refinement"] = refinement.prompt, refinement.to_dict()
        if refinement.prompt.strip() == current.strip() and self.seed_step == 0:
            return "no_change", "the refiner found nothing new to add; the next round would repeat this one"
        return None

    def _emit(self, trace: TraceWriter, record: dict[str, Any]) -> None:
        record["timings"]["round_s"] = round(sum(v for k, v in record["timings"].items() if k != "round_s"), 4)
        trace.event("round", **record)
        if self.on_round is not None:
            self.on_round(record)
