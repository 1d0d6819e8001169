"""The sanity report's maths on hand-made score tables: shares, Wilson intervals, floors, verdicts, worst examples."""

from __future__ import annotations

import math

import pytest

from aigve.sanity import Expectation
from aigve.sanity.report import (
    Pair,
    aspect_stats,
    check_verdict,
    judged_aspects,
    overall,
    summarise_check,
    wilson_interval,
    worst_examples,
)

DROP = Expectation("drop", ("technical_quality",))


def _pairs(aspect, table, check="c"):
    """table: [(original, variant), ...] for one aspect."""
    return [Pair(f"clip{i}", check, {aspect: a}, {aspect: b}) for i, (a, b) in enumerate(table)]


def _wilson(k, n, z=1.959963984540054):
    """The textbook formula, written out independently of scipy."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.mark.parametrize("k,n", [(3, 5), (4, 4), (0, 7), (9, 10), (1, 1)])
def test_wilson_interval_matches_the_formula(k, n):
    low, high = wilson_interval(k, n)
    want = _wilson(k, n)
    assert low == pytest.approx(max(0.0, want[0]), abs=1e-9) and high == pytest.approx(min(1.0, want[1]), abs=1e-9)


def test_wilson_interval_of_nothing_is_undefined():
    assert wilson_interval(0, 0) == (None, None)


def test_wilson_hand_values():
    # 3 of 5: centre (0.6 + 0.3841) / 1.7683 = 0.5566, half 0.3258 -> [0.2307, 0.8824]
    low, high = wilson_interval(3, 5)
    assert (round(low, 4), round(high, 4)) == (0.2307, 0.8824)
    # 4 of 4: lower end 4 / (4 + 3.8415) = 0.5101, just above the 0.5 threshold
    assert round(wilson_interval(4, 4)[0], 4) == 0.5101


def test_drop_share_mean_and_fail():
    stats = aspect_stats("technical_quality", _pairs("technical_quality", [(4, 3), (4, 2), (3, 3), (5, 4), (2, 3)]),
                         DROP, judged=True)
    assert (stats.n, stats.held, stats.share) == (5, 3, 0.6)
    assert stats.mean_delta == pytest.approx((-1 - 2 + 0 - 1 + 1) / 5)
    assert stats.verdict == "fail"  # 0.6 < 0.8


def test_clips_at_the_floor_cannot_drop_and_are_left_out():
    stats = aspect_stats("technical_quality", _pairs("technical_quality", [(0, 0), (3, 1), (4, 2), (0, 1), (2, 0), (5, 0)]),
                         DROP, judged=True)
    assert (stats.at_floor, stats.n, stats.held) == (2, 4, 4)
    assert stats.verdict == "pass"  # 4/4: Wilson low 0.510 > 0.5


def test_three_of_three_is_inconclusive_and_four_of_four_passes():
    three = aspect_stats("technical_quality", _pairs("technical_quality", [(4, 1)] * 3), DROP, judged=True)
    assert three.share == 1.0 and three.verdict == "inconclusive"
    four = aspect_stats("technical_quality", _pairs("technical_quality", [(4, 1)] * 4), DROP, judged=True)
    assert four.verdict == "pass"


def test_none_scores_and_errors_are_left_out():
    pairs = _pairs("technical_quality", [(4, None), (None, 2), (4, 2)]) + [Pair("bad", "c", error="variant not made")]
    stats = aspect_stats("technical_quality", pairs, DROP, judged=True)
    assert stats.n == 1


def test_not_rise_reports_strict_drops():
    exp = Expectation("not_rise", ("consistency",))
    stats = aspect_stats("consistency", _pairs("consistency", [(4, 4), (4, 3), (5, 5), (3, 1), (4, 4)]), exp, judged=True)
    assert stats.share == 1.0 and stats.drop_share == pytest.approx(0.4) and stats.verdict == "pass"
    rise = aspect_stats("consistency", _pairs("consistency", [(4, 5), (4, 4), (3, 4), (3, 3), (2, 2)]), exp, judged=True)
    assert rise.share == pytest.approx(0.6) and rise.verdict == "fail"


def test_equal_needs_every_clip_and_a_sampling_judge_is_informational():
    exp = Expectation("equal")
    table = [(4, 4)] * 9 + [(4, 3)]
    stats = aspect_stats("overall", _pairs("overall", table), exp, judged=True)
    assert stats.share == 0.9 and stats.verdict == "fail"  # 0.9 >= 0.8, but determinism needs all
    pairs = [Pair(f"c{i}", "rerun", {"overall": 4}, {"overall": 4}, {"overall": 4.0}, {"overall": 4.0 + 0.1 * i})
             for i in range(4)]
    sampled = aspect_stats("overall", pairs, exp, judged=True, samples=True)
    assert sampled.verdict == "informational"
    assert sampled.expected_spread == pytest.approx((0 + 0.1 + 0.2 + 0.3) / 4)


def test_band():
    exp = Expectation("band", band=1.0)
    stats = aspect_stats("dynamic", _pairs("dynamic", [(3, 4), (3, 2), (3, 3), (3, 5), (3, 3)]), exp, judged=True)
    assert (stats.held, stats.n) == (4, 5)
    assert not exp.holds(2.0) and exp.holds(-1.0)


def test_an_aspect_the_judge_does_not_score_is_not_applicable():
    exp = Expectation("drop", ("element_presence", "action_presence"))
    pairs = [Pair(f"c{i}", "prompt_swap", {"element_presence": None}, {"element_presence": None}) for i in range(4)]
    summary = summarise_check("prompt_swap", "swapped", exp, pairs, judged=["technical_quality", "dynamic"])
    assert [a.verdict for a in summary.aspects] == ["not applicable", "not applicable"]
    assert summary.verdict == "not applicable"


def test_check_verdict_combines_aspects():
    from aigve.sanity.report import AspectStats

    def s(*verdicts):
        return [AspectStats(f"a{i}", v) for i, v in enumerate(verdicts)]

    assert check_verdict(s("pass", "not applicable")) == "pass"
    assert check_verdict(s("pass", "fail")) == "fail"
    assert check_verdict(s("pass", "inconclusive")) == "inconclusive"
    assert check_verdict(s("pass", "no data")) == "inconclusive"
    assert check_verdict(s("informational", "not applicable")) == "informational"
    assert check_verdict(s("not applicable")) == "not applicable"


def test_worst_examples_rank_by_violation():
    pairs = _pairs("technical_quality", [(4, 3), (4, 4), (3, 5), (0, 2), (2, 3)])
    worst = worst_examples(pairs, DROP, ["technical_quality"])
    assert [e.clip for e in worst] == ["clip2", "clip4", "clip1"]  # +2, +1, 0 (a floor clip cannot drop)
    assert worst[0].deltas == {"technical_quality": 2.0}


def test_summary_lists_other_aspects_and_thresholds():
    pairs = [Pair(f"c{i}", "black", {"technical_quality": 4, "dynamic": 3}, {"technical_quality": 1, "dynamic": 0})
             for i in range(5)]
    s = summarise_check("black", "black frames", DROP, pairs, judged=["technical_quality", "dynamic"])
    assert s.verdict == "pass" and s.other_mean_delta == {"dynamic": -3.0}
    assert s.threshold == {"min_share": 0.8, "min_ci_low": 0.5, "ci_level": 0.95}
    assert overall([s])["counts"] == {"pass": 1}


def test_judged_aspects_declared_or_inferred():
    assert judged_aspects(["dynamic", "technical_quality"], [])[0] == ["technical_quality", "dynamic"]
    aspects, source = judged_aspects(None, [{"technical_quality": 3, "physics": None}, {"physics": None, "overall": 2}])
    assert aspects == ["technical_quality", "overall"] and "inferred" in source
