"""Judge profiles: validation, identity, choice (named / recorded / default), frame rules, and the wiring into
scoring (run.json, every result record) and training records."""

from __future__ import annotations

import dataclasses
import json
import logging

import pytest

from aigve.config import SamplingConfig
from aigve.errors import ConfigError, UnknownNameError
from aigve.judges.profiles import (
    PROFILE_FILE,
    get_profile,
    mismatch,
    resolve_profile,
    write_profile_record,
)
from aigve.media import VideoInfo
from aigve.sampling import plan_sampling, zero_start_indices


def test_shipped_profiles_and_did_you_mean():
    from aigve.registry import PROFILES

    assert PROFILES.names() == ["aigve", "macs-card", "qwen25vl-zeroshot", "unifiedreward-video", "videoscore2",
                              "vs2-harness"]
    with pytest.raises(UnknownNameError, match="Did you mean 'macs-card'"):
        get_profile("macs-crad")
    card = get_profile("macs-card")
    assert (card.system_turn, card.order, card.fps, card.start, card.even_rule) == \
        (None, "video_text", 1.0, "zero", "repeat_last")
    assert card.frame_size() == (476, 840) and card.spacing == "declared" and card.max_new_tokens == 1500
    assert card.from_checkpoint and card.serialiser == "json_indent4_ascii"
    vs2 = get_profile("vs2-harness")
    assert vs2.fps == 2.0 and dataclasses.replace(vs2, name="macs-card", fps=1.0, summary=card.summary) == card


def test_content_hash_covers_every_field():
    card = get_profile("macs-card")
    assert len(card.content_sha256()) == 64 and card.content_sha256() == get_profile("macs-card").content_sha256()
    hashes = {card.content_sha256()}
    for change in ({"fps": 2.0}, {"instruction": card.instruction + " "}, {"repetition_penalty": 1.05},
                   {"resized_width": 840}, {"serialiser": "json_indent4_unicode"}, {"system_turn": "x"}):
        hashes.add(dataclasses.replace(card, **change).content_sha256())
    assert len(hashes) == 7
    assert card.describe() == {"profile": "macs-card", "profile_sha256": card.content_sha256()}


@pytest.mark.parametrize("change,setting", [
    ({"instruction": "no placeholder"}, "instruction"), ({"instruction": "{prompt}{prompt}"}, "instruction"),
    ({"fps": float("nan")}, "fps"), ({"fps": True}, "fps"), ({"order": "sideways"}, "order"),
    ({"even_rule": "pad"}, "even_rule"), ({"size_rule": "fixed", "resized_height": None}, "resized_height"),
    ({"top_p": 0.0}, "top_p"), ({"top_k": -1}, "top_k"), ({"serialiser": "yaml"}, "serialiser"),
    ({"max_new_tokens": 0}, "max_new_tokens"),
])
def test_profile_validation_names_the_setting(change, setting):
    with pytest.raises(ConfigError) as err:
        dataclasses.replace(get_profile("macs-card"), **change)
    assert err.value.field == setting


def test_messages_follow_the_layout():
    card, ours = get_profile("macs-card"), get_profile("aigve")
    m = card.messages("a cat", video="v.mp4")
    assert [x["role"] for x in m] == ["user"] and [c["type"] for c in m[0]["content"]] == ["video", "text"]
    assert m[0]["content"][1]["text"].endswith("The video instruction is: a cat")
    assert [x["role"] for x in ours.messages(" a cat ")] == ["system", "user"]
    assert ours.instruction_for(" a cat ").endswith("The video instruction is: a cat")  # aigve strips
    flipped = dataclasses.replace(card, order="text_video").messages("p")[0]["content"]
    assert [c["type"] for c in flipped] == ["text", "video"]


def test_generation_from_the_checkpoint_is_explicit():
    card = get_profile("macs-card")
    qwen = {"do_sample": True, "temperature": 1e-6, "top_p": 0.001, "top_k": 1, "repetition_penalty": 1.05,
            "max_new_tokens": 20}
    assert card.generation(qwen) == {"max_new_tokens": 1500, "do_sample": True, "temperature": 1e-6,
                                     "top_p": 0.001, "top_k": 1, "repetition_penalty": 1.05}
    greedy = card.generation({"do_sample": False, "top_k": 50, "repetition_penalty": None})
    assert greedy == {"max_new_tokens": 1500, "do_sample": False, "temperature": 1.0, "top_p": 1.0, "top_k": 0,
                      "repetition_penalty": 1.0}
    assert get_profile("aigve").generation(qwen)["repetition_penalty"] == 1.0  # not from_checkpoint


