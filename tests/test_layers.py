"""The import graph of the package points down: core <- media <- judges <- rooms <- doors (issue 14).

Every ``import``/``from ... import`` of an ``aigve`` module anywhere in a module (module level or inside a
function: a lazy import is still a dependency) is checked against the layer table below; rooms do not import
each other sideways except the listed, justified edges; nothing outside the doors and aigve/testing imports
aigve.testing. The table is the one in README "Package map"; keep both true.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "aigve"

#: layer of each top-level name under aigve/ (a package or a module); lower number = lower layer
LAYERS: dict[str, int] = {
    # core: plain data, errors, validation, statistics, provenance, parsing of answers
    "core": 0, "aspects": 0, "errors": 0, "registry": 0, "config": 0, "lenient_json": 0, "parsing": 0,
    "parsing_text": 0, "results": 0, "annotations": 0, "__init__": 0,
    # media: decoding and frame sampling
    "video": 1, "sampling": 1, "media": 1, "video_writer": 1, "items": 1,
    # judges: backends, the judge prompt, the evaluator that drives a backend; signals measures pixels for
    # the signals backend (judges layer, not a room)
    "backends": 2, "prompt": 2, "evaluator": 2, "judges": 2, "signals": 2,
    # rooms: whole features built on judges
    "run": 3, "runner": 3, "sharding": 3, "report": 3, "training": 3, "refine": 3, "webui": 3, "serve": 3,
    "bench": 3, "sanity": 3, "benchmarks": 3,
    # doors: the CLI; testing: the offline test kit (may use anything, used only by doors and tests)
    "commands": 4, "cli": 4, "__main__": 4, "testing": 4,
    # the HTTP client of `aigve serve`: an entry point for other programs (httpx only, no torch)
    "client": 4,
}
ROOMS = {name for name, layer in LAYERS.items() if layer == 3}

#: (from room, to room) edges that are allowed, and why
SIDEWAYS = {
    ("webui", "report"): "the web UI's Report tab builds the same report as `aigve report`",
    ("webui", "sanity"): "the web UI's Sanity tab runs the same suite as `aigve sanity`",
    ("runner", "sharding"): "one scoring run: the batch loop picks its shard's items",
    ("sharding", "runner"): "a shard run is a scoring run",
    ("run", "runner"): "the run package and the batch loop are one room being redesigned (issue 14)",
    ("runner", "run"): "the run package and the batch loop are one room being redesigned (issue 14)",
    ("sharding", "run"): "as above",
    ("run", "sharding"): "as above",
    ("webui", "runner"): "the web UI's Batch tab runs a scoring run",
    ("webui", "run"): "the web UI's Batch tab runs a scoring run",
    ("serve", "run"): "the server runs scoring jobs",
    ("serve", "runner"): "the server runs scoring jobs",
    ("serve", "webui"): "the server reuses the web UI's request guards (webui.safety)",
    ("serve", "report"): "/v1/pairwise prefers A or B as `aigve pairwise` does (report.pairwise.preference)",
    ("bench", "runner"): "bench times the scoring paths",
    ("bench", "serve"): "bench --serve times the service next to in-process scoring",
    ("bench", "run"): "bench --serve builds its judge as `aigve score` does (ScoreJob, build_evaluator)",
    ("sanity", "runner"): "sanity checks score probe clips",
    ("sanity", "run"): "sanity checks score probe clips",
    ("sanity", "report"): "sanity checks read agreement statistics",
    ("benchmarks", "run"): "a benchmark run is a scoring run (the one batch loop, results.jsonl by id, resume)",
}
#: (from, to) upward edges still to be removed, with the reason they remain
KNOWN_UPWARD: dict[tuple[str, str], str] = {}  # none left: the random-architecture builder lives in testing/


def _top(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if parts[0] == "aigve" and len(parts) > 1 else ("__init__" if name == "aigve" else None)


def _edges():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        src = rel.parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [node.module]
            else:
                continue
            for target in targets:
                dst = _top(target)
                if dst is not None and dst != src:
                    yield str(rel), node.lineno, src, dst


def test_every_module_has_a_layer():
    names = {p.name.removesuffix(".py") for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").is_file()}
    assert not names - set(LAYERS), f"give these a layer here and in README: {sorted(names - set(LAYERS))}"


def test_no_import_goes_up_a_layer_or_sideways_between_rooms():
    bad = []
    for rel, line, src, dst in _edges():
        if (src, dst) in KNOWN_UPWARD:
            continue
        if LAYERS.get(dst, 0) > LAYERS.get(src, 0) and not (src == "testing" or LAYERS[src] == 4):
            bad.append(f"{rel}:{line}: {src} (layer {LAYERS[src]}) imports {dst} (layer {LAYERS[dst]})")
        elif src in ROOMS and dst in ROOMS and (src, dst) not in SIDEWAYS:
            bad.append(f"{rel}:{line}: room {src} imports room {dst} sideways")
    assert not bad, "\n".join(bad)


def test_only_doors_and_the_kit_import_the_testing_kit():
    users = {(src, rel) for rel, _, src, dst in _edges() if dst == "testing"}
    assert {src for src, _ in users} - {"commands", "cli", "testing"} <= {s for s, _ in KNOWN_UPWARD}, users
