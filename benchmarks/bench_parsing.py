"""Milliseconds per answer for aigve.parsing.parse_response on the released judge's real answers.

    .venv/bin/python benchmarks/bench_parsing.py [JSONL] [--repeats 5]

JSONL defaults to data/reference/aigve_macs_outputs_sample.jsonl ($AIGVE_SHARED/data/... when AIGVE_SHARED is set):
149 raw outputs of the released AIGVE-MACS judge. Each answer is parsed in five variants:

- clean: the raw output (strict JSON; the normal case);
- fenced: wrapped in a ```json fence;
- python_repr: ``repr()`` of the decoded dict (single quotes, as a model imitating Python writes it);
- truncated: the first 60% of the characters (as when max_new_tokens cuts the answer);
- trailing_comma: a comma added before every closing brace or bracket.

Prints, per variant, the median over the repeats of (total time / answers) after one warm-up pass (the aspect
and field-name lookups are cached, as they are in a long-running service), plus the mean number of scores found
per answer, how many answers' found scores equal those parsed from the clean variant, and the most common
repair flags, so a speed-up that breaks parsing shows up here too.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from aigve.errors import ResponseParseError  # noqa: E402
from aigve.parsing import parse_response  # noqa: E402

# A newline, indentation and a closing bracket: in json.dumps-style output a raw newline never occurs inside a
# string, so this only matches structure. The lookbehind skips empty containers and existing commas.
_CLOSING_LINE = re.compile(r"(?<=[^\s{\[,])(\n[ \t]*[}\]])")


def _trailing_commas(output: str) -> str:
    return _CLOSING_LINE.sub(r",\1", output)


VARIANTS: dict[str, Callable[[str], str]] = {
    "clean": lambda out: out,
    "fenced": lambda out: f"```json\n{out}\n```",
    "python_repr": lambda out: repr(json.loads(out)),
    "truncated": lambda out: out[: int(len(out) * 0.6)],
    "trailing_comma": _trailing_commas,
}


def _parse_all(texts: list[str], reference: list[dict] | None) -> tuple[float, int, Counter]:
    """(mean scores found per answer, answers whose found scores all equal ``reference``, flag counts with the
    per-aspect suffix removed). Without a reference every answer that parsed counts as agreeing."""
    found, agree, flags = 0, 0, Counter()
    for i, text in enumerate(texts):
        try:
            parsed = parse_response(text)
        except ResponseParseError:
            flags["<ResponseParseError>"] += 1
            continue
        given = {k: v for k, v in parsed.scores.items() if v is not None}
        found += len(given)
        agree += reference is None or all(reference[i][k] == v for k, v in given.items())
        flags.update({f.split(":")[0] for f in parsed.flags})
    return found / len(texts), agree, flags


def main(argv: list[str] | None = None) -> int:
    default = (Path(os.environ["AIGVE_SHARED"]) / "data" if os.environ.get("AIGVE_SHARED")
               else REPO / "data" / "reference") / "aigve_macs_outputs_sample.jsonl"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("jsonl", nargs="?", type=Path, default=default)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    if not args.jsonl.is_file():
        print(f"{args.jsonl} not found (pass the JSONL path)", file=sys.stderr)
        return 1
    lines = args.jsonl.read_text(encoding="utf-8").splitlines()
    outputs = [json.loads(line)["output"] for line in lines if line.strip()]
    print(f"{len(outputs)} answers from {args.jsonl}; median of {args.repeats} runs after a warm-up")
    reference = [parse_response(out).scores for out in outputs]
    for name, make in VARIANTS.items():
        texts = [make(out) for out in outputs]
        chars = sum(map(len, texts)) / len(texts)
        found, agree, flags = _parse_all(texts, reference)  # warm-up, and the correctness summary
        per_answer = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            for text in texts:
                try:
                    parse_response(text)
                except ResponseParseError:
                    pass
            per_answer.append((time.perf_counter() - start) / len(texts) * 1000)
        common = ", ".join(f"{f} x{n}" for f, n in flags.most_common(4)) or "none"
        print(f"{name:15s} {statistics.median(per_answer):7.3f} ms/answer (min {min(per_answer):.3f})  "
              f"{chars:5.0f} chars  {found:.2f}/9 scores, {agree}/{len(texts)} equal to clean  flags: {common}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
