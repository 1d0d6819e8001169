"""Batch building: the evaluator's exact request + the target answer, labels masked to the answer.

The prompt part of every example is built by :func:`aigve.backends.qwen_inputs.build_inputs`, the same
function the MACS backend uses at scoring time, so training and evaluation see identical token ids,
frames, ``video_grid_thw``, ``second_per_grid_ts`` and ``mm_token_type_ids``. The answer is tokenised on
its own with character offsets (:func:`aigve.training.roles.tokenize_target`) and appended, followed
by ``<|im_end|>``; labels are ``-100`` everywhere else.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from aigve.aspects import ASPECT_KEYS
from aigve.training.loss import IGNORE_INDEX
from aigve.training.roles import ROLES, tokenize_target

#: Keys the collator adds that the model must not receive (the trainer pops them).
AUX_KEYS = ("labels", "loss_weights", "score_positions", "human_scores")


class TrainingCollator:
    """Turns dataset items (``{"id", "video", "prompt", "answer", "scores"}``) into one right-padded batch.

    Output (B = batch, L = longest sequence): the model inputs of ``build_inputs`` (``input_ids``,
    ``attention_mask``, ``mm_token_type_ids`` (B, L); ``pixel_values_videos``; ``video_grid_thw`` (B, 3);
    ``second_per_grid_ts`` (B,)) plus ``labels`` (B, L) with -100 outside the answer, ``loss_weights``
    (B, L) float = the role weight of each label token, ``score_positions`` (B, 9) = sequence index of the
    first token of each aspect's score (-1 if absent; aspect order of :data:`ASPECT_KEYS`) and
    ``human_scores`` (B, 9) float (NaN if absent).
    """

    def __init__(self, processor: Any, role_weights: Mapping[str, float], *, released_keys: bool = True,
                 profile: Any = None):
        unknown = set(role_weights) - set(ROLES)
        if unknown:
            raise ValueError(f"unknown token roles {sorted(unknown)}; known: {', '.join(ROLES)}")
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.released_keys = released_keys
        self.profile = profile  # the judge profile whose messages the prompt uses (None: aigve's own)
        self.weight_table = torch.tensor([float(role_weights.get(r, 0.0)) for r in ROLES])
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else self.tokenizer.convert_tokens_to_ids("<|endoftext|>")

    def encode(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """One example, unpadded: prompt inputs (batch of 1) + answer ids, labels, weights."""
        from aigve.backends.qwen_inputs import build_inputs

        prompt = build_inputs(self.processor, [item["video"]], [item["prompt"]], released_keys=self.released_keys,
                              profile=self.profile)
        target = tokenize_target(self.tokenizer, item["answer"])
        n_prompt = prompt["input_ids"].shape[1]
        answer = torch.tensor(target.input_ids, dtype=torch.long)
        roles = torch.tensor(target.roles, dtype=torch.long)
        positions = torch.full((len(ASPECT_KEYS),), -1, dtype=torch.long)
        for i, aspect in enumerate(target.score_aspect):
            if aspect is not None:
                positions[ASPECT_KEYS.index(aspect)] = n_prompt + i
        scores = item.get("scores") or {}
        human = torch.tensor([float(scores[k]) if scores.get(k) is not None else math.nan for k in ASPECT_KEYS])
        return {
            "input_ids": torch.cat([prompt["input_ids"][0], answer]),
            "attention_mask": torch.cat([prompt["attention_mask"][0], torch.ones_like(answer)]),
            "mm_token_type_ids": torch.cat([prompt["mm_token_type_ids"][0], torch.zeros_like(answer)]),
            "labels": torch.cat([torch.full((n_prompt,), IGNORE_INDEX, dtype=torch.long), answer]),
            "loss_weights": torch.cat([torch.zeros(n_prompt), self.weight_table[roles]]),
            "pixel_values_videos": prompt["pixel_values_videos"],
            "video_grid_thw": prompt["video_grid_thw"],
            "second_per_grid_ts": prompt.get("second_per_grid_ts"),
            "score_positions": positions,
            "human_scores": human,
        }

    def __call__(self, items: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
        encoded = [self.encode(item) for item in items]
        return pad_batch(encoded, pad_id=self.pad_id)


def pad_batch(encoded: Sequence[Mapping[str, Any]], *, pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad per-example sequences and concatenate the visual tensors (videos in batch order)."""
    length = max(e["input_ids"].shape[0] for e in encoded)
    fills = {"input_ids": pad_id, "attention_mask": 0, "mm_token_type_ids": 0, "labels": IGNORE_INDEX,
             "loss_weights": 0.0}
    batch: dict[str, torch.Tensor] = {}
    for key, fill in fills.items():
        rows = [torch.nn.functional.pad(e[key], (0, length - e[key].shape[0]), value=fill) for e in encoded]
        batch[key] = torch.stack(rows)
    batch["pixel_values_videos"] = torch.cat([e["pixel_values_videos"] for e in encoded])
    batch["video_grid_thw"] = torch.cat([e["video_grid_thw"] for e in encoded])
    if all(e["second_per_grid_ts"] is not None for e in encoded):
        batch["second_per_grid_ts"] = torch.cat([torch.as_tensor(e["second_per_grid_ts"], dtype=torch.float32).reshape(-1)
                                                 for e in encoded])
    batch["score_positions"] = torch.stack([e["score_positions"] for e in encoded])
    batch["human_scores"] = torch.stack([e["human_scores"] for e in encoded])
    return batch
