"""One training run from a recipe: data -> splits -> model -> Trainer -> adapter + records on disk.

Outputs in ``recipe.output_dir``:

- ``adapter_config.json`` + ``adapter_model.safetensors``: the LoRA adapter (``aigve score --adapter DIR``).
- ``aigve_profile.json``: the judge profile trained under (name, sha256, content); scoring uses it.
- ``train_recipe.yaml``: the fully resolved recipe (defaults + YAML + command line).
- ``data_splits.json``: split method, per-split counts and sha256 of the sorted ids, the ids, skipped entries.
- ``train_summary.json``: steps, losses, runtime, last validation metrics.
- ``checkpoint-<step>/``: Trainer checkpoints (resume with ``resume_from_checkpoint: last``).
- ``merged/`` with ``merge: true``: base + adapter folded into one checkpoint (plus the processor).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aigve.errors import InputError
from aigve.training.recipe import TrainRecipe

logger = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a run produced. ``is_main``: this process wrote the files (rank 0 under DDP/DeepSpeed)."""

    output_dir: Path
    global_step: int
    train_loss: float | None
    first_loss: float | None
    last_loss: float | None
    runtime_s: float
    counts: dict[str, int]
    skipped: int
    val_metrics: dict[str, float] = field(default_factory=dict)
    merged_dir: Path | None = None
    is_main: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"output_dir": str(self.output_dir), "global_step": self.global_step, "train_loss": self.train_loss,
                "first_logged_loss": self.first_loss, "last_logged_loss": self.last_loss,
                "runtime_s": round(self.runtime_s, 3), "counts": self.counts, "skipped": self.skipped,
                "val_metrics": self.val_metrics, "merged_dir": str(self.merged_dir) if self.merged_dir else None}


def training_arguments(recipe: TrainRecipe, *, has_eval: bool):
    """``transformers.TrainingArguments`` for a recipe (the only place recipe fields map to HF names)."""
    from transformers import TrainingArguments

    from aigve.training.trainer import resolve_precision

    _, bf16, fp16 = resolve_precision(recipe.precision)
    evaluate = has_eval and recipe.val_method != "none" and recipe.eval_steps is not None
    return TrainingArguments(
        output_dir=recipe.output_dir,
        per_device_train_batch_size=recipe.per_device_batch_size,
        per_device_eval_batch_size=recipe.per_device_batch_size,
        gradient_accumulation_steps=recipe.gradient_accumulation_steps,
        learning_rate=recipe.learning_rate,
        num_train_epochs=recipe.num_train_epochs,
        max_steps=recipe.max_steps,
        warmup_steps=recipe.warmup_ratio if recipe.warmup_ratio > 0 else 0,  # a float < 1 is a ratio
        lr_scheduler_type=recipe.lr_scheduler,
        weight_decay=recipe.weight_decay,
        max_grad_norm=recipe.max_grad_norm,
        bf16=bf16,
        fp16=fp16,
        **_checkpointing(TrainingArguments, recipe.gradient_checkpointing),
        logging_steps=recipe.logging_steps,
        logging_first_step=True,
        save_strategy="steps",
        save_steps=recipe.save_steps,
        save_total_limit=recipe.save_total_limit,
        eval_strategy="steps" if evaluate else "no",
        eval_steps=recipe.eval_steps if evaluate else None,
        seed=recipe.seed,
        dataloader_num_workers=recipe.num_workers,
        remove_unused_columns=False,  # the collator's extra keys (loss_weights, ...) must reach compute_loss
        label_names=["labels"],
        report_to=recipe.report_to,
        deepspeed=recipe.deepspeed,
        disable_tqdm=not recipe.progress_bar,
        ddp_find_unused_parameters=False,
        dataloader_pin_memory=_cuda(),
        use_cpu=not _cuda(),  # without it torchrun on a CPU-only machine runs N independent copies, not DDP
    )


def _checkpointing(cls: type, enabled: bool) -> dict[str, Any]:
    """Activation checkpointing flags under the name this transformers version uses (renamed in 5.x)."""
    from dataclasses import fields

    name = "activation_checkpointing" if "activation_checkpointing" in {f.name for f in fields(cls)} \
        else "gradient_checkpointing"
    # Non-reentrant checkpointing works with frozen inputs (LoRA) without extra hooks.
    return {name: enabled, f"{name}_kwargs": {"use_reentrant": False} if enabled else None}


def training_profile(recipe: TrainRecipe):
    """The judge profile of a training run, chosen as scoring chooses it (named, else recorded with the base
    model or the initial adapter, else ``macs-card``); a profile made for another checkpoint is warned about."""
    from aigve.judges.profiles import (
        mismatch,
        require_nine_aspect_answer,
        resolve_profile,
        warn_once,
        with_released_keys,
    )

    folder = lambda v: v if v is not None and Path(str(v)).expanduser().is_dir() else None  # noqa: E731
    profile, _ = resolve_profile(recipe.profile, model=folder(recipe.model), adapter=folder(recipe.init_adapter))
    require_nine_aspect_answer(profile, "training")  # training targets are the nine-aspect JSON answer
    profile = with_released_keys(profile, recipe.released_keys)
    problem = mismatch(profile, recipe.model)
    if problem:
        warn_once(problem)
    return profile


def training_sampling(recipe: TrainRecipe, processor: Any, profile: Any = None):
    """The evaluator's sampling for this checkpoint: MacsBackend's checkpoint caps, the judge profile's frame
    rules, then the recipe's fields.

    ``aigve score`` applies the same caps (``MacsBackend.sampling_overrides``) under the user's choices,
    so a recipe that leaves ``sampling`` empty trains on exactly the frames scoring will use.
    """
    from aigve.backends.macs import checkpoint_sampling_caps
    from aigve.config import SamplingConfig

    caps = checkpoint_sampling_caps(processor)
    vp = processor.video_processor
    rules = profile.sampling_overrides(factor=vp.patch_size * vp.merge_size) if profile is not None else {}
    return SamplingConfig.from_dict({**caps, **rules, **recipe.sampling})


