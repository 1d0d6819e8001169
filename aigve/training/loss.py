"""Token-wise weighted cross-entropy: a pure function of logits, labels and per-token weights."""

from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100


def weighted_token_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    weights: torch.Tensor,
    *,
    shift: bool = True,
) -> torch.Tensor:
    """Weighted mean cross-entropy over target tokens.

    ``logits``: (B, L, V) any float dtype (CE is computed in float32). ``labels``: (B, L) token ids,
    ``-100`` where there is no target. ``weights``: (B, L) float, the weight of the token at the same
    position as its label. With ``shift=True`` (causal LM) position ``t`` of the logits predicts label
    ``t + 1``, as in transformers' own loss.

    Returns ``sum(w_i * CE_i) / sum(w_i)`` over positions with a label (a 0-dim float32 tensor). With all
    weights 1 this is exactly the mean CE that ``F.cross_entropy(..., ignore_index=-100)`` gives. When no
    position carries weight the result is 0 and still connected to the graph (so backward works).
    """
    if logits.dim() != 3 or labels.shape != logits.shape[:2] or weights.shape != labels.shape:
        raise ValueError(f"expected logits (B, L, V), labels and weights (B, L); got {tuple(logits.shape)}, "
                         f"{tuple(labels.shape)}, {tuple(weights.shape)}")
    if shift:
        logits, labels, weights = logits[:, :-1], labels[:, 1:], weights[:, 1:]
    mask = labels != IGNORE_INDEX
    # Only the target rows go through log-softmax: the prompt (video tokens included) is most of the
    # sequence, and a float32 copy of its (L, V) logits would dominate memory.
    picked = logits[mask].float()
    ce = F.cross_entropy(picked, labels[mask], reduction="none")
    w = weights[mask].to(ce.dtype)
    # clamp instead of branching on total == 0: no host sync, and 0 / tiny = 0 when nothing is weighted.
    return (w * ce).sum() / w.sum().clamp(min=torch.finfo(torch.float32).tiny)