# ------------------------------------------------------------------------------------------ frame rules


@pytest.mark.parametrize("frames,step,want", [
    (16, 8, [0, 8]), (24, 8, [0, 8, 16, 16]), (17, 8, [0, 8, 16, 16]), (1, 8, [0, 0]), (48, 16, [0, 16, 32, 32]),
    (16, 4, [0, 4, 8, 12]), (10, 2.5, [0, 3, 5, 8]),
])
def test_zero_start_indices(frames, step, want):
    assert zero_start_indices(frames, step, cap=64)[0] == want


def test_zero_start_caps_and_distinct_rule():
    idx, used = zero_start_indices(1000, 8, cap=64)
    assert len(idx) == 64 and idx[0] == 0 and used == 1000 / 64 and idx[-1] <= 999
    assert zero_start_indices(24, 8, cap=64, even_rule="distinct")[0] == [0, 8, 16, 16]  # no frame 24
    assert zero_start_indices(30, 8, cap=64, even_rule="distinct")[0] == [0, 8, 16, 24]


def test_card_plan_for_a_2_s_8_fps_clip():
    info = VideoInfo("c.mp4", num_frames=16, fps=8.0, duration_s=2.0, width=512, height=320, decoder="pyav")
    plan = plan_sampling(info, SamplingConfig.from_dict(get_profile("macs-card").sampling_overrides()))
    assert plan.indices == (0, 8) and plan.timestamps == (0.0, 1.0)
    assert (plan.frame_height, plan.frame_width, plan.visual_tokens) == (476, 840, 510)
    assert plan.sampled_fps == 1.0  # declared: second_per_grid_ts = 2 / 1 = 2.0
    odd = dataclasses.replace(info, num_frames=24, duration_s=3.0)
    plan = plan_sampling(odd, SamplingConfig.from_dict(get_profile("macs-card").sampling_overrides()))
    assert plan.indices == (0, 8, 16, 16) and plan.sampled_fps == 1.0 and any("repeat" in n for n in plan.notes)


def test_aigve_profile_keeps_today_s_sampling():
    info = VideoInfo("c.mp4", num_frames=16, fps=8.0, duration_s=2.0, width=512, height=320, decoder="pyav")
    assert plan_sampling(info, SamplingConfig.from_dict(get_profile("aigve").sampling_overrides())) == \
        plan_sampling(info, SamplingConfig())


def test_sampling_config_checks_the_new_fields():
    with pytest.raises(ConfigError, match="multiple of patch_factor"):
        SamplingConfig(fixed_height=480, fixed_width=840)
    with pytest.raises(ConfigError):
        SamplingConfig(fixed_height=476)
    with pytest.raises(ConfigError):
        SamplingConfig(start="middle")


# ------------------------------------------------------------------------------------------ choice


def test_resolve_named_recorded_default(tmp_path):
    adapter, model = tmp_path / "adapter", tmp_path / "model"
    adapter.mkdir()
    model.mkdir()
    assert resolve_profile(None)[0].name == "macs-card" and resolve_profile(None)[1] == "default"
    write_profile_record(model, get_profile("vs2-harness"))
    assert resolve_profile(None, model=model) == (get_profile("vs2-harness"), "checkpoint")
    write_profile_record(adapter, get_profile("aigve"))
    assert resolve_profile(None, model=model, adapter=adapter) == (get_profile("aigve"), "adapter")
    assert resolve_profile("macs-card", adapter=adapter) == (get_profile("macs-card"), "named")
    record = json.loads((adapter / PROFILE_FILE).read_text())
    assert record["profile_sha256"] == get_profile("aigve").content_sha256() and record["content"]["name"] == "aigve"


def test_mismatch_is_named():
    assert mismatch(get_profile("macs-card"), "xiaoliux/AIGVE-MACS") is None
    assert mismatch(get_profile("aigve"), "someone/own-judge") is None
    assert "'aigve' on xiaoliux/AIGVE-MACS" in mismatch(get_profile("aigve"), "xiaoliux/AIGVE-MACS")


def test_training_target_serialiser(tmp_path):
    from aigve.prompt import format_answer

    scores, comments = {"overall": 4}, {"overall": "caf\u00e9 \u2014 fine"}
    assert "\\u00e9" in format_answer(scores, comments, ensure_ascii=True)
    assert "\u00e9" in format_answer(scores, comments)
    text = format_answer(scores, comments, ensure_ascii=True)
    assert text == get_profile("macs-card").serialise(json.loads(text))


