"""Rewrite the committed golden files on purpose: ``python tests/golden/regenerate.py [SHARED_DIR]``.

Review the diff before committing it: a changed line is a changed score. SHARED_DIR defaults to $AIGVE_SHARED
(the folder holding videos/ with the LaVie clips).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from golden import GOLDEN, report_metrics_text, signals_lines, tiny_lines  # noqa: E402


def main() -> int:
    shared = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AIGVE_SHARED", "../shared"))
    (GOLDEN / "signals_results.jsonl").write_text("".join(signals_lines(shared / "videos")), encoding="utf-8")
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        text = report_metrics_text(shared / "data" / "aigve_macs_outputs_sample.jsonl", Path(tmp) / "r")
        from aigve.testing.tiny import build_tiny_checkpoint

        judge = build_tiny_checkpoint(Path(tmp) / "tiny-judge", teach=True)  # deterministic on CPU (~60 s)
        (GOLDEN / "tiny_judge_results.jsonl").write_text("".join(tiny_lines(shared / "videos", judge)),
                                                         encoding="utf-8")
    (GOLDEN / "metrics_aigve_bench.json").write_text(text, encoding="utf-8")
    print(f"wrote {GOLDEN / 'signals_results.jsonl'} and {GOLDEN / 'metrics_aigve_bench.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
