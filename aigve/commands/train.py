"""``aigve train``: LoRA fine-tuning on AIGVE-Bench-style data (also ``python train/train.py``).

Every recipe field is an option (``--learning-rate``/``--lr``, ``--max-steps``, ``--skip-bad``, ...);
``--config FILE`` reads a recipe YAML first, ``--set key=value`` (repeatable) sets any field,
including ``sampling.<field>``. Precedence: defaults < YAML < options < ``--set``.
"""

from __future__ import annotations

import argparse
import sys

from aigve.training.recipe import ALIASES, TrainRecipe, field_names

# Plain text (argparse prints it as is): no reStructuredText markup.
DESCRIPTION = """\
aigve train: LoRA fine-tuning on AIGVE-Bench-style data (also: python train/train.py).

Every recipe field is an option (--learning-rate/--lr, --max-steps, --skip-bad, ...);
--config FILE reads a recipe YAML first, --set key=value (repeatable) sets any field,
including sampling.<field>. Precedence: defaults < YAML < options < --set.
"""

EPILOG = """\
--data formats:
  AIGVE-Bench JSON ({"data_list": [...]} with prompt_gt, video_path_pd and the nine scores;
  AIGVE-Bench 2 adds a comment per aspect), or a CSV / JSONL with one video per row:
    video     the clip, relative to the data file's folder or --video-dir (also: video_path_pd)
    prompt    the text prompt that produced it (also: prompt_gt)
    technical_quality, dynamic, consistency, physics, element_presence, element_quality,
    action_presence, action_quality, overall
              scores 0-5 (averages are rounded), all nine (unless --no-require-all-aspects)
    optional: <aspect>_comment (the comment the model learns to write, e.g. overall_comment),
              id (default: the video file's stem); other columns are ignored
  JSONL may also nest them: "scores": {aspect: n}, "comments": {aspect: text}.
  Example (source checkout; placeholder scores for a CPU smoke run, see train/configs/tiny_cpu.yaml):
    aigve testing build-tiny /tmp/tiny
    python train/train.py --config train/configs/tiny_cpu.yaml --model /tmp/tiny --data train/smoke_data.csv
"""

_HELP = {
    "profile": "judge profile to train under (see `aigve profiles`); default: recorded with --model, else macs-card",
    "model": "base checkpoint folder or hub id (e.g. a local copy of xiaoliux/AIGVE-MACS)",
    "data": "annotation file: AIGVE-Bench JSON, JSONL or CSV (columns: see --data formats below)",
    "video_dir": "folder the annotation's video paths are relative to (default: the file's folder)",
    "output_dir": "where the adapter, checkpoints and records go",
    "skip_bad": "skip entries with missing videos or fields (counted) instead of stopping",
    "resume_from_checkpoint": "'last' or a checkpoint folder: continue step count and schedule",
    "merge": "also save base + adapter merged into output_dir/merged",
    "lora_targets": "comma-separated module names of the language model to adapt",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="LoRA fine-tune the judge with the token-weighted loss",
                       description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
                       argument_default=argparse.SUPPRESS)
    p.add_argument("--config", default=None, help="recipe YAML (see train/configs/); default: built-in defaults")
    p.add_argument("--set", dest="set_items", action="append", default=[], metavar="KEY=VALUE",
                   help="override any recipe field (repeatable), e.g. --set lr=1e-4 --set sampling.jitter=0.5")
    g = p.add_argument_group("recipe fields (override the YAML)")
    defaults = TrainRecipe().to_dict()
    short = {v: k for k, v in ALIASES.items()}
    for name in field_names():
        if name == "sampling":
            continue
        flags = [f"--{name.replace('_', '-')}"]
        if name in short:
            flags.append(f"--{short[name].replace('_', '-')}")
        help_text = f"{_HELP.get(name, '')} (default: {defaults[name]})".strip()
        if isinstance(defaults[name], bool):
            g.add_argument(*flags, dest=name, action=argparse.BooleanOptionalAction, help=help_text)
        else:
            g.add_argument(*flags, dest=name, metavar=_metavar(defaults[name]), help=help_text)
    p.add_argument("--overwrite", action="store_true", default=False,
                   help="train into an --output-dir that already holds an earlier run (its files are replaced)")
    p.set_defaults(func=run, config=None, set_items=[], overwrite=False)


