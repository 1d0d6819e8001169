"""Training step time with the token-weighted loss vs. plain cross-entropy, side by side.

    .venv/bin/python benchmarks/bench_loss.py [--model tiny|mid|both] [--steps N] [--batch B] [--threads N]

One LoRA training step (forward, loss, backward, AdamW step) on one fixed collated batch of synthetic
videos with comment+score targets, timed three ways:

- ``plain CE``: ``model(**inputs, labels=labels).loss`` (transformers' own mean CE over full logits);
- ``weighted``: what ``aigve train`` runs: ``logits_to_keep`` = answer window + ``weighted_token_loss``;
- ``weighted, full logits``: the weighted loss on all positions (isolates the cost of the weighting).

Also the collator's per-example cost of computing token roles (offsets) vs. plain tokenisation.
``tiny``: the test checkpoint (hidden 64, vocab ~1k). ``mid``: random Qwen2.5-VL with hidden 512,
4 layers, vocab 32768, so the vocabulary projection weighs as it does in real models.
Random weights: timings only. Target (issue #4): weighted <= 1.05 x plain CE.
Wall-clock figures mean something only when the load average is below the core count (printed).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _model_dir(kind: str, root: Path) -> Path:
    from aigve.testing.tiny import build_tiny_checkpoint

    if kind == "tiny":
        return build_tiny_checkpoint(root / "tiny")
    return _build_mid(root / "mid")


def _build_mid(out: Path) -> Path:
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    from aigve.testing.tiny import _processor, build_tiny_tokenizer, tiny_config

    tok = build_tiny_tokenizer()
    config = tiny_config(tok, hidden=512, layers=4, vision_hidden=64)
    config.text_config.vocab_size = 32768
    config.text_config.intermediate_size = 1024
    config.text_config.num_attention_heads = 8
    config.text_config.num_key_value_heads = 4
    config.text_config.rope_parameters["mrope_section"] = [16, 8, 8]  # head_dim 64 -> 32 frequencies
    torch.manual_seed(0)
    Qwen2_5_VLForConditionalGeneration(config).save_pretrained(out)
    _processor(tok).save_pretrained(out)
    return out


def _batch(model_dir: Path, root: Path, batch: int):
    import random

    from transformers import AutoProcessor

    from aigve.aspects import ASPECTS
    from aigve.config import SamplingConfig
    from aigve.prompt import format_answer
    from aigve.testing.videos import make_clip, write_video
    from aigve.training.collate import TrainingCollator
    from aigve.training.recipe import TrainRecipe
    from aigve.video import load_video

    processor = AutoProcessor.from_pretrained(model_dir)
    cfg = SamplingConfig(fps=2.0, min_frames=4, max_frames=8, min_pixels=784, max_pixels=112 * 112)
    rng = random.Random(0)
    items = []
    for i in range(batch):
        path = write_video(root / f"clip{i}.mp4", make_clip("moving", num_frames=16, size=(112, 112), seed=i), fps=4.0)
        comments = {a.key: f"The {a.label.lower()} looks fine, with minor issues in a few frames." for a in ASPECTS}
        answer = format_answer({a.key: rng.randint(0, 5) for a in ASPECTS}, comments)
        items.append({"video": load_video(path, cfg), "prompt": "A red car drives through a city at night",
                      "answer": answer, "scores": {}})
    collator = TrainingCollator(processor, TrainRecipe().role_weights())
    return processor, collator, items


def _time(fn, steps: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_model(kind: str, steps: int, batch: int) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForImageTextToText

    from aigve.training.collate import AUX_KEYS
    from aigve.training.loss import weighted_token_loss
    from aigve.training.roles import tokenize_target
    from aigve.training.trainer import logits_window

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model_dir = _model_dir(kind, root)
        processor, collator, items = _batch(model_dir, root, batch)
        data = collator(items)
        base = AutoModelForImageTextToText.from_pretrained(model_dir)
    model = get_peft_model(base, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0,
                                            target_modules=r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj)"))
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    inputs = {k: v for k, v in data.items() if k not in AUX_KEYS}
    labels, weights = data["labels"], data["loss_weights"]

    def step(loss_fn) -> None:
        opt.zero_grad(set_to_none=True)
        loss_fn().backward()
        opt.step()

    def plain():
        return model(**inputs, labels=labels).loss

    def weighted():
        keep = logits_window(labels)
        logits = model(**inputs, logits_to_keep=keep).logits
        off = labels.shape[1] - keep
        return weighted_token_loss(logits, labels[:, off:], weights[:, off:])

    def weighted_full():
        return weighted_token_loss(model(**inputs).logits, labels, weights)

    vocab = base.config.text_config.vocab_size
    n_answer = int((labels != -100).sum())
    print(f"\n[{kind}] hidden {base.config.text_config.hidden_size}, vocab {vocab}, batch {batch}, "
          f"sequence {labels.shape[1]} tokens ({n_answer} target tokens), {steps} timed steps (median)")
    t_plain = _time(lambda: step(plain), steps)
    t_weighted = _time(lambda: step(weighted), steps)
    t_full = _time(lambda: step(weighted_full), steps)
    print(f"  {'plain CE (transformers)':<28} {t_plain * 1000:9.1f} ms/step   1.000x")
    print(f"  {'weighted (aigve train)':<28} {t_weighted * 1000:9.1f} ms/step   {t_weighted / t_plain:.3f}x")
    print(f"  {'weighted, full logits':<28} {t_full * 1000:9.1f} ms/step   {t_full / t_plain:.3f}x")

    tok = processor.tokenizer
    answers = [it["answer"] for it in items]
    t_roles = _time(lambda: [tokenize_target(tok, a) for a in answers], steps * 5) / batch
    t_tok = _time(lambda: [tok(a, add_special_tokens=False) for a in answers], steps * 5) / batch
    t_collate = _time(lambda: collator(items), max(3, steps)) / batch
    print(f"  collator per example: {t_collate * 1000:.2f} ms, of which token roles {t_roles * 1000:.3f} ms "
          f"(plain tokenisation {t_tok * 1000:.3f} ms)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("tiny", "mid", "both"), default="both")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    args = parser.parse_args()
    import logging

    import torch

    logging.disable(logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    for kind in (("tiny", "mid") if args.model == "both" else (args.model,)):
        bench_model(kind, args.steps, args.batch)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
