"""Golden regression tier and hand-computed statistics (issue 14 point 6).

The golden files in tests/golden/ are compared byte for byte after normalisation (tests/golden/golden.py);
when a score changes on purpose, run ``python tests/golden/regenerate.py`` and review the diff.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))
from golden import GOLDEN, report_metrics_text, signals_lines, tiny_lines  # noqa: E402

from aigve.report.metrics import bootstrap_p_value, paired_srcc_test, percentile_ci  # noqa: E402


def test_signals_results_match_the_golden_file(shared_videos):
    expected = (GOLDEN / "signals_results.jsonl").read_text(encoding="utf-8")
    assert "".join(signals_lines(shared_videos)) == expected, "scores changed: see tests/golden/regenerate.py"


def test_taught_tiny_judge_results_match_the_golden_file(shared_videos, tiny_judge):
    expected = (GOLDEN / "tiny_judge_results.jsonl").read_text(encoding="utf-8")
    assert "".join(tiny_lines(shared_videos, tiny_judge)) == expected, "see tests/golden/regenerate.py"


def test_report_metrics_over_the_149_outputs_match_the_golden_file(macs_outputs, tmp_path):
    expected = (GOLDEN / "metrics_aigve_bench.json").read_text(encoding="utf-8")
    assert report_metrics_text(macs_outputs, tmp_path / "r") == expected, "see tests/golden/regenerate.py"


def test_percentile_ci_is_two_sided():
    # 101 samples 0..100: numpy's linear quantiles at 2.5% and 97.5% are exactly 2.5 and 97.5 (alpha/2 per side)
    low, high, n = percentile_ci(np.arange(101.0), 0.95)
    assert (low, high) == pytest.approx((2.5, 97.5)) and n == 101
    low, high, _ = percentile_ci(np.array([np.nan, *np.arange(11.0)]), 0.8)  # NaN resamples are dropped
    assert (low, high) == pytest.approx((1.0, 9.0))


def test_bootstrap_p_value_is_two_sided_with_the_plus_one_correction():
    # d = [-1, 1, 2, 3]: B = 4, #{d<=0} = 1, #{d>=0} = 3 -> min((1+1)/5, (3+1)/5) = 0.4, two-sided 0.8
    assert bootstrap_p_value(np.array([-1.0, 1, 2, 3])) == pytest.approx(0.8)
    # all resamples positive: (0+1)/5 = 0.2, two-sided 0.4 -- never 0 thanks to the +1
    assert bootstrap_p_value(np.array([1.0, 2, 3, 4])) == pytest.approx(0.4)
    # zeros count on both sides; the two-sided value is capped at 1
    assert bootstrap_p_value(np.array([0.0, 0.0])) == 1.0
    assert bootstrap_p_value(np.array([np.nan])) is None


def test_paired_test_of_a_system_with_itself_has_p_one():
    h = np.array([1.0, 2, 3, 4, 5, 2, 3])
    out = paired_srcc_test(h, h + 0.1, h + 0.1, n_boot=50, seed=0)
    assert out["diff"] == 0 and out["p_value"] == 1.0 and out["ci_low"] == out["ci_high"] == 0
