"""LoRA setup and the HF ``Trainer`` subclass that trains with the token-wise weighted loss.

Built on ``transformers.Trainer`` so ``accelerate launch`` / ``torchrun`` (DDP) and DeepSpeed ZeRO
(``deepspeed: train/configs/ds_zero2.json``) work without code changes, and so do checkpoints and
``resume_from_checkpoint``.

Validation (``val_method: teacher_forced``): one forward pass per validation video with the reference
answer as input; at the first token of each aspect's score the model's probabilities over the digits
0-5 give an expected score (:func:`aigve.backends.digit_scores.expected_digit_score`), and Spearman's
rho against the human scores is reported per aspect. It is cheap (no generation) but optimistic where
the data has human comments, since the model reads the reference comment before the score; use it to
watch training, and ``aigve score`` + ``aigve report`` on the test split for the real figure.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from transformers import Trainer, TrainerCallback

from aigve.aspects import ASPECT_KEYS
from aigve.training.collate import AUX_KEYS
from aigve.training.loss import IGNORE_INDEX, weighted_token_loss
from aigve.training.recipe import TrainRecipe

logger = logging.getLogger(__name__)

VISION_LORA_PATTERN = r".*visual\.blocks\.\d+\.(attn\.(qkv|proj)|mlp\.(gate_proj|up_proj|down_proj))"


def resolve_precision(precision: str) -> tuple[torch.dtype, bool, bool]:
    """(weights dtype, bf16 autocast, fp16 autocast) for a recipe's ``precision``.

    ``auto``: bf16 on a CUDA device that supports it, otherwise fp32 (CPU, or older GPUs, where fp16
    LoRA training is possible but must be asked for).
    """
    if precision == "auto":
        precision = "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp32"
    if precision == "bf16":
        return torch.bfloat16, True, False
    if precision == "fp16":
        return torch.float16, False, True
    return torch.float32, False, False


def lora_config(recipe: TrainRecipe):
    """peft ``LoraConfig``: LoRA on the language model's ``lora_targets`` (plus the vision blocks with
    ``vision: lora``); ``train_merger`` / ``vision: full`` train those modules fully (``modules_to_save``),
    so they are saved with the adapter and restored when it is loaded."""
    from peft import LoraConfig

    pattern = rf".*language_model.*\.({'|'.join(recipe.lora_targets)})"
    if recipe.vision == "lora":
        pattern = rf"({pattern})|({VISION_LORA_PATTERN})"
    modules_to_save = ["visual"] if recipe.vision == "full" else (["merger"] if recipe.train_merger else None)
    return LoraConfig(r=recipe.lora_r, lora_alpha=recipe.lora_alpha, lora_dropout=recipe.lora_dropout,
                      target_modules=pattern, modules_to_save=modules_to_save, bias="none")


def build_model(recipe: TrainRecipe) -> tuple[Any, Any]:
    """Load the base checkpoint and processor, freeze it, wrap it with LoRA. Returns (peft model, processor).

    ``init_adapter`` continues from an existing adapter (trainable) instead of a fresh LoRA.
    """
    from peft import PeftModel, get_peft_model
    from transformers import AutoModelForImageTextToText, set_seed

    from aigve.backends.hf_checkpoint import load_processor, resolve_source

    recipe.require_paths()
    source = resolve_source(recipe.model)
    processor = load_processor(source)
    dtype, _, _ = resolve_precision(recipe.precision)
    kwargs: dict[str, Any] = {"dtype": dtype, "local_files_only": source.local_only}
    if recipe.attn_implementation:
        kwargs["attn_implementation"] = recipe.attn_implementation
    model = AutoModelForImageTextToText.from_pretrained(source.location, **kwargs)
    model.config.use_cache = False  # caches are useless in training and clash with checkpointing
    for p in model.parameters():
        p.requires_grad_(False)
    set_seed(recipe.seed)  # LoRA's A matrices are random: same seed, same start
    if recipe.init_adapter:
        model = PeftModel.from_pretrained(model, recipe.init_adapter, is_trainable=True)
    else:
        model = get_peft_model(model, lora_config(recipe))
    if recipe.gradient_checkpointing:
        model.enable_input_require_grads()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    logger.info("trainable parameters: %d of %d (%.3f%%)", trainable, total, 100 * trainable / max(total, 1))
    return model, processor


def logits_window(labels: torch.Tensor) -> int:
    """How many trailing positions need logits: from the position before the first label to the end.

    Only those positions enter the (shifted) loss, so ``logits_to_keep`` = this leaves the loss
    unchanged while skipping the (L, V) projection of the prompt and video tokens.
    """
    has = labels != IGNORE_INDEX
    if not bool(has.any()):
        return 1
    first = int(torch.where(has.any(1), has.float().argmax(1), labels.shape[1]).min())
    return labels.shape[1] - max(first - 1, 0)


class WeightedLossTrainer(Trainer):
    """``Trainer`` whose loss is :func:`weighted_token_loss` over the collator's ``loss_weights``.

    The loss is a weighted mean per micro-batch; the Trainer divides it by the accumulation steps
    (``loss_is_scaled_for_ga = False``), and DDP averages over devices, as for a plain mean loss.
    ``digit_ids``: token ids of ``"0"``..``"5"`` for the teacher-forced score readout (None: loss only).
    """

    loss_is_scaled_for_ga = False

    def __init__(self, *args: Any, digit_ids: list[int] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.model_accepts_loss_kwargs = False  # num_items_in_batch does not apply to a weighted mean
        self.digit_ids = digit_ids

    def _weighted_forward(self, model: Any, inputs: dict[str, Any]) -> tuple[torch.Tensor, Any, int]:
        labels, weights = inputs["labels"], inputs["loss_weights"]
        model_inputs = {k: v for k, v in inputs.items() if k not in AUX_KEYS}
        keep = logits_window(labels)
        outputs = model(**model_inputs, use_cache=False, logits_to_keep=keep)
        offset = labels.shape[1] - outputs.logits.shape[1]
        loss = weighted_token_loss(outputs.logits, labels[:, offset:], weights[:, offset:])
        return loss, outputs, offset

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        loss, outputs, _ = self._weighted_forward(model, inputs)
        return (loss, outputs) if return_outputs else loss

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        inputs = self._prepare_inputs(inputs)
        with torch.no_grad():
            loss, outputs, offset = self._weighted_forward(model, inputs)
        if prediction_loss_only or self.digit_ids is None:
            return loss.detach(), None, None
        preds = read_scores(outputs.logits, inputs["score_positions"] - offset, self.digit_ids)
        return loss.detach(), preds, inputs["human_scores"]


def read_scores(logits: torch.Tensor, positions: torch.Tensor, digit_ids: list[int]) -> torch.Tensor:
    """Expected score per (example, aspect) from teacher-forced logits.

    ``logits`` (B, K, V); ``positions`` (B, 9): index *within the kept logits* of each aspect's first score
    token (< 1 or absent: NaN). The logits one step earlier predict that token.
    """
    from aigve.backends.digit_scores import expected_digit_score

    out = torch.full(positions.shape, math.nan, dtype=torch.float32)
    digits = logits[..., digit_ids].float().cpu().numpy()
    for b, a in zip(*torch.nonzero(positions >= 1, as_tuple=True), strict=True):
        out[b, a] = expected_digit_score(digits[b, positions[b, a] - 1], range(len(digit_ids)))[0]
    return out.to(logits.device)


def spearman_metrics(preds: np.ndarray, human: np.ndarray) -> dict[str, float]:
    """``srcc_<aspect>`` for each aspect with a defined correlation, ``srcc_mean`` over those, ``n_val``."""
    from aigve.core.correlation import srcc

    preds, human = np.asarray(preds, dtype=float), np.asarray(human, dtype=float)
    out: dict[str, float] = {"n_val": float(len(preds))}
    values = []
    for j, key in enumerate(ASPECT_KEYS):
        ok = np.isfinite(preds[:, j]) & np.isfinite(human[:, j])
        rho = srcc(human[ok, j], preds[ok, j]) if ok.sum() >= 2 else None
        if rho is not None:
            out[f"srcc_{key}"] = rho
            values.append(rho)
    if values:
        out["srcc_mean"] = float(np.mean(values))
    return out


def compute_metrics(eval_pred: Any) -> dict[str, float]:
    return spearman_metrics(eval_pred.predictions, eval_pred.label_ids)


class EpochSeedCallback(TrainerCallback):
    """Tells the training dataset which epoch starts, so frame jitter differs per epoch but reproduces."""

    def __init__(self, dataset: Any):
        self.dataset = dataset

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.dataset.set_epoch(int(math.floor((state.epoch or 0.0) + 1e-6)))


class ValidationTable(TrainerCallback):
    """Prints the per-aspect Spearman table after every validation (``printer``: print or a logger)."""

    def __init__(self, printer: Callable[[str], None] | None = None):
        self.printer = printer or logger.info

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if metrics:
            self.printer(format_validation(metrics, state.global_step))


def format_validation(metrics: dict[str, Any], step: int) -> str:
    loss = metrics.get("eval_loss")
    lines = [f"validation @ step {step}: loss {loss:.4f}" if loss is not None else f"validation @ step {step}"]
    rows = [(k, metrics.get(f"eval_srcc_{k}")) for k in ASPECT_KEYS]
    if any(v is not None for _, v in rows):
        lines.append("  Spearman (teacher-forced digit readout vs human):")
        lines += [f"    {k:<18} {v:+.3f}" if v is not None else f"    {k:<18}    n/a" for k, v in rows]
        if metrics.get("eval_srcc_mean") is not None:
            lines.append(f"    {'mean':<18} {metrics['eval_srcc_mean']:+.3f}")
    return "\n".join(lines)