def run_training(recipe: TrainRecipe, *, callbacks: Sequence[Any] = (),
                 printer: Callable[[str], None] | None = None) -> TrainResult:
    """Train a LoRA adapter as the recipe says and write the outputs listed in the module docstring."""
    from aigve.backends.digit_scores import digit_token_ids
    from aigve.training.collate import TrainingCollator
    from aigve.training.data import VideoExampleDataset, assign_splits, load_examples, split_manifest
    from aigve.training.trainer import (
        EpochSeedCallback,
        ValidationTable,
        WeightedLossTrainer,
        build_model,
        compute_metrics,
    )

    say = printer or logger.info
    recipe.require_paths()
    loaded = load_examples(recipe.data, video_dir=recipe.video_dir, skip_bad=recipe.skip_bad,
                           require_all_aspects=recipe.require_all_aspects)
    groups = assign_splits(loaded.examples, val_fraction=recipe.val_fraction, test_fraction=recipe.test_fraction,
                           salt=recipe.split_salt)
    if not groups["train"]:
        raise InputError(recipe.data, f"the train split is empty ({len(loaded.examples)} entries); lower "
                                      f"val_fraction/test_fraction or add prompts")
    val = groups["val"][: recipe.val_max_examples] if recipe.val_method != "none" else []
    args = training_arguments(recipe, has_eval=bool(val))
    is_main = args.process_index == 0
    out = Path(recipe.output_dir)
    counts = {name: len(items) for name, items in groups.items()}
    model, processor = build_model(recipe)
    profile = training_profile(recipe)
    sampling = training_sampling(recipe, processor, profile)
    if is_main:
        _write_records(out, recipe.replace(sampling=sampling.to_dict()), split_manifest(groups, salt=recipe.split_salt),
                       loaded.skipped)
        say(f"data: {counts['train']} train / {counts['val']} val / {counts['test']} test videos "
            f"(split by prompt){f'; skipped {len(loaded.skipped)} bad entries' if loaded.skipped else ''}")

    digit_ids = digit_token_ids(processor.tokenizer)
    if digit_ids is None and val:
        logger.warning("digits 0-5 are not single tokens for this tokenizer; validation reports loss only")
    ascii_targets = profile.serialiser == "json_indent4_ascii"
    train_ds = VideoExampleDataset(groups["train"], sampling, released_keys=profile.released_keys,
                                   ensure_ascii=ascii_targets)
    val_ds = VideoExampleDataset(val, dataclasses.replace(sampling, jitter=0.0),  # validate on fixed frames
                                 released_keys=profile.released_keys, ensure_ascii=ascii_targets) if val else None
    trainer = WeightedLossTrainer(
        model=model, args=args, train_dataset=train_ds, eval_dataset=val_ds,
        data_collator=TrainingCollator(processor, recipe.role_weights(), released_keys=profile.released_keys,
                                       profile=profile),
        compute_metrics=compute_metrics if digit_ids is not None else None,
        callbacks=[EpochSeedCallback(train_ds), ValidationTable(say if is_main else (lambda _: None)), *callbacks],
        digit_ids=digit_ids,
    )
    resume = recipe.resume_from_checkpoint
    if isinstance(resume, str) and resume.lower() in ("last", "latest", "true"):
        resume = True
    start = time.perf_counter()
    output = trainer.train(resume_from_checkpoint=resume)
    trainer.save_model(str(out))
    if is_main:
        from aigve.judges.profiles import write_profile_record

        write_profile_record(out, profile)  # scoring with this adapter uses the profile it was trained with
    val_metrics = _final_validation(trainer) if val_ds is not None else {}
    merged = _merge(trainer, processor, out) if recipe.merge and is_main else None
    if merged is not None:
        from aigve.judges.profiles import write_profile_record

        write_profile_record(merged, profile)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    result = TrainResult(out, trainer.state.global_step, output.training_loss, losses[0] if losses else None,
                         losses[-1] if losses else None, time.perf_counter() - start, counts,
                         len(loaded.skipped), {k: float(v) for k, v in val_metrics.items()}, merged, is_main)
    if is_main:
        (out / "train_summary.json").write_text(json.dumps(result.to_dict(), indent=2), encoding="utf-8")
    return result


def _write_records(out: Path, resolved: TrainRecipe, manifest: dict[str, Any], skipped: Sequence[Any]) -> None:
    """``train_recipe.yaml`` (sampling spelled out: the frames training saw) and ``data_splits.json``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "train_recipe.yaml").write_text(resolved.to_yaml(), encoding="utf-8")
    manifest["skipped"] = [{"id": s.id, "row": s.row, "reason": s.reason} for s in skipped]
    (out / "data_splits.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def _final_validation(trainer: Any) -> dict[str, Any]:
    """Metrics at the last step: reuse the periodic validation when it just ran there, else run it."""
    evals = [h for h in trainer.state.log_history if "eval_loss" in h]
    if evals and evals[-1].get("step") == trainer.state.global_step:
        return {k: v for k, v in evals[-1].items() if k.startswith("eval_")}
    return trainer.evaluate()


def _merge(trainer: Any, processor: Any, out: Path) -> Path:
    """Fold the adapter into a copy of the base weights and save it with the processor in ``out/merged``."""
    model = trainer.accelerator.unwrap_model(trainer.model)
    merged = model.merge_and_unload()
    target = out / "merged"
    merged.save_pretrained(target, safe_serialization=True)
    processor.save_pretrained(target)
    return target


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()
