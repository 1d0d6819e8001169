"""Run the refinement loop over a prompt list and report the mean relative gain across prompts.

The reference work (AIGVE-MACS) reports a 53.5% mean gain from its multi-agent refinement with a real
text-to-video model and its judge. Figures from the offline ``procedural`` generator measure the loop's
plumbing on a synthetic renderer, not a video model, and are not comparable with that number.

    python eval/refine_prompts.py --prompts data/prompts/refine_demo.txt --generator procedural \\
        --evaluator signals --rounds 4 --out runs/refine_prompts
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import time
from pathlib import Path

from aigve.cli import run_guarded

PROG = Path(__file__).name
DEMO_PROMPTS = Path(__file__).resolve().parents[1] / "data" / "prompts" / "refine_demo.txt"


def read_prompts(path: str | Path) -> list[str]:
    """Non-empty lines of ``path`` without ``#`` comments. Raises InputError when it cannot be read."""
    from aigve.errors import InputError

    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(path, "prompt file not found (give --prompts a text file, one prompt a line)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read the prompt file ({exc})") from None
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def slug(text: str, limit: int = 40) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit] or "prompt"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--prompts", default=str(DEMO_PROMPTS), help="text file, one prompt a line")
    p.add_argument("--out", default="runs/refine_prompts", help="output folder (one sub-folder per prompt)")
    p.add_argument("--limit", type=int, default=None, help="only the first N prompts")
    p.add_argument("--overwrite", action="store_true", help="replace earlier runs in --out")
    p.add_argument("--generator", default="procedural")
    p.add_argument("--generator-option", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--refiner", default="rules")
    p.add_argument("--refiner-model", default=None)
    p.add_argument("--refiner-option", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--evaluator", "--backend", dest="backend", default="signals")
    p.add_argument("--model", default=None)
    p.add_argument("--adapter", default=None)
    p.add_argument("--backend-option", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--target", type=float, default=None)
    p.add_argument("--patience", type=int, default=None)
    p.add_argument("--time-budget", type=float, default=None, help="wall seconds per prompt")
    p.add_argument("--objective", default="mean")
    p.add_argument("--seed", type=int, default=0)
    return p


def prompt_dirs(out: Path, prompts: list[str]) -> list[Path]:
    """One run folder per prompt: ``OUT/<index>-<slug>``."""
    return [out / f"{i:03d}-{slug(prompt)}" for i, prompt in enumerate(prompts)]


def main(argv: list[str] | None = None) -> int:
    from aigve.commands.numeric import flag_names

    parser = build_parser()
    args = parser.parse_args(argv)
    return run_guarded(PROG, lambda: run(args), flags=flag_names(parser))


def run(args: argparse.Namespace) -> int:
    from aigve.commands.options import evaluator_from_args, parse_key_values
    from aigve.commands.refine import check_run_folders, print_caveats, stop_policy_from_args
    from aigve.errors import ConfigError, InputError
    from aigve.refine.assembly import build_generator, build_refiner
    from aigve.refine.critic import check_objective
    from aigve.refine.loop import Controller
    from aigve.refine.trace import aggregate, write_json_atomic

    if args.limit is not None and args.limit < 1:
        raise ConfigError("--limit", args.limit, "must be 1 or more (leave it out for every prompt)")
    prompts = read_prompts(args.prompts)[: args.limit]
    if not prompts:
        raise InputError(args.prompts, "no prompts (one a line; '#' starts a comment)")
    out = Path(args.out)
    folders = prompt_dirs(out, prompts)
    check_run_folders(out, folders, args.overwrite)  # before any model loads
    objective = check_objective(args.objective)
    stop = stop_policy_from_args(args)
    generator = build_generator(args.generator, parse_key_values(args.generator_option, "--generator-option"))
    evaluator = evaluator_from_args(args)
    refiner = build_refiner(args.refiner, args.refiner_model,
                            parse_key_values(args.refiner_option, "--refiner-option"), evaluator=evaluator)
    rows, summaries = [], []
    start = time.perf_counter()
    print(f"{'#':>3} {'round0':>6} {'best':>5} {'gain':>7} {'rounds':>6} {'stop':<12} prompt")
    for i, prompt in enumerate(prompts):
        controller = Controller(generator, evaluator, refiner, stop=stop, seed=args.seed, objective=objective)
        summary = controller.run(prompt, folders[i], overwrite=args.overwrite)
        summaries.append(summary)
        obj = summary["objective"]
        rel = obj["rel_gain"]
        rows.append({"index": i, "prompt": prompt, "round0": obj["round0"], "best": obj["best"],
                     "abs_gain": obj["abs_gain"], "rel_gain": rel, "best_round": summary["best_round"],
                     "rounds_run": summary["rounds_run"], "stop_rule": summary["stop_rule"],
                     "best_prompt": summary["best_prompt"]})
        gain = f"{rel * 100:+.1f}%" if rel is not None else "n/a"
        r0 = f"{obj['round0']:.2f}" if obj["round0"] is not None else "-"
        best = f"{obj['best']:.2f}" if obj["best"] is not None else "-"
        print(f"{i:>3} {r0:>6} {best:>5} {gain:>7} {summary['rounds_run']:>6} {summary['stop_rule']:<12} {prompt}",
              flush=True)
    notes = {key: next((s[key] for s in summaries if s.get(key)), None)
             for key in ("not_a_real_evaluation", "synthetic_generator")}
    report = {**aggregate(summaries), **notes, "objective": objective, "generator": args.generator,
              "evaluator": args.backend, "refiner": args.refiner, "rounds": args.rounds,
              "total_s": round(time.perf_counter() - start, 3), "reference_mean_relative_gain": 0.535,
              "per_prompt": rows}
    write_json_atomic(out / "summary.json", report)
    with open(out / "prompts.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    mean = report["mean_relative_gain"]
    print(f"mean relative gain across {len(prompts) - report['without_relative_gain']} prompt(s): "
          + (f"{mean * 100:+.1f}%" if mean is not None else "n/a")
          + f"; mean absolute gain {report['mean_abs_gain']}; improved {report['improved']}/{len(prompts)}; "
          f"stop rules {json.dumps(report['stop_rules'])}")
    print("(reference work: +53.5% with a real video model and judge; not comparable with a procedural run)")
    print_caveats(report)
    print(f"report: {out / 'summary.json'}, {out / 'prompts.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
