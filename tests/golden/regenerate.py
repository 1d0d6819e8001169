"""Rewrite the committed golden files on purpose: ``python tests/golden/regenerate.py``.

Review the diff before committing it: a changed line is a changed score. Reads the clips in data/clips and the
149 judge outputs in data/reference (the copies the repository carries).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from golden import GOLDEN, report_metrics_text, signals_lines, tiny_lines  # noqa: E402


def main() -> int:
    data = Path(__file__).resolve().parents[2] / "data"
    clips, outputs = data / "clips", data / "reference" / "aigve_macs_outputs_sample.jsonl"
    (GOLDEN / "signals_results.jsonl").write_text("".join(signals_lines(clips)), encoding="utf-8")
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        text = report_metrics_text(outputs, Path(tmp) / "r")
        from aigve.testing.tiny import build_tiny_checkpoint

        judge = build_tiny_checkpoint(Path(tmp) / "tiny-judge", teach=True)  # deterministic on CPU (~60 s)
        (GOLDEN / "tiny_judge_results.jsonl").write_text("".join(tiny_lines(clips, judge)),
                                                         encoding="utf-8")
    (GOLDEN / "metrics_aigve_bench.json").write_text(text, encoding="utf-8")
    print(f"wrote {GOLDEN / 'signals_results.jsonl'} and {GOLDEN / 'metrics_aigve_bench.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
