"""Public judge benchmarks with their official metrics (``aigve benchmark``): loaders that read each dataset as
published (:mod:`aigve.benchmarks.loaders`), the judge -> benchmark dimension mapping as data
(:mod:`aigve.benchmarks.mapping`, ``data/mappings.json``), metrics as pure functions
(:mod:`aigve.benchmarks.metrics`), a run that is a scoring run (:mod:`aigve.benchmarks.run`) and the side-by-side
table with bootstrap CIs (:mod:`aigve.benchmarks.table`)."""

from __future__ import annotations

from aigve.registry import Registry

BENCHMARKS = Registry("benchmark")
for _name, _fn in (("videogen-rewardbench", "videogen_rewardbench"), ("videoscore-bench-v2", "videoscore_bench_v2"),
                   ("genai-bench-video", "genai_bench_video"), ("t2vqa-db", "t2vqa_db"),
                   ("videophy2-test", "videophy2_test"), ("aigve-bench", "aigve_bench")):
    BENCHMARKS.register(_name, f"aigve.benchmarks.loaders:{_fn}")
