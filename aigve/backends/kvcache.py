"""Teacher-forced forward passes for Qwen2.5-VL judges, with the video + instruction prefix computed once.

Scoring several aspect subsets (or several prompts) of the same video repeats the expensive part, the
vision encoder and the prefill of thousands of video tokens, for a handful of different trailing tokens.
:func:`encode_prefix` runs that shared prefix once and keeps its key/value cache (a transformers
``DynamicCache``); :func:`extend` copies the cache (``copy.deepcopy``, then ``batch_repeat_interleave`` when
several continuations share one prefix row) and runs only the continuation tokens. Position ids of the
continuation come from the model's own ``get_rope_index`` over the whole sequence, so the result equals the
no-reuse forward over ``prefix + continuation`` up to float rounding (tested).

Everything works on hidden states and applies ``lm_head`` only at the positions asked for, so no
``(batch, length, vocabulary)`` logits tensor is ever built (152k x thousands of positions for the 7B).
"""

from __future__ import annotations

import copy as _copy
import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


def base_model(model: Any) -> Any:
    """The ``...ForConditionalGeneration`` under a peft wrapper (LoRA layers are injected in place)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def cache_kwarg(model: Any) -> str:
    """Name of the cache argument of ``model.model.forward``: ``cache`` (transformers >= 5.2x) or ``past_key_values``."""
    params = inspect.signature(base_model(model).model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def rope_positions(model: Any, input_ids, mm_token_type_ids, attention_mask, video_grid_thw=None,
                   second_per_grid_ts=None):
    """M-RoPE position ids ``(3, B, L)`` exactly as the model computes them for a full forward pass."""
    core = base_model(model).model
    kwargs = {"video_grid_thw": video_grid_thw, "attention_mask": attention_mask}
    if second_per_grid_ts is not None:
        kwargs["second_per_grid_ts"] = second_per_grid_ts
    positions, _ = core.get_rope_index(input_ids, mm_token_type_ids=mm_token_type_ids, **kwargs)
    return positions


def logits_at(model: Any, hidden, positions):
    """``lm_head`` applied at ``positions`` only. ``hidden`` (B, L, H); ``positions`` (B, K) long -> (B, K, V) float32."""
    import torch

    index = positions.to(hidden.device).unsqueeze(-1).expand(-1, -1, hidden.shape[-1])
    picked = torch.gather(hidden, 1, index)
    return base_model(model).lm_head(picked).float()


def full_forward(model: Any, inputs: Mapping[str, Any], positions) -> Any:
    """No-reuse forward over complete ``inputs`` (a processor batch); logits ``(B, K, V)`` at ``positions`` (B, K)."""
    import torch

    core = base_model(model).model
    kwargs = {k: v for k, v in inputs.items() if k in _MODEL_INPUTS}
    with torch.inference_mode():
        hidden = core(**kwargs, use_cache=False).last_hidden_state
        return logits_at(model, hidden, positions)


_MODEL_INPUTS = ("input_ids", "attention_mask", "mm_token_type_ids", "pixel_values_videos", "video_grid_thw",
                 "second_per_grid_ts", "pixel_values", "image_grid_thw")


@dataclass
class Prefix:
    """Model state after a shared prefix of ``B`` rows.

    ``cache``: key/value cache of the prefix (never modified by :func:`extend`, which works on copies).
    ``input_ids``/``attention_mask``/``mm_token_type_ids``: (B, P), left-padded as built.
    ``video_grid_thw`` (B, 3) and ``second_per_grid_ts`` (B,): what the positions of later tokens depend on.
    ``last_logits``: (B, V) float32, the distribution of the token right after the prefix.
    """

    cache: Any
    input_ids: Any
    attention_mask: Any
    mm_token_type_ids: Any
    video_grid_thw: Any
    second_per_grid_ts: Any
    last_logits: Any

    @property
    def batch_size(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def length(self) -> int:
        return int(self.input_ids.shape[1])


def encode_prefix(model: Any, inputs: Mapping[str, Any]) -> Prefix:
    """Run the prefix (a processor batch with the video) once, keeping its cache and last-position logits."""
    import torch

    core = base_model(model).model
    kwargs = {k: v for k, v in inputs.items() if k in _MODEL_INPUTS}
    with torch.inference_mode():
        out = core(**kwargs, use_cache=True)
        length = kwargs["input_ids"].shape[1]
        last = torch.full((kwargs["input_ids"].shape[0], 1), length - 1, dtype=torch.long)
        last_logits = logits_at(model, out.last_hidden_state, last)[:, 0]
    cache = getattr(out, "cache", None) or getattr(out, "past_key_values", None)
    return Prefix(cache=cache, input_ids=kwargs["input_ids"], attention_mask=kwargs["attention_mask"],
                  mm_token_type_ids=kwargs["mm_token_type_ids"], video_grid_thw=kwargs.get("video_grid_thw"),
                  second_per_grid_ts=kwargs.get("second_per_grid_ts"), last_logits=last_logits)


def expand(prefix: Prefix, repeats: int) -> Prefix:
    """A copy of ``prefix`` with every row repeated ``repeats`` times (rows ``r*repeats .. r*repeats+repeats-1``)."""
    cache = _copy.deepcopy(prefix.cache)
    if repeats == 1:
        return Prefix(cache, prefix.input_ids, prefix.attention_mask, prefix.mm_token_type_ids,
                      prefix.video_grid_thw, prefix.second_per_grid_ts, prefix.last_logits)
    cache.batch_repeat_interleave(repeats)

    def rep(t):
        return None if t is None else t.repeat_interleave(repeats, dim=0)

    return Prefix(cache, rep(prefix.input_ids), rep(prefix.attention_mask), rep(prefix.mm_token_type_ids),
                  rep(prefix.video_grid_thw), rep(prefix.second_per_grid_ts), rep(prefix.last_logits))


def extend(model: Any, prefix: Prefix, continuations: Sequence[Sequence[int]], read_at: Sequence[Sequence[int]], *,
           pad_id: int = 0, keep: bool = False, copy: bool = True):
    """Run text ``continuations`` after ``prefix`` and return logits ``(N, K, V)`` (float32).

    ``continuations``: N token-id lists, one per prefix row (expand the prefix first for several per row); they
    may differ in length (right-padded with ``pad_id`` and masked; causal attention keeps pads out of earlier
    positions). ``read_at``: per row, K indices into the continuation whose *next-token* logits are wanted
    (index -1 = the last prefix position, i.e. the token predicted right after the prefix).
    The prefix cache is copied and left as it was (``copy=False`` extends it in place: cheaper when the prefix
    is not needed again); with ``keep`` the extended cache is returned too.
    """
    import torch

    n = len(continuations)
    if n != prefix.batch_size or len(read_at) != n:
        raise ValueError(f"need one continuation and one read_at list per prefix row ({prefix.batch_size}), got "
                         f"{n} and {len(read_at)}; expand() the prefix for several continuations per row")
    width = max(len(c) for c in continuations)
    device = prefix.input_ids.device
    ids = torch.full((n, width), pad_id, dtype=prefix.input_ids.dtype, device=device)
    mask = torch.zeros((n, width), dtype=prefix.attention_mask.dtype, device=device)
    for row, cont in enumerate(continuations):
        ids[row, :len(cont)] = torch.as_tensor(list(cont), dtype=ids.dtype)
        mask[row, :len(cont)] = 1
    full_ids = torch.cat([prefix.input_ids, ids], dim=1)
    full_mask = torch.cat([prefix.attention_mask, mask], dim=1)
    types = torch.cat([prefix.mm_token_type_ids, torch.zeros_like(ids)], dim=1)
    positions = rope_positions(model, full_ids, types, full_mask, prefix.video_grid_thw,
                               prefix.second_per_grid_ts)[:, :, prefix.length:]
    cache = _copy.deepcopy(prefix.cache) if copy else prefix.cache
    core = base_model(model).model
    with torch.inference_mode():
        out = core(input_ids=ids, attention_mask=full_mask, position_ids=positions, use_cache=True,
                   **{cache_kwarg(model): cache})
        hidden = out.last_hidden_state
        k = max(len(r) for r in read_at)
        index = torch.zeros((n, k), dtype=torch.long)
        for row, wanted in enumerate(read_at):
            index[row, :len(wanted)] = torch.as_tensor([max(0, i) for i in wanted], dtype=torch.long)
        logits = logits_at(model, hidden, index)
        for row, wanted in enumerate(read_at):  # index -1 reads the prefix's last position
            for j, i in enumerate(wanted):
                if i < 0:
                    logits[row, j] = prefix.last_logits[row]
    if keep:
        return logits, cache
    return logits
