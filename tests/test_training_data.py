"""Training data: AIGVE-Bench files -> examples, prompt-hash splits, bad-entry handling, jittered dataset."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from aigve.aspects import ASPECTS
from aigve.config import SamplingConfig
from aigve.errors import InputError
from aigve.training.data import (
    VideoExampleDataset,
    assign_splits,
    load_examples,
    normalise_prompt,
    split_manifest,
    split_of,
)

TINY_SAMPLING = {"fps": 2.0, "min_frames": 2, "max_frames": 4, "min_pixels": 784, "max_pixels": 3136}


def write_bench(root: Path, *, n: int = 6, per_prompt: int = 2, comments: bool = False, seed: int = 0,
                frames: int = 8) -> Path:
    """AIGVE-Bench v1-style JSON (v2 comments with ``comments=True``) + small mp4s in ``root/videos``."""
    from aigve.testing.videos import make_clip, write_video

    rng = random.Random(seed)
    videos = root / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    data = []
    for i in range(n):
        name = f"gen{i % per_prompt}_{i}.mp4"
        write_video(videos / name, make_clip("moving", num_frames=frames, size=(56, 56), seed=seed + i), fps=4.0)
        entry = {"id": f"vid{i}", "prompt_gt": f"A red car number {i // per_prompt} drives at night",
                 "video_path_pd": name, "model": f"gen{i % per_prompt}"}
        for a in ASPECTS:
            entry[a.released_key] = rng.randint(0, 5)
            if comments:
                entry[f"{a.released_key}_comment"] = f"Comment on {a.label.lower()} for video {i}."
        data.append(entry)
    path = root / "aigve_bench.json"
    path.write_text(json.dumps({"metainfo": {"name": "test"}, "data_list": data}))
    return path


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    return write_bench(tmp_path, n=4)


def test_v1_layout_loads_with_targets_holding_scores_only(bench):
    loaded = load_examples(bench, video_dir=bench.parent / "videos")
    assert len(loaded.examples) == 4 and not loaded.skipped
    ex = loaded.examples[0]
    assert Path(ex.video).is_file() and ex.prompt.startswith("A red car")
    target = json.loads(ex.target())
    assert list(target) == [a.released_key for a in ASPECTS]
    assert all(set(v) == {"score"} for v in target.values())
    assert {a.key: target[a.released_key]["score"] for a in ASPECTS} == ex.scores


def test_v2_comments_come_before_scores(tmp_path):
    path = write_bench(tmp_path, n=2, comments=True)
    ex = load_examples(path, video_dir=tmp_path / "videos").examples[1]
    text = ex.target()
    entry = json.loads(text)["technical_quality"]
    assert entry == {"comment": "Comment on technical quality for video 1.", "score": ex.scores["technical_quality"]}
    assert text.index('"comment"') < text.index('"score"')
    canonical = json.loads(ex.target(released_keys=False))
    assert "element_presence" in canonical and "element_presentence" not in canonical


def test_video_named_without_extension_is_found_in_the_video_dir(tmp_path):
    path = write_bench(tmp_path, n=2)
    data = json.loads(path.read_text())
    data["data_list"][0]["video_path_pd"] = "gen0_0"  # AIGVE-Bench style "<generator>_<index>"
    path.write_text(json.dumps(data))
    ex = load_examples(path, video_dir=tmp_path / "videos").examples[0]
    assert ex.video == str(tmp_path / "videos" / "gen0_0.mp4")


def test_averaged_scores_round_half_up(tmp_path):
    from aigve.testing.videos import make_clip, write_video

    write_video(tmp_path / "a.mp4", make_clip("static", num_frames=4, size=(56, 56)), fps=4.0)
    row = {"video": "a.mp4", "prompt": "p", **{a.key: 2.5 for a in ASPECTS}}
    (tmp_path / "m.jsonl").write_text(json.dumps(row) + "\n")
    ex = load_examples(tmp_path / "m.jsonl").examples[0]
    assert set(ex.scores.values()) == {3}


def test_missing_video_error_names_the_entry(bench):
    (bench.parent / "videos" / "gen1_1.mp4").unlink()
    with pytest.raises(InputError) as info:
        load_examples(bench, video_dir=bench.parent / "videos")
    assert "'vid1'" in str(info.value) and "video not found" in str(info.value) and "`skip_bad`" in str(info.value)
    assert info.value.row == 2
    with pytest.raises(InputError, match="set `video_dir=.*videos"):
        load_examples(bench)  # videos sit in a folder next to the JSON


def test_skip_bad_counts_every_kind_of_bad_entry(tmp_path):
    path = write_bench(tmp_path, n=6)
    data = json.loads(path.read_text())
    rows = data["data_list"]
    (tmp_path / "videos" / rows[0]["video_path_pd"]).unlink()          # missing video
    del rows[1]["prompt_gt"]                                            # missing prompt
    rows[2]["physics"] = "high"                                         # unparseable score
    del rows[3]["overall"]                                              # missing aspect
    (tmp_path / "videos" / rows[4]["video_path_pd"]).write_text("not a video")  # undecodable
    path.write_text(json.dumps(data))
    loaded = load_examples(path, video_dir=tmp_path / "videos", skip_bad=True)
    assert [e.id for e in loaded.examples] == ["vid5"]
    reasons = {s.id: s.reason for s in loaded.skipped}
    assert len(loaded.skipped) == 5
    assert "video not found" in reasons["vid0"] and "prompt" in reasons["vid1"]
    assert "physics" in reasons["vid2"] and "overall" in reasons["vid3"] and "cannot be opened" in reasons["vid4"]
    with pytest.raises(InputError, match="physics"):
        load_examples(path, video_dir=tmp_path / "videos")
    partial = load_examples(path, video_dir=tmp_path / "videos", skip_bad=True, require_all_aspects=False)
    assert "vid3" in [e.id for e in partial.examples]
    assert "overall" not in json.loads(next(e for e in partial.examples if e.id == "vid3").target())


def test_split_is_deterministic_and_by_normalised_prompt():
    kw = {"val_fraction": 0.1, "test_fraction": 0.1}
    prompts = [f"prompt {i} about a cat" for i in range(2000)]
    splits = [split_of(p, **kw) for p in prompts]
    assert splits == [split_of(p, **kw) for p in prompts]
    share = {s: splits.count(s) / len(splits) for s in ("train", "val", "test")}
    assert 0.07 < share["val"] < 0.13 and 0.07 < share["test"] < 0.13
    assert split_of("  A CAT  runs.", **kw) == split_of("a cat runs", **kw)
    assert normalise_prompt("  A CAT\n runs. ") == "a cat runs"
    assert [split_of(p, **kw, salt="other") for p in prompts] != splits
    assert split_of("x", val_fraction=0.0, test_fraction=0.0) == "train"


def test_videos_of_one_prompt_never_straddle_splits(tmp_path):
    path = write_bench(tmp_path, n=12, per_prompt=3)
    examples = load_examples(path, video_dir=tmp_path / "videos", probe_videos=False).examples
    groups = assign_splits(examples, val_fraction=0.3, test_fraction=0.3)
    by_prompt: dict[str, set[str]] = {}
    for ex in examples:
        by_prompt.setdefault(ex.prompt, set()).add(ex.split)
    assert all(len(s) == 1 for s in by_prompt.values())
    manifest = split_manifest(groups, salt="aigve-v1")
    assert sum(manifest[s]["count"] for s in ("train", "val", "test")) == 12
    again = split_manifest(assign_splits(list(reversed(examples)), val_fraction=0.3, test_fraction=0.3), salt="aigve-v1")
    assert all(manifest[s]["sha256"] == again[s]["sha256"] for s in ("train", "val", "test"))


def test_dataset_jitter_is_seeded_per_example_and_epoch(tmp_path):
    path = write_bench(tmp_path, n=2, frames=48)
    examples = load_examples(path, video_dir=tmp_path / "videos").examples
    cfg = SamplingConfig.from_dict({**TINY_SAMPLING, "fps": 1.0, "min_frames": 4, "max_frames": 4, "jitter": 0.9})
    ds = VideoExampleDataset(examples, cfg)

    def indices(i: int) -> tuple[int, ...]:
        return ds[i]["video"].plan.indices

    first = [indices(i) for i in range(2)]
    assert first == [indices(i) for i in range(2)]  # reproducible
    ds.set_epoch(1)
    assert [indices(i) for i in range(2)] != first   # new frames each epoch
    item = ds[0]
    assert item["video"].frames.dtype == np.uint8 and item["answer"] == examples[0].target()
    plain = VideoExampleDataset(examples, SamplingConfig.from_dict({**TINY_SAMPLING, "fps": 1.0, "min_frames": 4,
                                                                    "max_frames": 4}))
    assert plain[0]["video"].plan.indices == plain[0]["video"].plan.indices


def test_csv_and_jsonl_manifests(tmp_path):
    from aigve.testing.videos import make_clip, write_video

    write_video(tmp_path / "a.mp4", make_clip("static", num_frames=4, size=(56, 56)), fps=4.0)
    header = "video,prompt," + ",".join(a.key for a in ASPECTS) + ",overall_comment"
    (tmp_path / "m.csv").write_text(header + "\na.mp4,a cat," + ",".join("3" for _ in ASPECTS) + ",Fine.\n")
    ex = load_examples(tmp_path / "m.csv").examples[0]
    assert ex.scores == {a.key: 3 for a in ASPECTS} and ex.comments == {"overall": "Fine."}
    target = json.loads(ex.target())
    assert target["overall"] == {"comment": "Fine.", "score": 3} and target["physics"] == {"score": 3}


def test_bad_score_error_suggests_skip_bad(tmp_path):
    import json

    import pytest

    from aigve.errors import InputError
    from aigve.training.data import load_examples

    data = tmp_path / "bench.json"
    data.write_text(json.dumps({"data_list": [{"id": 1, "prompt_gt": "p", "video_path_pd": "a.mp4", "physics": "high"}]}))
    with pytest.raises(InputError) as err:
        load_examples(data)
    assert "bench.json, row 1" in str(err.value) and "`skip_bad`" in str(err.value)
