"""``aigve refine "PROMPT"``: generate -> evaluate -> critique -> rewrite the prompt, round after round."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from aigve.commands.options import add_sampling_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("refine", help="improve a text-to-video prompt with a generate/evaluate/refine loop",
                       description="Multi-agent refinement: a generator renders the prompt, the evaluator scores the "
                                   "video on nine aspects, a critic lists the weakest aspects, and a refiner rewrites "
                                   "the prompt (keeping the user's subjects and actions). Writes trace.jsonl, "
                                   "summary.json, best.mp4 and videos/ under --out.")
    p.add_argument("prompt", help="the user's text prompt")
    p.add_argument("--out", default="runs/refine", help="output folder (default runs/refine)")
    p.add_argument("--overwrite", action="store_true", help="replace a previous run in --out")
    g = p.add_argument_group("roles")
    g.add_argument("--generator", default="procedural",
                   help="procedural (offline demo), command (external program), diffusers (text-to-video pipeline)")
    g.add_argument("--generator-option", action="append", default=[], metavar="KEY=VALUE",
                   help="generator option (repeatable), e.g. model=THUDM/CogVideoX-2b, num_frames=49, "
                        "template='python gen.py --prompt {prompt} --seed {seed} --out {out}', timeout=600")
    g.add_argument("--refiner", default="rules", help="rules (templates per aspect) or llm")
    g.add_argument("--refiner-model", default=None,
                   help="llm: HF model id/folder, OpenAI-compatible URL (http://host:8000/v1), or 'evaluator'")
    g.add_argument("--refiner-option", action="append", default=[], metavar="KEY=VALUE",
                   help="refiner option (repeatable), e.g. max_fixes=3, model=SERVED_NAME, api_key=...")
    j = p.add_argument_group("evaluator")
    j.add_argument("--evaluator", "--backend", dest="backend", default="macs",
                   help="scoring backend: macs (Qwen2.5-VL judge), signals (pixel measurements), fake (tests)")
    j.add_argument("--model", default=None, help="evaluator model: hub id or checkpoint folder (macs)")
    j.add_argument("--adapter", default=None, help="evaluator LoRA adapter folder (macs)")
    j.add_argument("--dtype", default=None, help="evaluator dtype (macs)")
    j.add_argument("--device", default=None, help="evaluator device (macs)")
    j.add_argument("--profile", default=None, metavar="NAME",
                   help="evaluator judge profile (see `aigve profiles`); default: recorded with the model, else "
                        "macs-card")
    j.add_argument("--backend-option", action="append", default=[], metavar="KEY=VALUE",
                   help="any other evaluator backend option (repeatable)")
    s = p.add_argument_group("stopping")
    s.add_argument("--rounds", type=int, default=4, help="most rounds in all, round 0 included (default 4)")
    s.add_argument("--target", type=float, default=None, help="stop once the objective reaches this (0-5 scale)")
    s.add_argument("--patience", type=int, default=None, help="stop after this many rounds without a new best")
    s.add_argument("--time-budget", type=float, default=None, help="wall seconds; no new round starts after it")
    s.add_argument("--objective", default="mean", help="mean (of the scored aspects) or one aspect, e.g. overall")
    s.add_argument("--seed", type=int, default=0, help="generation seed (default 0, same every round)")
    s.add_argument("--seed-step", type=int, default=0, help="add this to the seed each round (default 0)")
    s.add_argument("--retries", type=int, default=2, help="retries of a failed generation per round (default 2)")
    add_sampling_args(p)
    p.set_defaults(func=run)


def _abbrev(key: str) -> str:
    parts = key.split("_")
    return "".join(w[0] for w in parts) if len(parts) > 1 else key[:3]


def _fmt(value: Any, width: int, digits: int = 2) -> str:
    if value is None:
        return "-".rjust(width)
    if isinstance(value, float):
        return f"{value:.{digits}f}".rjust(width)
    return str(value).rjust(width)


class RoundTable:
    """Prints one row per round as it finishes: objective, the nine scores, refiner source, prompt."""

    def __init__(self, stream: Any = None):
        from aigve.aspects import ASPECT_KEYS

        self.keys, self.stream = ASPECT_KEYS, stream or sys.stdout
        cols = " ".join(_abbrev(k).rjust(3) for k in ASPECT_KEYS)
        print(f"{'round':>5} {'obj':>5} {cols}  {'next':<9} prompt", file=self.stream)

    def __call__(self, record: dict[str, Any]) -> None:
        scores = record.get("scores") or {}
        cols = " ".join(_fmt(scores.get(k), 3) for k in self.keys)
        if record["status"] != "ok":
            source = record["status"]
        else:
            source = (record.get("refinement") or {}).get("source") or "-"
        prompt = record["prompt"] if len(record["prompt"]) <= 90 else record["prompt"][:87] + "..."
        print(f"{record['round']:>5} {_fmt(record.get('objective'), 5)} {cols}  {source:<9} {prompt}",
              file=self.stream, flush=True)


def print_gain(summary: dict[str, Any], stream: Any = None) -> None:
    """The gain lines: objective and each scored aspect, round 0 -> best round, absolute and relative."""
    stream = stream or sys.stdout
    obj = summary["objective"]
    print(f"stopped: {summary['stop_rule']} ({summary['stop_detail']})", file=stream)
    if obj["abs_gain"] is None:
        print("gain: not available (round 0 or every round unscored)", file=stream)
        return
    rel = f"{obj['rel_gain'] * 100:+.1f}%" if obj["rel_gain"] is not None else "n/a"
    print(f"gain ({obj['name']}): {obj['round0']:.2f} -> {obj['best']:.2f} at round {summary['best_round']} "
          f"({obj['abs_gain']:+.2f}, {rel})", file=stream)
    for key, g in summary["aspects"].items():
        if g["abs_gain"] is not None:
            r = f"{g['rel_gain'] * 100:+.1f}%" if g["rel_gain"] is not None else "n/a"
            print(f"  {key:<18} {g['round0']} -> {g['best']} ({g['abs_gain']:+d}, {r})", file=stream)
    print(f"best prompt: {summary['best_prompt']}", file=stream)


def print_caveats(summary: dict[str, Any], stream: Any = None) -> None:
    """On stderr: the banner ``aigve score`` prints when the scores are placeholders (fake backend, tiny test
    model), and a note when the videos come from a synthetic renderer (see :func:`aigve.refine.trace.caveats`)."""
    stream = stream or sys.stderr
    sys.stdout.flush()  # keep the notes after the gain lines in a terminal
    if summary.get("not_a_real_evaluation"):
        from aigve.report.provenance import console_note

        print(console_note(summary["not_a_real_evaluation"]), file=stream)
    if summary.get("synthetic_generator"):
        print(f"NOTE: {summary['synthetic_generator']}.", file=stream)


def build_evaluator(args: argparse.Namespace) -> Any:
    """The evaluator from the judge flags (``aigve.load_evaluator``); a seam for tests."""
    from aigve.commands.options import evaluator_from_args

    return evaluator_from_args(args)


def check_run_folders(out: Any, folders: list[Any], overwrite: bool) -> None:
    """Raise ConfigError before any model loads (not after, from the loop) when ``out`` or a run folder in
    ``folders`` is a file, or, without ``overwrite``, already holds a run."""
    from pathlib import Path

    from aigve.errors import ConfigError

    out, folders = Path(out), [Path(f) for f in folders]
    for f in dict.fromkeys([out, *folders]):
        if f.exists() and not f.is_dir():
            raise ConfigError("--out", str(f), "is a file; give --out a folder")
    taken = held_runs(folders)
    if taken and not overwrite:
        from aigve.run.folder import OutputExistsError

        raise OutputExistsError(taken[0] if folders == [out] else out)


def held_runs(folders: list[Any]) -> list[Any]:
    """The folders among ``folders`` that already hold a refinement run (a non-empty trace)."""
    from pathlib import Path

    from aigve.refine.trace import TRACE_FILE

    return [Path(f) for f in folders if (Path(f) / TRACE_FILE).is_file() and (Path(f) / TRACE_FILE).stat().st_size]


#: Loop fields (StopPolicy, check_run_settings) -> the flags that set them, so errors name what the user typed.
FLAGS = {"rounds": "--rounds", "target": "--target", "patience": "--patience", "time_budget": "--time-budget",
         "seed": "--seed", "seed_step": "--seed-step", "generator_retries": "--retries"}


def stop_policy_from_args(args: argparse.Namespace) -> Any:
    """The StopPolicy of the stopping flags, after checking every numeric loop flag against its range (before
    any model loads); a bad value raises ConfigError naming the flag, the value and the valid range."""
    from aigve.errors import ConfigError
    from aigve.refine.loop import StopPolicy, check_run_settings

    try:
        check_run_settings(args.seed, getattr(args, "seed_step", 0), getattr(args, "retries", 0))
        return StopPolicy(rounds=args.rounds, target=args.target, patience=args.patience,
                          time_budget_s=args.time_budget)
    except ConfigError as exc:
        raise ConfigError(FLAGS.get(exc.field, exc.field), exc.value, exc.fix) from None


def run(args: argparse.Namespace) -> int:

    from aigve.refine.critic import check_objective
    from aigve.run.folder import claim

    objective = check_objective(args.objective)
    stop = stop_policy_from_args(args)
    check_run_folders(args.out, [args.out], args.overwrite)
    with claim(args.out, overwrite=args.overwrite, what="refine run", exists=bool(held_runs([args.out]))):
        return _refine(args, objective, stop)


def _refine(args: argparse.Namespace, objective: Any, stop: Any) -> int:
    from pathlib import Path

    from aigve.commands.options import parse_key_values
    from aigve.refine.assembly import build_generator, build_refiner
    from aigve.refine.loop import Controller

    generator = build_generator(args.generator, parse_key_values(args.generator_option, "--generator-option"))
    evaluator = build_evaluator(args)
    refiner = build_refiner(args.refiner, args.refiner_model,
                            parse_key_values(args.refiner_option, "--refiner-option"), evaluator=evaluator)
    print(f"refining {args.prompt!r}: generator={args.generator} evaluator={args.backend} refiner={args.refiner} "
          f"-> {args.out}")
    controller = Controller(generator, evaluator, refiner, stop=stop, seed=args.seed, seed_step=args.seed_step,
                            generator_retries=args.retries, objective=objective, on_round=RoundTable())
    summary = controller.run(args.prompt, args.out, overwrite=args.overwrite)
    print_gain(summary)
    print_caveats(summary)
    out = Path(args.out)
    print(f"trace: {out / 'trace.jsonl'}  summary: {out / 'summary.json'}"
          + (f"  best video: {out / 'best.mp4'}" if summary["best_round"] is not None else ""))
    return 0 if summary["stop_rule"] in ("target", "patience", "rounds", "time_budget", "no_change") else 1
