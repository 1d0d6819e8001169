"""Pixel-statistics measurements behind the ``signals`` backend (no model weights).

- ``quality``: no-reference image statistics per frame (blur, noise, blocking, exposure, colour).
- ``motion``: optical flow, camera/object split, warping error, flicker.
- ``measures``: frames -> the flat dict of raw measurements, with units.
- ``calibration``: the one table mapping measurements to 0-5, its isotonic fit to human scores, JSON I/O.
- ``comments``: comments quoting the numbers.
- ``fitting``: calibrate from a signals results JSONL + a human-score file.
"""

from aigve.signals.calibration import Calibration, Curve, default_calibration, fit_calibration
from aigve.signals.measures import UNITS, measure_frames, measure_video

__all__ = ["Calibration", "Curve", "UNITS", "default_calibration", "fit_calibration", "measure_frames", "measure_video"]