def _metavar(default: object) -> str:
    if isinstance(default, int):
        return "N"
    if isinstance(default, float):
        return "X"
    return "A,B" if isinstance(default, list) else "VALUE"


def recipe_from_args(args: argparse.Namespace) -> TrainRecipe:
    """Defaults < ``--config`` YAML < recipe options < ``--set`` items."""
    from aigve.training.recipe import load_recipe, parse_set

    overrides = {name: getattr(args, name) for name in field_names() if hasattr(args, name)}
    overrides.update(parse_set(args.set_items))
    return load_recipe(args.config, overrides)


def check_outputs(recipe: TrainRecipe) -> None:
    """Fail before the model loads (not in the Trainer, minutes later, with a traceback) when output_dir
    is a file or ``resume_from_checkpoint`` names no checkpoint."""
    from pathlib import Path

    from aigve.errors import ConfigError

    out = Path(recipe.output_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError("output_dir", str(out), "is a file; give --output-dir a folder")
    resume = recipe.resume_from_checkpoint
    if not resume:
        return
    if str(resume).lower() in ("last", "latest", "true"):
        from transformers.trainer_utils import get_last_checkpoint

        if not out.is_dir() or get_last_checkpoint(str(out)) is None:
            raise ConfigError("resume_from_checkpoint", resume,
                              f"no checkpoint-<step> folder in {out}; leave it out to start afresh, or pass "
                              "--output-dir of the run to continue")
    elif not Path(resume).is_dir():
        raise ConfigError("resume_from_checkpoint", resume, "no such checkpoint folder; give 'last' or a "
                                                            "checkpoint-<step> folder of an earlier run")


def claim_output(recipe: TrainRecipe, *, overwrite: bool, env: dict[str, str] | None = None):
    """The output folder's lock and overwrite rule (:func:`aigve.run.folder.claim`), taken by the main process
    only: under torchrun every rank runs this command with the same output_dir. Continuing a run
    (``resume_from_checkpoint``) is not an overwrite."""
    import contextlib
    import os

    from aigve.run.folder import claim

    env = os.environ if env is None else env
    if int(env.get("RANK", "0") or 0) != 0:
        return contextlib.nullcontext()
    return claim(recipe.output_dir, overwrite=overwrite or bool(recipe.resume_from_checkpoint), what="train output",
                 setting="output_dir")


def run(args: argparse.Namespace) -> int:
    recipe = recipe_from_args(args)
    recipe.require_paths()
    check_outputs(recipe)
    from aigve.training.run import run_training

    with claim_output(recipe, overwrite=args.overwrite):
        result = run_training(recipe, printer=print)
    if not result.is_main:
        return 0
    loss = f"{result.first_loss:.4f} -> {result.last_loss:.4f}" if result.first_loss is not None else "n/a"
    print(f"done: {result.global_step} steps in {result.runtime_s:.1f} s; logged loss {loss}; "
          f"mean train loss {result.train_loss:.4f}")
    if result.val_metrics.get("eval_srcc_mean") is not None:
        print(f"validation: mean Spearman {result.val_metrics['eval_srcc_mean']:+.3f} "
              f"(teacher-forced readout on {result.counts['val']} val videos)")
    print(f"adapter: {result.output_dir}  (use: aigve score --model {recipe.model} --adapter {result.output_dir})")
    if result.merged_dir:
        print(f"merged model: {result.merged_dir}")
    print(f"records: {result.output_dir / 'train_recipe.yaml'}, {result.output_dir / 'data_splits.json'}, "
          f"{result.output_dir / 'train_summary.json'}")
    sys.stdout.flush()
    return 0
