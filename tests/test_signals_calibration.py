"""Threshold table, isotonic fit, JSON save/load (aigve.signals.calibration)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aigve.errors import ConfigError, InputError
from aigve.signals.calibration import (
    DEFAULT_CURVES,
    AspectRule,
    Calibration,
    Curve,
    combine,
    default_calibration,
    fit_calibration,
    fit_curve,
)


def _measurements(**overrides):
    """A full measurement dict at 'good' values, with overrides."""
    base = {"edge_width": 2.0, "noise_sigma": 0.5, "blockiness": 1.0, "exposure_deviation": 40.0,
            "clipped_fraction": 0.0, "contrast_rms": 40.0, "flow_pct_diag_s": 20.0, "object_p98_pct_diag_s": 60.0,
            "warp_error": 1.0, "warp_error_max": 2.0, "flicker": 0.1, "flicker_max": 0.5}
    base.update(overrides)
    return base


def test_curve_interpolates_and_clamps():
    c = Curve((0.5, 1.0, 2.5), (0.0, 1.0, 2.0))
    assert c(0.75) == pytest.approx(0.5)
    assert c(1.75) == pytest.approx(1.5)
    assert c(-3) == 0.0 and c(100) == 2.0
    assert c.increasing and not Curve((1.0, 2.0), (5.0, 0.0)).increasing


@pytest.mark.parametrize("x,y", [((1.0, 0.5), (0.0, 1.0)), ((0.0, 1.0), (0.0, 6.0)), ((0.0, 1.0, 2.0), (0.0, 3.0, 1.0)),
                                 ((), ()), ((0.0, float("nan")), (0.0, 1.0))])
def test_curve_rejects_bad_knots(x, y):
    with pytest.raises(ConfigError):
        Curve(x, y)


def test_combine_hand_values():
    assert combine([5.0, 1.0], "softmin") == pytest.approx(2.0)  # (min 1 + mean 3) / 2
    assert combine([5.0, 1.0], "max") == 5.0 and combine([5.0, 1.0], "min") == 1.0
    assert combine([5.0, 1.0, 3.0], "mean") == pytest.approx(3.0)
    with pytest.raises(ConfigError):
        AspectRule(("flicker",), "median")


def test_default_table_is_the_only_source_and_directions_are_right():
    cal = default_calibration()
    assert set(cal.curves) == set(DEFAULT_CURVES)
    for name in ("edge_width", "noise_sigma", "blockiness", "warp_error", "flicker", "clipped_fraction"):
        assert not cal.curves[name].increasing, name  # more of it is worse
    for name in ("flow_pct_diag_s", "object_p98_pct_diag_s", "contrast_rms"):
        assert cal.curves[name].increasing, name


def test_score_good_bad_and_missing():
    cal = default_calibration()
    good, _ = cal.score(_measurements())
    assert good["technical_quality"] == good["consistency"] == good["dynamic"] == good["overall"] == 5.0
    bad, subs = cal.score(_measurements(noise_sigma=25.0))
    assert subs["noise_sigma"] == 0.0
    assert bad["technical_quality"] == pytest.approx(0.5 * (0 + 25 / 6))  # softmin of five 5s and one 0
    partial, _ = cal.score({"edge_width": 2.0, "flicker": None, "warp_error": float("nan")})
    assert partial["technical_quality"] == 5.0
    assert partial["dynamic"] is None and partial["consistency"] is None
    assert partial["overall"] == 5.0  # weighted mean of what was measured only
    empty, _ = cal.score({})
    assert all(v is None for v in empty.values())


def test_overall_weights_measured_aspects_only():
    cal = default_calibration()
    assert cal.overall_raw({"technical_quality": 4.0, "consistency": 2.0, "dynamic": None}) == pytest.approx(3.0)
    assert cal.overall_raw({"technical_quality": 4.0, "consistency": 2.0, "dynamic": 0.0}) == pytest.approx(2.4)


def test_save_load_round_trip(tmp_path):
    cal = default_calibration()
    path = cal.save(tmp_path / "sub" / "cal.json")
    loaded = Calibration.load(path)
    assert loaded == cal and loaded.fingerprint() == cal.fingerprint()
    data = json.loads(path.read_text())
    assert data["format"] == "aigve-signals-calibration" and data["curves"]["flicker"]["y"][0] == 5.0


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(InputError, match="not found") as info:
        Calibration.load(tmp_path / "missing.json")
    assert "aigve calibrate RESULTS HUMAN --out FILE" in str(info.value)  # the CLI user's fix, not only Python's
    assert "fit_calibration" in str(info.value)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="bad.json.*JSON"):
        Calibration.load(bad)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(InputError, match="wrong.json.*format"):
        Calibration.load(wrong)
    data = default_calibration().to_dict()
    data["aspects"]["dynamic"]["measures"] = ["no_such_measure"]
    wrong.write_text(json.dumps(data))
    with pytest.raises(InputError, match="no_such_measure"):
        Calibration.load(wrong)


def test_fit_curve_is_monotone_in_the_given_direction():
    x = [1.0, 2.0, 3.0, 4.0, 5.0]
    curve = fit_curve(x, [5, 5, 3, 4, 1], increasing=False)
    assert all(b <= a for a, b in zip(curve.y, curve.y[1:], strict=False))
    assert curve(1.0) == 5.0 and curve(5.0) == 1.0 and curve(3.5) == pytest.approx(3.5)  # 3,4 pooled


def test_fit_calibration_learns_a_monotone_map_and_improves_agreement():
    rng = np.random.default_rng(0)
    flows = rng.uniform(0.0, 4.0, 60)
    # Humans here call 0-4 %diag/s anything from 0 to 5: far more generous than the defaults.
    human = [{"dynamic_degree": int(round(min(5.0, f * 1.25 + rng.normal(0, 0.3))))} for f in flows]
    meas = [_measurements(flow_pct_diag_s=float(f), object_p98_pct_diag_s=float(2 * f)) for f in flows]
    fitted = fit_calibration(meas, human, min_samples=8)
    stats = fitted.fit_stats["dynamic"]
    assert stats["fitted"] and stats["n"] == 60
    assert stats["after"]["mae"] < stats["before"]["mae"]
    assert fitted.aspects["dynamic"].output.increasing
    assert fitted.curves["flow_pct_diag_s"].increasing
    scores = [fitted.score(m)[0]["dynamic"] for m in meas]
    order = np.argsort(flows)
    assert np.all(np.diff(np.asarray(scores)[order]) >= -1e-9)  # still monotone in the measurement
    # Aspects without human scores keep the default thresholds.
    assert fitted.curves["noise_sigma"] == default_calibration().curves["noise_sigma"]
    assert fitted.fit_stats["technical_quality"]["fitted"] is False


def test_fit_calibration_overall_and_output_only(tmp_path):
    rng = np.random.default_rng(1)
    noise = rng.uniform(0, 25, 40)
    meas = [_measurements(noise_sigma=float(n)) for n in noise]
    human = [{"Technical quality": 1 if n > 12 else 4, "overall": 2 if n > 12 else 4} for n in noise]
    fitted = fit_calibration(meas, human, fit_curves=False, source="unit test")
    assert fitted.curves == default_calibration().curves  # only output maps were fitted
    assert fitted.fit_stats["technical_quality"]["after"]["mae"] <= fitted.fit_stats["technical_quality"]["before"]["mae"]
    assert fitted.fit_stats["overall"]["fitted"]
    assert fitted.score(_measurements(noise_sigma=20.0))[0]["overall"] < fitted.score(_measurements())[0]["overall"]
    again = Calibration.load(fitted.save(tmp_path / "fit.json"))
    assert again == fitted and again.source == "unit test"


def test_fit_calibration_checks_lengths():
    with pytest.raises(ConfigError, match="human"):
        fit_calibration([_measurements()], [])


def test_calibrate_from_files_matches_results_and_annotations(tmp_path):
    from aigve.signals.fitting import calibrate_from_files, paired_measurements

    rng = np.random.default_rng(2)
    results, human = [], []
    for i, flow in enumerate(rng.uniform(0, 10, 12)):
        m = _measurements(flow_pct_diag_s=float(flow), object_p98_pct_diag_s=float(flow))
        results.append({"id": f"clip_{i}", "video": f"/data/clip_{i}.mp4", "error": None, "extra": {"measurements": m}})
        human.append({"video": f"clip_{i}.mp4", "dynamic": int(flow // 2)})
    results.append({"id": "broken", "video": "/data/broken.mp4", "error": {"type": "X"}, "extra": {}})
    human.append({"video": "broken.mp4", "dynamic": 3})  # failed result: not used
    human.append({"video": "unknown.mp4", "dynamic": 3})  # never scored: not used
    res_path = tmp_path / "run.jsonl"
    res_path.write_text("".join(json.dumps(r) + "\n" for r in results))
    ann_path = tmp_path / "human.json"
    ann_path.write_text(json.dumps(human))
    meas, scores, ids = paired_measurements(res_path, ann_path)
    assert ids == [f"clip_{i}" for i in range(12)] and scores[3]["dynamic"] == human[3]["dynamic"]
    cal = calibrate_from_files(res_path, ann_path, tmp_path / "cal.json")
    assert Calibration.load(tmp_path / "cal.json") == cal
    assert cal.fit_stats["dynamic"]["n"] == 12 and "human.json" in cal.source
    with pytest.raises(InputError, match="no video matches"):
        paired_measurements(res_path, _write(tmp_path / "other.json", [{"video": "zzz.mp4", "dynamic": 1}]))


def _write(path, data):
    path.write_text(json.dumps(data))
    return path
