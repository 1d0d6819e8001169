"""aigve.core.stats against hand-computed values."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from aigve.core import stats as S


def test_cluster_weights_reproduce_the_documented_draws():
    w = S.cluster_bootstrap_weights(3, 4, seed=7)
    idx = np.random.default_rng(7).integers(0, 3, size=(4, 3))
    assert w.shape == (4, 3)
    for b in range(4):
        assert list(w[b]) == [float(np.sum(idx[b] == p)) for p in range(3)]
    assert (w.sum(axis=1) == 3).all()


def test_clustered_means_on_a_tiny_table_by_hand():
    # generator 0: prompt 0 has scores [1, 3] (sum 4, n 2), prompt 1 has [5] (sum 5, n 1)
    sums, counts = np.array([[4.0, 5.0]]), np.array([[2.0, 1.0]])
    w = np.array([[1.0, 1.0], [2.0, 0.0], [0.0, 2.0]])
    means = S.clustered_means(sums, counts, w)[:, 0]
    assert means == pytest.approx([9 / 3, 2.0, 5.0])  # whole prompts move, not single videos


def test_clustered_bootstrap_quantiles_computed_independently():
    # 3 prompts; per prompt the videos of generator "g": p0 -> [1, 2], p1 -> [4], p2 -> [3, 3, 3]
    items = {0: [1.0, 2.0], 1: [4.0], 2: [3.0, 3.0, 3.0]}
    sums = np.array([[sum(v) for v in items.values()]])
    counts = np.array([[len(v) for v in items.values()]], dtype=float)
    boot = S.clustered_means(sums, counts, S.cluster_bootstrap_weights(3, 200, seed=11))[:, 0]
    # independently: redraw prompts with the same generator, pool their videos, take the plain mean
    draws = np.random.default_rng(11).integers(0, 3, size=(200, 3))
    expected = np.array([np.mean([x for p in row for x in items[int(p)]]) for row in draws])
    assert boot == pytest.approx(expected)
    lo, hi = S.percentile_interval(boot, 0.95)
    srt = np.sort(expected)  # linear interpolation at 0.025 * 199 = 4.975 and 0.975 * 199 = 194.025
    assert lo == pytest.approx(srt[4] + 0.975 * (srt[5] - srt[4]))
    assert hi == pytest.approx(srt[194] + 0.025 * (srt[195] - srt[194]))


def test_ranks_and_rank_interval():
    assert list(S.ranks_desc(np.array([3.0, 5.0, 3.0, 1.0]))) == [2.5, 1.0, 2.5, 4.0]
    r = S.ranks_desc(np.array([[1.0, 2.0], [2.0, 1.0], [0.0, 3.0]]))
    assert r.tolist() == [[2.0, 1.0], [1.0, 2.0], [2.0, 1.0]]
    samples = np.array([1.0] * 10 + [2.0] * 80 + [3.0] * 10)
    assert S.rank_interval(samples, 0.95) == (1.0, 3.0)
    assert S.rank_interval(np.array([2.0] * 100), 0.95) == (2.0, 2.0)


def test_sign_flip_exact_enumeration_by_hand():
    d = [1.0, 2.0, 3.0, 4.0]  # mean 2.5, |sum| = 10
    # the 16 patterns' |sum|: only all-plus and all-minus reach 10 -> p = 2/16
    res = S.sign_flip_test(d)
    assert res.exact and res.n_patterns == 16
    assert res.p_value == pytest.approx(2 / 16)
    # d = [1, 1, 1, -1]: |sum| = 2; |sum| >= 2 for patterns with 3 or 4 equal signs... count by hand:
    # sums of s*d over 16 patterns take values 4 (x1), 2 (x4), 0 (x6), -2 (x4), -4 (x1) -> 10/16 reach |2|
    assert S.sign_flip_test([1.0, 1.0, 1.0, -1.0]).p_value == pytest.approx(10 / 16)
    assert S.sign_flip_test([0.0, 0.0]).p_value == 1.0
    assert S.sign_flip_test([]).p_value is None


def test_sign_flip_monte_carlo_uses_plus_one():
    d = np.ones(30)  # only the two constant patterns reach the observed value
    res = S.sign_flip_test(d, n_perm=999, max_exact=16, seed=0)
    assert not res.exact and res.n_patterns == 999
    assert res.p_value == pytest.approx(1 / 1000)  # no random pattern is all-plus/all-minus in 999 draws


def test_holm_by_hand():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> monotone 0.06
    assert S.holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert S.holm([0.5, None, 0.6]) == [1.0, None, 1.0]
    assert S.holm([]) == []


def test_win_rate():
    assert S.win_rate([3, 2, 1, 5], [1, 2, 4, 4]) == pytest.approx((1 + 0.5 + 0 + 1) / 4)
    assert S.win_rate([], []) is None


def _brute_tie_calibrated(h, d):
    best, best_eps = -1.0, None
    for eps in sorted({0.0, *map(abs, d)}):
        c = S.pair_counts(h, d, eps)
        acc = (c.c + c.t_hm) / c.total
        if acc > best:
            best, best_eps = acc, eps
    return best, best_eps


def test_tie_calibrated_accuracy_on_a_hand_made_set():
    h = [1, -1, 0, 0, 1, -1]
    d = [2.0, -1.5, 0.2, -0.4, 0.3, 1.0]
    # eps = 0: ties none; C = pairs 0, 1, 4 -> 3/6. eps = 0.2: C 3 + T_hm 1 = 4/6.
    # eps = 0.3: pair 4 becomes a model tie (C 2) + T_hm 1 = 3/6. eps = 0.4: C 2 + T_hm 2 = 4/6.
    # eps = 1.0: C = pair 0, 1 (|-1.5| > 1) -> 2 + 2 = 4/6. eps = 1.5: C 1 + 2 = 3/6; eps 2: 0 + 2.
    res = S.tie_calibrated_accuracy(h, d)
    assert res.accuracy == pytest.approx(4 / 6)
    assert res.epsilon == pytest.approx(0.2)  # the smallest maximising threshold
    assert res.counts == S.PairCounts(c=3, d=1, t_h=1, t_m=0, t_hm=1)
    assert (res.accuracy, res.epsilon) == pytest.approx(_brute_tie_calibrated(h, d))


def test_tie_calibrated_matches_brute_force_on_random_sets():
    rng = np.random.default_rng(3)
    for _ in range(30):
        n = int(rng.integers(1, 12))
        h = rng.integers(-1, 2, n)
        d = rng.integers(-3, 4, n) * 0.5
        res = S.tie_calibrated_accuracy(h, d)
        assert (res.accuracy, res.epsilon) == pytest.approx(_brute_tie_calibrated(h, d))


def test_accuracy_without_ties_counts_model_ties_wrong():
    h = [1, -1, 1, 0, -1]
    d = [1.0, -2.0, 0.0, 5.0, 1.0]
    # human non-ties: pairs 0 (C), 1 (C), 2 (model tie: wrong), 4 (D) -> 2/4
    assert S.accuracy_without_ties(h, d) == pytest.approx(0.5)
    assert S.accuracy_without_ties([0, 0], [1.0, 2.0]) is None
    with pytest.raises(ValueError):
        S.accuracy_without_ties([2], [1.0])


@pytest.mark.parametrize(("fwd", "bwd", "want"), [
    (1.0, -1.0, (1, True)), (-0.5, 0.7, (-1, True)), (1.0, 1.0, (0, False)), (0.0, 0.0, (0, True)),
    (0.05, -2.0, (0, False)),
])
def test_order_consistency(fwd, bwd, want):
    assert S.order_consistent_preference(fwd, bwd, tie_margin=0.1) == want


def test_sign_flip_exact_equals_manual_loop():
    d = np.array([0.5, -1.0, 2.0, 0.25, 1.5])
    t = abs(d.mean())
    hits = sum(abs(np.dot(s, d)) / 5 >= t - 1e-12 for s in itertools.product((1, -1), repeat=5))
    assert S.sign_flip_test(d).p_value == pytest.approx(hits / 32)
