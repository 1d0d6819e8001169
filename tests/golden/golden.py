"""The golden regression tier: results of fixed inputs, normalised so only what decides a score remains.

``normalise(record)`` drops what changes run to run or machine to machine (timings, timestamps, absolute paths,
library versions) and rounds floats to 6 digits, so the committed files compare byte for byte. Regenerate on
purpose with ``python tests/golden/regenerate.py`` (then review the diff: every changed number is a changed
score).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).resolve().parent
CLIPS = ("lavie_beach_00.mp4", "lavie_beach_01.mp4", "lavie_beach_02.mp4")
VOLATILE = {"timings", "created", "timestamp", "started_at", "finished_at", "elapsed_s", "transformers", "opencv", "torch",
            "numpy", "versions", "version", "aigve_version", "host", "git_commit", "run_id"}


def _clean(value: Any, digits: int = 6) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v, digits) for k, v in sorted(value.items()) if k not in VOLATILE and not k.endswith("_s")}
    if isinstance(value, list):
        return [_clean(v, digits) for v in value]
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, str) and "\n" not in value and len(value) < 4096 and Path(value).is_absolute():
        return Path(value).name  # where the file lay is not part of the result
    return value


def normalise(record: dict[str, Any], digits: int = 6) -> dict[str, Any]:
    return _clean(record, digits)


def signals_lines(videos: Path) -> list[str]:
    """The normalised results.jsonl lines of the signals backend on :data:`CLIPS`."""
    from aigve.evaluator import load_evaluator

    evaluator = load_evaluator("signals", workers="thread", prefetch=0)
    results = [evaluator.evaluate(str(videos / clip), prompt="") for clip in CLIPS]
    return [json.dumps(normalise(r.to_record()), sort_keys=True, ensure_ascii=False) + "\n" for r in results]


def report_metrics_text(outputs: Path, out: Path) -> str:
    """The normalised metrics.json of eval/report_aigve_bench.py over the 149 released outputs (200 resamples)."""
    import contextlib
    import importlib.util
    import io

    script = GOLDEN.parents[1] / "eval" / "report_aigve_bench.py"
    spec = importlib.util.spec_from_file_location("report_aigve_bench_golden", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with contextlib.redirect_stdout(io.StringIO()):
        code = module.main(["--outputs", str(outputs), "--out", str(out), "--bootstrap", "200", "--seed", "0",
                            "--no-embeddings"])
    assert code == 0, code
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    metrics.pop("plots", None)  # file names of images that a later run may lay out differently
    return json.dumps(normalise(metrics), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def tiny_lines(videos: Path, model: Path) -> list[str]:
    """The normalised results.jsonl lines of the taught tiny judge (``build_tiny_checkpoint(DIR, teach=True)``,
    deterministic on CPU) on :data:`CLIPS`."""
    from aigve.evaluator import load_evaluator

    evaluator = load_evaluator("macs", model=str(model), device="cpu", dtype="float32", workers="thread", prefetch=0)
    lines = []
    for clip in CLIPS:
        record = evaluator.evaluate(str(videos / clip), prompt="a beach").to_record()
        record["backend"]["model"] = "TINY_JUDGE"  # the folder's name is the test's choice
        # 4 digits: float32 matmuls may differ in the last bits between CPUs (the scores themselves do not)
        lines.append(json.dumps(normalise(record, digits=4), sort_keys=True, ensure_ascii=False) + "\n")
    return lines
