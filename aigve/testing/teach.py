"""Teach a tiny test checkpoint the answer *format*: nine-aspect JSON, then ``<|im_end|>``.

A random-weight model never writes parseable JSON, so end-to-end runs of ``aigve score`` on it only produce
parse errors and generate until ``max_new_tokens``. A few seconds of full fine-tuning on synthetic requests
(the exact evaluator request from :func:`aigve.backends.qwen_inputs.build_inputs`, frames from
:func:`aigve.testing.videos.make_clip`, random prompts) makes greedy decoding emit a complete answer in the
released key spelling and stop at EOS. The answer is the same for every video: each comment reads
``"not a judge"`` and the scores are :data:`TAUGHT_SCORES`. (Making ``dynamic`` follow the pixels, still
clip -> 1 and moving -> 4, was tried: within this budget, even with a 10x loss weight on that digit, the model
only learnt "always 4" and got the format wrong more often, so the answer is fixed.) A taught checkpoint is
still a test model: its answers are a memorised format, not an evaluation.
"""

from __future__ import annotations

import itertools
import logging
import random
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import Any

import numpy as np

from aigve.aspects import ASPECTS
from aigve.media import SampledVideo, SamplingPlan, VideoInfo
from aigve.prompt import format_answer

logger = logging.getLogger(__name__)

#: Bump when the teaching data or recipe changes, so cached taught checkpoints are rebuilt.
TEACH_VERSION = 1

#: Every taught comment; says what the model is (a few tokens with the tiny tokenizer).
TAUGHT_COMMENT = "not a judge"
#: The scores every taught answer carries (distinct values, so a swapped aspect would show).
TAUGHT_SCORES: dict[str, int] = {
    "technical_quality": 3, "dynamic": 4, "consistency": 4, "physics": 3, "element_presence": 5,
    "element_quality": 3, "action_presence": 2, "action_quality": 2, "overall": 3,
}
#: Clip kinds shown while teaching: the answer must not depend on what the video looks like.
TEACH_KINDS = ("static", "moving", "camera_pan", "noisy", "flicker", "blurred")
#: (height, width) of teaching frames, multiples of 28. 224x224 is what ``aigve score`` feeds a tiny model.
TEACH_SIZES = ((56, 56), (56, 84), (84, 56), (112, 112), (224, 224))
_WORDS = (
    "a beautiful coastal beach in spring waves lapping on sand animated style black and white by Hokusai "
    "chalk drawing oil painting cat jumps onto wooden table red car driving through city at night person "
    "walks along the shore camera slowly pans dog runs park with trees cinematic 4k close-up aerial view of "
    "mountains snow falling astronaut riding horse on mars children play football golden sunset over sea "
    "robot dancing street rain reflections neon lights old man reading book cup coffee steam morning"
).split()


def taught_answer(*, released_keys: bool = True) -> str:
    """The answer a taught model gives to every request: :data:`TAUGHT_SCORES`, comments :data:`TAUGHT_COMMENT`."""
    return format_answer(TAUGHT_SCORES, dict.fromkeys((a.key for a in ASPECTS), TAUGHT_COMMENT),
                         released_keys=released_keys)


