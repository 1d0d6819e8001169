"""aigve.report.metrics: coefficients equal scipy, CIs behave, undefined cases, pairwise accuracy by hand."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from aigve.report import metrics as M


def _scores(n: int, seed: int = 0, noise: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    h = rng.integers(0, 6, n).astype(float)
    m = np.clip(h + rng.integers(-noise, noise + 1, n), 0, 5)
    return h, m


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_coefficients_equal_scipy(seed):
    h, m = _scores(80, seed)
    assert M.srcc(h, m) == pytest.approx(stats.spearmanr(h, m).statistic, abs=1e-12)
    assert M.plcc(h, m) == pytest.approx(stats.pearsonr(h, m).statistic, abs=1e-12)
    assert M.krcc(h, m) == pytest.approx(stats.kendalltau(h, m).statistic, abs=1e-12)
    est = M.agreement(h, m, n_boot=50, seed=seed)
    assert est["srcc"].value == pytest.approx(stats.spearmanr(h, m).statistic, abs=1e-12)
    assert est["krcc"].n == 80


def test_resampled_statistics_equal_scipy_on_each_resample():
    """The count-based bootstrap must give exactly what scipy gives on the resampled vectors."""
    h, m = _scores(60, seed=3)
    idx = M.bootstrap_indices(60, 40, seed=7)
    boot = M.resample_statistics(h, m, idx)
    for b in range(idx.shape[0]):
        hb, mb = h[idx[b]], m[idx[b]]
        assert boot["srcc"][b] == pytest.approx(stats.spearmanr(hb, mb).statistic, abs=1e-9)
        assert boot["plcc"][b] == pytest.approx(stats.pearsonr(hb, mb).statistic, abs=1e-9)
        assert boot["krcc"][b] == pytest.approx(stats.kendalltau(hb, mb).statistic, abs=1e-9)
        assert boot["pairwise_acc"][b] == pytest.approx(M.pairwise_accuracy(hb, mb), abs=1e-9)
        assert boot["exact_acc"][b] == pytest.approx(M.exact_accuracy(hb, mb), abs=1e-12)
        assert boot["within1_acc"][b] == pytest.approx(M.within_one_accuracy(hb, mb), abs=1e-12)


def test_resampled_kendall_fallback_for_many_distinct_values(monkeypatch):
    rng = np.random.default_rng(0)
    h, m = rng.normal(size=30), rng.normal(size=30)
    monkeypatch.setattr(M, "_KENDALL_DENSE_MAX", 5)
    idx = M.bootstrap_indices(30, 5, seed=1)
    boot = M.resample_statistics(h, m, idx)
    for b in range(5):
        assert boot["krcc"][b] == pytest.approx(stats.kendalltau(h[idx[b]], m[idx[b]]).statistic, abs=1e-9)


def test_bootstrap_is_seeded_and_ci_contains_estimate():
    h, m = _scores(120, seed=4)
    a = M.agreement(h, m, n_boot=300, seed=11)
    b = M.agreement(h, m, n_boot=300, seed=11)
    c = M.agreement(h, m, n_boot=300, seed=12)
    assert a == b
    assert a["srcc"].ci_low != c["srcc"].ci_low
    for key in M.CORRELATIONS + M.ACCURACIES:
        est = a[key]
        assert est.ci_low <= est.value <= est.ci_high, key
        assert est.n_boot_valid == 300


def test_ci_shrinks_with_n():
    small_h, small_m = _scores(40, seed=5)
    big_h, big_m = _scores(1600, seed=5)
    small = M.agreement(small_h, small_m, n_boot=400, seed=0)
    big = M.agreement(big_h, big_m, n_boot=400, seed=0)
    for key in M.CORRELATIONS:
        width_small = small[key].ci_high - small[key].ci_low
        width_big = big[key].ci_high - big[key].ci_low
        assert width_big < width_small / 3, key  # ~ 1/sqrt(40) -> 1/6 as n grows 40x


@pytest.mark.parametrize("h,m", [
    ([], []),
    ([3.0], [4.0]),
    ([3, 3, 3, 3], [1, 2, 3, 4]),  # constant human
    ([1, 2, 3, 4], [5, 5, 5, 5]),  # constant model
])
def test_undefined_correlations_are_none(h, m):
    est = M.agreement(h, m, n_boot=100, seed=0)
    for key in M.CORRELATIONS:
        assert est[key].value is None and est[key].ci_low is None and est[key].ci_high is None
    assert est["srcc"].n == len(h)
    if len(set(h)) <= 1:
        assert est["pairwise_acc"].value is None  # no pair with differing human scores
    if not h:
        assert est["exact_acc"].value is None and est["within1_acc"].value is None


def test_bootstrap_drops_degenerate_resamples():
    # Two distinct items only: many resamples draw a single value -> undefined there, dropped from the CI.
    h, m = [1.0, 5.0], [2.0, 4.0]
    est = M.agreement(h, m, n_boot=200, seed=0)
    assert est["srcc"].value == pytest.approx(1.0)
    assert 0 < est["srcc"].n_boot_valid < 200


def test_accuracies_by_hand():
    h = [0, 1, 2, 3, 4, 5]
    m = [0, 2, 2, 5, 3.5, 4.4]  # rounded: 0 2 2 5 4 4
    assert M.exact_accuracy(h, m) == pytest.approx(3 / 6)
    assert M.within_one_accuracy(h, m) == pytest.approx(5 / 6)
    assert M.round_half_up([2.5, 3.5, 0.49]).tolist() == [3, 4, 0]


def test_pairwise_accuracy_by_hand():
    # Human 1 < 2 < 2 < 3. Pairs with differing human scores: (a,b) (a,c) (a,d) (b,d) (c,d) = 5.
    h = [1, 2, 2, 3]
    m = [1, 1, 3, 2]
    # (a,b): model tie -> 0.5; (a,c): 1<3 ok -> 1; (a,d): 1<2 ok -> 1; (b,d): 1<2 ok -> 1; (c,d): 3>2 wrong -> 0
    assert M.pairwise_accuracy(h, m) == pytest.approx(3.5 / 5)
    assert M.pairwise_accuracy([2, 2, 2], [1, 2, 3]) is None
    assert M.pairwise_accuracy(h, h) == 1.0


def test_paired_test_same_system_and_clear_difference():
    h, good = _scores(200, seed=6, noise=1)
    rng = np.random.default_rng(1)
    bad = rng.permutation(good)
    same = M.paired_srcc_test(h, good, good, n_boot=300, seed=0)
    assert same["diff"] == 0 and same["p_value"] == 1.0
    test = M.paired_srcc_test(h, good, bad, n_boot=300, seed=0)
    assert test["srcc_a"] == pytest.approx(stats.spearmanr(h, good).statistic)
    assert test["srcc_b"] == pytest.approx(stats.spearmanr(h, bad).statistic)
    assert test["diff"] == pytest.approx(test["srcc_a"] - test["srcc_b"])
    assert test["ci_low"] <= test["diff"] <= test["ci_high"]
    assert test["ci_low"] > 0 and test["p_value"] < 0.01


def test_paired_test_uses_the_same_resamples_for_both():
    h, a = _scores(50, seed=8)
    b = np.clip(a + 1, 0, 5)
    test = M.paired_srcc_test(h, a, b, n_boot=200, seed=3)
    idx = M.bootstrap_indices(50, 200, seed=3)
    diffs = M.resample_statistics(h, a, idx)["srcc"] - M.resample_statistics(h, b, idx)["srcc"]
    low, high, _ = M.percentile_ci(diffs)
    assert (test["ci_low"], test["ci_high"]) == pytest.approx((low, high))


def test_paired_test_undefined_system():
    h, a = _scores(30, seed=9)
    test = M.paired_srcc_test(h, a, np.full(30, 3.0), n_boot=100, seed=0)
    assert test["srcc_b"] is None and test["diff"] is None and test["p_value"] is None


def test_bad_vectors_raise():
    with pytest.raises(ValueError, match="differ in length"):
        M.srcc([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="finite"):
        M.srcc([1, float("nan")], [1, 2])
