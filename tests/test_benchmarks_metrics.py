"""Benchmark metrics against hand-computed values (aigve.benchmarks.metrics)."""

from __future__ import annotations

import pytest

from aigve.benchmarks import metrics as X


def test_exact_and_within_one_accuracy_on_the_scale():
    human = [1, 3, 5, 2]
    model = [0.4, 3.5, 5, 4]  # on [1, 5]: 1 (clamped from 0), 4 (3.5 to even), 5, 4
    assert X.exact_accuracy(human, model, 1, 5) == pytest.approx(2 / 4)  # items 1 and 3
    assert X.within_one_accuracy(human, model, 1, 5) == pytest.approx(3 / 4)  # |4-2| = 2 is out
    assert X.exact_accuracy([], [], 1, 5) is None


def test_accuracy_rounds_as_the_videoscore2_harness_does_half_to_even():
    # the harness: min(5, max(1, round(x))) with Python's round: 2.5 -> 2, 3.5 -> 4, 4.5 -> 4
    assert list(X.on_scale([2.5, 3.5, 4.5, 5.5, 0.5], 1, 5)) == [2, 4, 4, 5, 1]
    assert X.exact_accuracy([3, 4, 5], [2.5, 3.5, 4.5], 1, 5) == pytest.approx(1 / 3)  # only 3.5 -> 4 matches


def test_round_half_up():
    assert [X.round_half_up(x) for x in (4.5, 2.5, 4.49, 0.0)] == [5, 3, 4, 0]


def test_plcc_srcc_hand_values():
    # h = [1, 2, 3], m = [1, 3, 2]: ranks differ by (0, 1, -1): rho = 1 - 6*2/(3*8) = 0.5; Pearson also 0.5
    assert X.srcc([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    assert X.plcc([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    assert X.plcc([1, 1, 1], [1, 2, 3]) is None  # constant: undefined, never 0


def test_pairwise_with_and_without_ties_from_score_differences():
    human = [1, -1, 0, 1, 0]
    delta = [2.0, 1.0, 0.0, 0.0, 3.0]
    # without ties: humans' non-ties are pairs 1, 2, 4: 1 right, 2 wrong, 4 a model tie (wrong) -> 1/3
    assert X.pairwise_without_ties(human, delta) == pytest.approx(1 / 3)
    # with ties, eps = 0: correct = pair 1 + pair 3 (both tie) = 2/5; eps = 1: pairs 1, 3 -> 2/5 (pair 2 now a
    # model tie, human not); eps = 2: pair 3 only... so the best is 2/5 at the smallest eps, 0
    assert X.pairwise_with_ties(human, delta) == pytest.approx(2 / 5)


def test_pairwise_accuracy_from_a_pairwise_judges_labels():
    human = [1, -1, 0, 1]
    labels = [1, 1, 0, 0]  # right, wrong, right (same), wrong
    assert X.pairwise_with_ties(human, labels, labels=True) == pytest.approx(2 / 4)
    assert X.pairwise_without_ties(human, labels) == pytest.approx(1 / 3)  # pairs 1, 2, 4: only 1 right


def test_joint_accuracy():
    # human joint: T, F, F ; model joint (rounded): 4,4 -> T ; 3.6->4, 4 -> T ; 2, 5 -> F
    assert X.joint_accuracy([4, 5, 3], [5, 3, 5], [4, 3.6, 2], [4, 4, 5]) == pytest.approx(2 / 3)


def test_pairwise_with_ties_at_a_fixed_judge_margin():
    human = [1, -1, 0, 0, 1]
    delta = [0.6, -0.4, 0.5, 2.0, 0.0]
    # margin 0.5: predictions A, same, same, A, same -> right, wrong, right, wrong, wrong = 2/5
    assert X.pairwise_fixed_tie(human, delta, 0.5) == pytest.approx(2 / 5)
    # margin 0 (AIGVE-MACS in the VideoScore2 harness): A, B, A, A, same -> right, right, wrong, wrong, wrong
    assert X.pairwise_fixed_tie(human, delta, 0.0) == pytest.approx(2 / 5)


def test_aigve_bench_physics_buckets():
    assert X.bucket_135([0, 1, 2, 3, 4, 5]).tolist() == [1, 1, 1, 3, 3, 5]


def test_mappings_as_data():
    from aigve.benchmarks.mapping import judge_value, mapping_for

    name, vs2 = mapping_for({"backend": {"profile": "videoscore2"}})  # no soft scores: the integer answer
    assert name == "videoscore2-int" and vs2["tie_threshold"] == 0.5
    soft = {"backend": {"profile": "videoscore2"}, "expected_scores": {"visual_quality": 2.4}}
    name, entry = mapping_for(soft)
    assert name == "videoscore2" and entry["tie_threshold"] == 0.001 and entry["score_field"] == "expected_scores"
    assert judge_value({**soft, "expected_scores": {"visual_quality": 2.4}}, "visual_quality", entry) == 2.4
    rec = {"scores": {"visual_quality": 4, "text_alignment": 3, "physical_consistency": 2}}
    assert judge_value(rec, "overall", vs2) == 9  # v + t + p, as the VideoScore2 harness adds them
    assert mapping_for({"backend": {"profile": "macs-card"}})[0] == "aigve-macs"
    _, strict = mapping_for(None, "aigve-macs-vs2")
    macs = {"scores": {"technical_quality": 4, "physics": 2, "element_presence": 5, "action_presence": 3}}
    assert judge_value(macs, "visual_quality", strict) == 4 and judge_value(macs, "text_alignment", strict) is None
    _, default = mapping_for(None)
    assert judge_value(macs, "text_alignment", default) == 4  # aigve's choice: mean of the two presences
    from aigve.errors import ConfigError

    with pytest.raises(ConfigError, match="aigve-macs"):
        mapping_for(None, "aigve-mac")