def synthetic_video(frames: np.ndarray, fps: float, name: str = "synthetic") -> SampledVideo:
    """Wrap already-sized frames (T, H, W, 3) uint8 as a :class:`SampledVideo` sampled at ``fps``."""
    t, h, w = frames.shape[:3]
    info = VideoInfo(path=name, num_frames=t, fps=fps, duration_s=t / fps, width=w, height=h, decoder="synthetic")
    plan = SamplingPlan(indices=tuple(range(t)), timestamps=tuple(i / fps for i in range(t)), frame_height=h,
                        frame_width=w, sampled_fps=fps, source_fps=fps, fps_assumed=False, strategy="uniform",
                        visual_tokens=-(-t // 2) * (h // 28) * (w // 28))
    return SampledVideo(path=name, frames=frames, info=info, plan=plan)


def _random_prompt(rng: random.Random) -> str:
    words = rng.choices(_WORDS, k=rng.randint(2, 18))
    if rng.random() < 0.5 and len(words) > 3:
        words[rng.randrange(1, len(words) - 1)] += ","
    text = " ".join(words)
    return text[0].upper() + text[1:] if rng.random() < 0.7 else text


@dataclass
class TeachExample:
    video: SampledVideo
    prompt: str
    answer: str


def iter_teach_examples(*, seed: int = 0) -> Iterator[TeachExample]:
    """Endless deterministic synthetic (video, prompt, target answer) triples of varied size, length and fps."""
    from aigve.testing.videos import make_clip

    rng = random.Random(seed)
    for i in itertools.count():
        kind = TEACH_KINDS[i % len(TEACH_KINDS)]
        h, w = rng.choice(TEACH_SIZES)
        frames = make_clip(kind, num_frames=rng.choice((2, 4, 4, 6)), size=(h, w), seed=seed * 100_003 + i)
        video = synthetic_video(frames, fps=rng.choice((1.0, 2.0, 4.0, 8.0)), name=f"synthetic:{kind}")
        yield TeachExample(video, _random_prompt(rng), taught_answer())


def teach_examples(n: int, *, seed: int = 0) -> list[TeachExample]:
    """The first ``n`` examples of :func:`iter_teach_examples`."""
    return list(itertools.islice(iter_teach_examples(seed=seed), n))


def processor_inputs(processor: Any, examples: Sequence[TeachExample]) -> Any:
    """The evaluator's own request for ``examples`` (released key spelling, as ``MacsBackend`` sends)."""
    from aigve.backends.qwen_inputs import build_inputs

    return build_inputs(processor, [e.video for e in examples], [e.prompt for e in examples], released_keys=True)


def teach_batch(processor: Any, examples: Sequence[TeachExample]) -> dict[str, Any]:
    """Model inputs for teacher forcing: the request (left-padded) + answer + ``<|im_end|>`` (right-padded).

    Labels are -100 everywhere except the answer and its EOS, so only the answer is learnt.
    """
    import torch

    tok = processor.tokenizer
    inputs = dict(processor_inputs(processor, examples))
    answers = [tok.encode(e.answer + tok.eos_token, add_special_tokens=False) for e in examples]
    b, width = len(examples), max(map(len, answers))
    ids = torch.full((b, width), tok.pad_token_id, dtype=torch.long)
    labels = torch.full((b, width), -100, dtype=torch.long)
    mask = torch.zeros((b, width), dtype=torch.long)
    for row, answer in enumerate(answers):
        ids[row, : len(answer)] = labels[row, : len(answer)] = torch.tensor(answer)
        mask[row, : len(answer)] = 1
    inputs["input_ids"] = torch.cat([inputs["input_ids"], ids], 1)
    inputs["attention_mask"] = torch.cat([inputs["attention_mask"], mask], 1)
    inputs["mm_token_type_ids"] = torch.cat([inputs["mm_token_type_ids"], torch.zeros_like(ids)], 1)
    # Only the answer is learnt, so only its columns (and the one before) need logits: see answer_loss.
    inputs["labels"] = labels
    return inputs


def answer_loss(model: Any, batch: dict[str, Any]):
    """Mean next-token cross-entropy over the answer tokens of a :func:`teach_batch` batch.

    Logits are computed for the last ``answer width + 1`` columns only (``logits_to_keep``): the request's
    ~600 columns need none, which saves most of the output-layer work.
    """
    import torch

    labels = batch["labels"]
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    logits = model(**inputs, logits_to_keep=labels.shape[1] + 1).logits[:, :-1].float()
    return torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels, ignore_index=-100)


def teach(model: Any, processor: Any, *, steps: int, seed: int = 0, batch_size: int = 4, lr: float = 1e-2,
          warmup: int = 8, progress: bool = False) -> dict[str, float]:
    """Full fine-tuning of ``model`` in place: AdamW, linear warmup and decay, one fresh batch per step.

    Deterministic for a given ``seed`` and thread count (no dropout; batches drawn from a seeded stream,
    built as they are needed). Returns ``{"final_loss", "seconds"}`` (seconds include building the batches);
    leaves the model in eval mode. ``progress``: a tqdm bar over the steps on stderr (with the current loss).
    """
    import torch
    from tqdm.auto import tqdm

    examples = iter_teach_examples(seed=seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.98), weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * max(0.05, 1.0 - s / steps))
    start = perf_counter()
    model.train()
    loss = torch.tensor(float("nan"))
    bar = tqdm(range(steps), desc="teaching the answer format", unit="step", disable=not progress,
               file=sys.stderr, dynamic_ncols=True, mininterval=0.5)
    for step in bar:
        loss = answer_loss(model, teach_batch(processor, list(itertools.islice(examples, batch_size))))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if step % 10 == 0:
            logger.debug("teach step %d loss %.4f", step, loss.item())
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    bar.close()
    model.eval()
    stats = {"final_loss": float(loss.item()), "seconds": perf_counter() - start}
    logger.info("taught tiny model %d steps x %d examples: final loss %.4f in %.1f s", steps, batch_size,
                stats["final_loss"], stats["seconds"])
    return stats