def test_profile_flag_is_checked_before_any_model_loads():
    from aigve.cli import build_parser
    from aigve.commands.options import backend_options, run_spec

    args = build_parser().parse_args(["score", "clip.mp4", "--profile", "vs2-harness"])
    assert backend_options(args)["profile"] == "vs2-harness"
    spec = run_spec(args)[0]
    assert spec["profile"] == "vs2-harness" and spec["profile_sha256"] == get_profile("vs2-harness").content_sha256()
    with pytest.raises(UnknownNameError):
        backend_options(build_parser().parse_args(["score", "clip.mp4", "--profile", "card"]))
    with pytest.raises(ConfigError, match="takes no judge profile"):
        backend_options(build_parser().parse_args(["score", "c.mp4", "--backend", "fake", "--profile", "aigve"]))


def test_profiles_command(capsys):
    from aigve.cli import main

    assert main(["profiles"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6 and lines[1].startswith("macs-card") and lines[1].endswith("(default)")
    assert main(["profiles", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["profile"] for d in data] == ["aigve", "macs-card", "qwen25vl-zeroshot", "unifiedreward-video",
                                            "videoscore2", "vs2-harness"]
    assert data[1]["content"]["instruction"] == get_profile("macs-card").instruction


# ------------------------------------------------------------------------------------------ end to end


def _score(args: list[str]) -> int:
    from aigve.cli import main

    return main(["score", *args, "--no-progress"])


def test_tiny_scores_under_macs_card_with_a_warning_free_record(tiny_model, shared_videos, tmp_path, caplog):
    """``aigve score --model TINY --profile macs-card``: fixed 476x840 frames from t = 0, spacing 2.0, profile
    name + hash in run.json (spec and evaluator) and in every record."""
    from aigve.results import iter_records

    out = tmp_path / "card"
    with caplog.at_level(logging.WARNING):
        rc = _score([str(shared_videos / "lavie_beach_00.mp4"), "--model", str(tiny_model), "--profile", "macs-card",
                     "--max-new-tokens", "4", "--out", str(out)])
    assert rc in (0, 1)  # random weights: the 4 tokens may not parse
    card = get_profile("macs-card")
    info = json.loads((out / "run.json").read_text())
    assert info["spec"]["profile"] == "macs-card" and info["spec"]["profile_sha256"] == card.content_sha256()
    assert info["evaluator"]["profile"] == "macs-card" and info["evaluator"]["profile_source"] == "named"
    (record,) = list(iter_records(out / "results.jsonl"))
    assert record["backend"]["profile_sha256"] == card.content_sha256()
    assert record["sampling"]["frame_indices"] == [0, 8]
    assert (record["sampling"]["frame_width"], record["sampling"]["frame_height"]) == (840, 476)
    assert record["backend"]["generation"]["max_new_tokens"] == 4
    assert record["backend"]["profile_warning"] is None


def test_tiny_uses_its_recorded_profile_by_default(tiny_model, shared_videos, tmp_path):
    from aigve.results import iter_records

    out = tmp_path / "recorded"
    _score([str(shared_videos / "lavie_beach_00.mp4"), "--model", str(tiny_model), "--max-new-tokens", "2",
            "--fps", "1", "--max-frames", "4", "--max-pixels", "3136", "--min-pixels", "784", "--out", str(out)])
    (record,) = list(iter_records(out / "results.jsonl"))
    assert record["backend"]["profile"] == "aigve" and record["backend"]["profile_source"] == "checkpoint"
    assert json.loads((out / "run.json").read_text())["spec"]["profile"] == "aigve"


def test_web_ui_profile_choice(tmp_path):
    from aigve.webui.safety import RequestRefused
    from aigve.webui.service import ServiceConfig, WebService

    svc = WebService(ServiceConfig(backend="fake", work_dir=str(tmp_path)))
    assert svc.profile_choices() == ["auto", "aigve", "macs-card", "qwen25vl-zeroshot", "vs2-harness"]
    plain = svc.evaluator("fake", None, "auto")
    assert svc.evaluator("fake") is plain  # auto = no profile named
    assert svc.evaluator("fake", None, "aigve") is not plain  # its own evaluator (fake itself takes no profile)
    with pytest.raises(RequestRefused, match="unknown"):
        svc.evaluator("fake", None, "card")
