"""aigve.annotations: AIGVE-Bench v1/v2 JSON, JSON list, JSONL, CSV -> Annotation; errors name file and row."""

from __future__ import annotations

import json
import re

import pytest

from aigve.annotations import Annotation, load_annotations, rated_aspects
from aigve.errors import InputError


def test_aigve_bench_v1_layout(tmp_path):
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({"metainfo": {"name": "AIGVE-Bench"}, "data_list": [
        {"video_path_pd": "cogvideox/cogvideox_0.mp4", "prompt_gt": "a desert", "technical_quality": 4,
         "element_presentence": 5, "action_presentence": 0, "physics": 5, "category": "scene"},
        {"video_path_pd": "/abs/sora_12.mp4", "prompt_gt": "a dog", "technical_quality": "3",
         "element_presentence": 4.5, "action_presentence": "", "physics": 1},
    ]}))
    a, b = load_annotations(path)
    assert a == Annotation(id="cogvideox_0", video=str(tmp_path / "cogvideox/cogvideox_0.mp4"), prompt="a desert",
                           scores={"technical_quality": 4, "element_presence": 5, "action_presence": 0, "physics": 5},
                           comments={}, generator="cogvideox", row=1, extra={"category": "scene"})
    assert b.video == "/abs/sora_12.mp4" and b.generator == "sora"
    assert b.scores == {"technical_quality": 3, "element_presence": 4.5, "physics": 1}  # "" = not rated
    assert isinstance(a.scores["technical_quality"], int)
    assert load_annotations(path, video_dir="/videos")[0].video == "/videos/cogvideox/cogvideox_0.mp4"
    assert rated_aspects([a, b]) == ["technical_quality", "physics", "element_presence", "action_presence"]


def test_aigve_bench_v2_nested_comments_and_flat_comment_columns(tmp_path):
    path = tmp_path / "bench2.json"
    path.write_text(json.dumps([
        {"id": "x1", "video": "x1.mp4", "model": "hunyuan",
         "physics": {"score": 3, "comment": "the ball floats"}, "overall": {"score": 4, "comment": ""}},
        {"id": "x2", "video": "x2.mp4", "Action Quality": 2, "action_quality_comment": "stiff walk"},
    ]))
    a, b = load_annotations(path)
    assert a.scores == {"physics": 3, "overall": 4} and a.comments == {"physics": "the ball floats"}
    assert a.generator == "hunyuan"
    assert b.scores == {"action_quality": 2} and b.comments == {"action_quality": "stiff walk"}


def test_jsonl_with_results_style_nested_scores(tmp_path):
    path = tmp_path / "human.jsonl"
    path.write_text(json.dumps({"id": "a", "scores": {"element_presentence": 5, "physics": None},
                                "comments": {"physics": "fine"}}) + "\n\n"
                    + json.dumps({"video_name": "pyramid_3", "dynamic": 2}) + "\n")
    a, b = load_annotations(path)
    assert a.scores == {"element_presence": 5} and a.comments == {"physics": "fine"}
    assert (b.id, b.video, b.generator, b.row) == ("pyramid_3", "pyramid_3", "pyramid", 3)


def test_csv(tmp_path):
    path = tmp_path / "human.csv"
    path.write_text("video,prompt,physics,overall,overall_comment\nclips/a_1.mp4,p,5,4,nice\nclips/b_2.mp4,q,,3,\n")
    a, b = load_annotations(path)
    assert (a.id, a.row, a.scores, a.comments) == ("a_1", 2, {"physics": 5, "overall": 4}, {"overall": "nice"})
    assert (b.id, b.row, b.scores, b.comments) == ("b_2", 3, {"overall": 3}, {})


@pytest.mark.parametrize("name,text,row,words", [
    ("dup.csv", "id,physics\na,3\nb,4\na,5\n", 4, "duplicate id 'a' (first seen at row 2)"),
    ("text.csv", "id,physics\na,3\nb,good\n", 3, "not a number: 'good'"),
    ("range.csv", "id,physics\na,7\n", 2, "outside 0-5"),
    ("noid.csv", "physics,overall\n3,4\n", 2, "no id or video field"),
    ("bad.jsonl", '{"id": "a", "physics": 3}\n{"id": \n', 2, "not valid JSON"),
    ("list.jsonl", "[1, 2]\n", 1, "expected a JSON object"),
    ("bool.jsonl", '{"id": "a", "physics": true}\n', 1, "boolean"),
    ("nested.jsonl", '{"id": "a", "scores": [3]}\n', 1, "'scores' must be an object"),
])
def test_bad_files_name_file_and_row(tmp_path, name, text, row, words):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError, match=re.escape(words)) as info:
        load_annotations(path)
    assert info.value.path == str(path) and info.value.row == row
    assert f"{path}, row {row}" in str(info.value)


@pytest.mark.parametrize("name,text,words", [
    ("empty.csv", "id,physics\n", "no entries"),
    ("obj.json", '{"foo": []}', "without 'data_list'"),
    ("broken.json", "{", "not valid JSON"),
])
def test_bad_whole_files(tmp_path, name, text, words):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError, match=words):
        load_annotations(path)
    with pytest.raises(InputError, match="file not found"):
        load_annotations(tmp_path / "missing.json")


def test_released_sample_loads_as_human_scores(macs_outputs):
    if not macs_outputs.is_file():
        pytest.skip(f"{macs_outputs} missing")
    anns = load_annotations(macs_outputs)
    assert len(anns) == 149 and anns[0].id == "cogvideox_0" and anns[0].generator == "cogvideox"
    assert set(anns[0].scores) == {"technical_quality", "element_quality", "action_quality", "element_presence",
                                   "action_presence", "physics"}
    assert "output" in anns[0].extra  # the model's text is not mistaken for a human score
