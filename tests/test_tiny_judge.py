"""The taught tiny checkpoint runs ``aigve score`` end to end: real generated text, parsed, recorded.

The tiny judge answers every video with the same memorised JSON (comments 'not a judge'); these tests check
the plumbing around real generated text (parsing, digit-logit expected scores, sampling records, EOS stop,
error records, provenance), never the scores' meaning.
"""

from __future__ import annotations

import csv
import json

import pytest

from aigve.aspects import ASPECT_KEYS
from aigve.results import iter_records
from aigve.testing.teach import TAUGHT_COMMENT, taught_answer
from aigve.testing.tiny import MARKER


def _score(args: list[str]) -> int:
    from aigve.cli import main

    return main(["score", *args, "--no-progress"])


def _check_ok_record(record: dict) -> None:
    assert record["status"] == "ok", record.get("error")
    assert record["error"] is None
    assert set(record["scores"]) == set(ASPECT_KEYS)
    for key in ASPECT_KEYS:
        score = record["scores"][key]
        assert isinstance(score, int) and not isinstance(score, bool) and 0 <= score <= 5, (key, score)
        assert record["comments"][key] == TAUGHT_COMMENT
        expected = record["expected_scores"][key]  # read from the logits at the generated score digit
        assert isinstance(expected, float) and 0.0 <= expected <= 5.0, (key, expected)
        assert 0.0 < record["confidence"][key] <= 1.0
    assert record["extra"]["stopped"] == "eos"  # the answer ended by itself, long before max_new_tokens
    assert record["extra"]["generated_tokens"] < 300
    assert set(record["extra"]["score_digit_mass"]) == set(ASPECT_KEYS)
    sampling = record["sampling"]
    assert sampling["num_frames"] == len(sampling["frame_indices"]) == len(sampling["timestamps"]) >= 2
    assert sampling["frame_width"] % 28 == 0 and sampling["frame_height"] % 28 == 0
    assert record["extra"]["second_per_grid_ts"] == pytest.approx(2 / sampling["sampled_fps"])
    backend = record["backend"]
    assert backend["name"] == "macs" and backend["aigve_tiny"] is True and backend["taught"] is True


def test_taught_checkpoint_is_marked_as_a_test_model(tiny_judge):
    marker = json.loads((tiny_judge / MARKER).read_text())
    assert marker["taught"] is True and marker["params"]["teach"] is True
    assert "not an evaluation" in marker["warning"]
    assert marker["teach"]["final_loss"] < 0.05
    assert json.loads((tiny_judge / "config.json").read_text())["aigve_tiny"] is True


def test_score_manifest_end_to_end(tiny_judge, shared_videos, tmp_path):
    from aigve.report.provenance import backend_problem

    out = tmp_path / "run"
    assert _score([str(shared_videos / "manifest.csv"), "--model", str(tiny_judge), "--out", str(out)]) == 0
    records = list(iter_records(out / "results.jsonl"))
    with open(shared_videos / "manifest.csv", newline="") as f:
        manifest = list(csv.DictReader(f))
    assert len(manifest) == 11
    assert [r["id"] for r in records] == [row["video"].removesuffix(".mp4") for row in manifest]
    for record in records:
        _check_ok_record(record)
        assert json.loads(record["raw_text"]).keys() == json.loads(taught_answer()).keys()  # released spelling
        assert backend_problem(record["backend"]) is not None  # reports print their disclaimer
    with open(out / "results.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 11


def test_corrupt_file_is_recorded_and_the_rest_scored(tiny_judge, shared_videos, tmp_path):
    from aigve.testing.videos import write_corrupt

    bad = write_corrupt(tmp_path / "broken.mp4", "truncated")
    manifest = tmp_path / "manifest.csv"
    with open(manifest, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "video", "prompt"])
        writer.writerow(["lavie_beach_00", shared_videos / "lavie_beach_00.mp4", "waves lapping on sand"])
        writer.writerow(["broken", bad, "a broken file"])
        writer.writerow(["lavie_beach_05", shared_videos / "lavie_beach_05.mp4", "a beach in spring"])
    out = tmp_path / "run"
    assert _score([str(manifest), "--model", str(tiny_judge), "--out", str(out)]) == 1
    records = {r["id"]: r for r in iter_records(out / "results.jsonl")}
    assert set(records) == {"lavie_beach_00", "broken", "lavie_beach_05"}
    _check_ok_record(records["lavie_beach_00"])
    _check_ok_record(records["lavie_beach_05"])
    failed = records["broken"]
    assert failed["status"] == "error"
    assert "broken.mp4" in failed["error"]["message"]
    assert all(v is None for v in failed["scores"].values())
