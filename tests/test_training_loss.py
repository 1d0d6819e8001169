"""weighted_token_loss against hand-computed values and torch's plain cross-entropy."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from aigve.training.loss import weighted_token_loss


def _toy():
    # B=1, L=4, V=3. With shift, logits at t=0..2 predict labels at t=1..3.
    logits = torch.tensor([[[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [9.0, 9.0, 9.0]]])
    labels = torch.tensor([[-100, 0, 1, 2]])
    return logits, labels


def test_hand_computed_weighted_mean():
    logits, labels = _toy()
    weights = torch.tensor([[0.0, 2.0, 1.0, 0.5]])
    # CE_1 = -log softmax([2,0,0])[0]; CE_2 = -log softmax([0,1,0])[1]; CE_3 = -log softmax([0,0,0])[2]
    ce1 = -(2 - math.log(math.exp(2) + 2))
    ce2 = -(1 - math.log(math.e + 2))
    ce3 = math.log(3)
    expected = (2.0 * ce1 + 1.0 * ce2 + 0.5 * ce3) / 3.5
    assert weighted_token_loss(logits, labels, weights).item() == pytest.approx(expected, rel=1e-6)


def test_unit_weights_equal_plain_cross_entropy():
    torch.manual_seed(0)
    logits = torch.randn(3, 7, 11)
    labels = torch.randint(0, 11, (3, 7))
    labels[0, :4] = -100
    labels[2, 5:] = -100
    loss = weighted_token_loss(logits, labels, torch.ones(3, 7))
    ref = F.cross_entropy(logits[:, :-1].reshape(-1, 11), labels[:, 1:].reshape(-1), ignore_index=-100)
    assert loss.item() == pytest.approx(ref.item(), rel=1e-6)
    unshifted = weighted_token_loss(logits, labels, torch.ones(3, 7), shift=False)
    assert unshifted.item() == pytest.approx(F.cross_entropy(logits.reshape(-1, 11), labels.reshape(-1)).item(), rel=1e-6)


def test_masked_positions_are_ignored_whatever_their_logits_or_weights():
    logits, labels = _toy()
    weights = torch.tensor([[5.0, 1.0, 1.0, 1.0]])
    base = weighted_token_loss(logits, labels, weights)
    changed = logits.clone()
    changed[0, 3] = torch.tensor([-50.0, 80.0, 3.0])  # the last position predicts nothing (shift)
    weights2 = weights.clone()
    weights2[0, 0] = 1000.0  # weight at a -100 label
    assert weighted_token_loss(changed, labels, weights2).item() == pytest.approx(base.item(), rel=1e-6)
    labels2 = labels.clone()
    labels2[0, 3] = -100
    ce = F.cross_entropy(logits[0, :2], labels[0, 1:3])
    assert weighted_token_loss(logits, labels2, torch.ones(1, 4)).item() == pytest.approx(ce.item(), rel=1e-6)


def test_zero_total_weight_gives_zero_and_backward_works():
    logits, labels = _toy()
    logits.requires_grad_(True)
    loss = weighted_token_loss(logits, labels, torch.zeros(1, 4))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.all(logits.grad == 0)


def test_gradient_scales_with_weight():
    logits, labels = _toy()
    logits.requires_grad_(True)
    weighted_token_loss(logits, labels, torch.tensor([[0.0, 3.0, 1.0, 0.0]])).backward()
    g = logits.grad[0]
    p = torch.softmax(logits.detach()[0], -1)
    onehot = F.one_hot(labels[0, 1:3], 3).float()
    assert torch.allclose(g[0], 3 / 4 * (p[0] - onehot[0]), atol=1e-6)
    assert torch.allclose(g[1], 1 / 4 * (p[1] - onehot[1]), atol=1e-6)
    assert torch.all(g[2:] == 0)


def test_bfloat16_logits_are_computed_in_float32():
    torch.manual_seed(1)
    logits = torch.randn(2, 5, 13)
    labels = torch.randint(0, 13, (2, 5))
    w = torch.rand(2, 5)
    full = weighted_token_loss(logits.bfloat16().float(), labels, w)
    half = weighted_token_loss(logits.bfloat16(), labels, w)
    assert half.dtype == torch.float32
    assert half.item() == pytest.approx(full.item(), rel=1e-6)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="expected logits"):
        weighted_token_loss(torch.zeros(1, 4, 3), torch.zeros(1, 5, dtype=torch.long), torch.ones(1, 5))
