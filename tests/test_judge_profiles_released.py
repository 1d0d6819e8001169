"""Golden tests for the judges beyond AIGVE-MACS: ``videoscore2``, ``qwen25vl-zeroshot``, ``unifiedreward-video``.

The instructions are the released texts stored under ``aigve/judges/data`` (sources in ``SOURCES.md``); with
the real Qwen2.5 vocabulary (``real_vocab``) the chat text is the Qwen2.5-VL chat template on the messages the
releases build; the parsers read the released output formats, malformed answers included.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path
from string import Template

import pytest

from aigve.aspects import ASPECTS, DEFAULT_ASPECT_SET, Aspect, AspectSet
from aigve.errors import ConfigError
from aigve.judges.formats import parse_answer, parse_pairwise, parse_videoscore2
from aigve.judges.profiles import card_instruction, get_profile, mismatch

PROMPT = "A panda eating bamboo on a rock, 4k, high resolution."


def _data(name: str) -> bytes:
    return (resources.files("aigve.judges") / "data" / name).read_bytes()


@pytest.fixture(scope="module")
def processor(real_vocab: Path):
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(real_vocab)


# ------------------------------------------------------------------------------------------ aspect sets


def test_default_aspect_set_is_the_nine_and_existing_profile_hashes_hold():
    assert DEFAULT_ASPECT_SET.aspects == ASPECTS and DEFAULT_ASPECT_SET.keys[0] == "technical_quality"
    assert (DEFAULT_ASPECT_SET.score_min, DEFAULT_ASPECT_SET.score_max) == (0, 5)
    assert DEFAULT_ASPECT_SET.canonical_key("element_presentence") == "element_presence"
    # The new fields stay out of the content of profiles that keep their defaults: recorded hashes stay valid.
    assert get_profile("macs-card").content_sha256() == (
        "583bf31687859f32890c4ec4b1be4ec1284bf4fdd4d84bd60b3ff8342fb321a4")
    assert get_profile("aigve").content_sha256() == (
        "6175d395a4f3ef72a3de391d5121de1cadc635bb5661e8dd79d8d4ed76f3104e")
    assert "aspect_set" not in get_profile("macs-card").to_dict()


def test_aspect_set_validation():
    one = Aspect("a", "A", "d", "r", needs_prompt=False, released_key="a")
    with pytest.raises(ConfigError, match="distinct"):
        AspectSet("dup", (one, one))
    with pytest.raises(ConfigError, match="score_min"):
        AspectSet("flat", (one,), score_min=3, score_max=3)
    with pytest.raises(ConfigError, match="nine AIGVE-MACS"):
        get_profile("macs-card").__class__(**{**get_profile("videoscore2").__dict__, "output_format": "aigve_json"})
    with pytest.raises(ConfigError, match="videos"):
        get_profile("macs-card").__class__(**{**get_profile("macs-card").__dict__, "videos": 2})


# ------------------------------------------------------------------------------------------ VideoScore2


def test_videoscore2_instruction_is_the_released_template():
    raw = _data("videoscore2_instruction.txt")
    assert len(raw) == 473 and hashlib.sha256(raw).hexdigest() == (
        "5d7eaf4888b7d1d4556425aaa1b6e103cc4fa470a8a201e011a6abab3cda351c")
    vs2 = get_profile("videoscore2")
    assert vs2.instruction == raw.decode("utf-8")
    # vs2_inference.py: Template(...).substitute(t2v_prompt=...) on its literal (leading newline, 4-space
    # indents, en dashes and the trailing spaces after ";" and "," kept).
    release = Template(raw.decode("utf-8").replace("{prompt}", "$t2v_prompt"))
    assert vs2.instruction_for(PROMPT) == release.substitute(t2v_prompt=PROMPT)
    assert vs2.instruction_for(PROMPT).startswith("\n    You are an expert for evaluating AI-generated videos")
    assert "visual quality \u2013 clarity" in vs2.instruction and "<v_score>; \n" in vs2.instruction
    assert vs2.aspect_set.keys == ("visual_quality", "text_alignment", "physical_consistency")
    assert (vs2.aspect_set.score_min, vs2.aspect_set.score_max) == (1, 5)


def test_videoscore2_decoding_as_released():
    gen = get_profile("videoscore2").generation({"do_sample": False, "temperature": 1.0, "top_p": 0.9,
                                                 "top_k": 50, "repetition_penalty": 1.05})
    # generate(do_sample=True, temperature=0.7, max_new_tokens=1024); the rest from the checkpoint.
    assert gen == {"max_new_tokens": 1024, "do_sample": True, "temperature": 0.7, "top_p": 0.9, "top_k": 50,
                   "repetition_penalty": 1.05}


def test_videoscore2_chat_text_is_the_template_on_the_release_messages(processor):
    from aigve.backends.qwen_inputs import chat_text

    vs2 = get_profile("videoscore2")
    release_messages = [{"role": "user", "content": [
        {"type": "video", "video": "clip.mp4", "fps": 2.0},
        {"type": "text", "text": vs2.instruction_for(PROMPT)}]}]
    want = processor.apply_chat_template(release_messages, tokenize=False, add_generation_prompt=True)
    assert want.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
                           "<|vision_start|><|video_pad|><|vision_end|>\n    You are an expert")
    assert chat_text(processor, PROMPT, profile=vs2) == want
    assert len(processor.tokenizer(vs2.instruction_for(PROMPT))["input_ids"]) == 119  # measured with the real vocabulary


VS2_ANSWER = ("The video shows a panda on a rock; the fur flickers between frames and the bamboo bends "
              "unnaturally.\n\nvisual quality: 3;\ntext-to-video alignment: 4,\n"
              "physical/common-sense consistency: 2")


@pytest.mark.parametrize(("text", "scores", "flags"), [
    (VS2_ANSWER, (3, 4, 2), []),
    ("<think>short</think>\nVisual Quality: 5; Text-to-Video Alignment: 5, Physical/Common-Sense Consistency: 1",
     (5, 5, 1), []),
    ("visual quality: 4; \ntext-to-video alignment: 3, \nphysical/common-sense consistency: 5", (4, 3, 5), []),
    ("visual quality: 0; text-to-video alignment: 6, physical/common-sense consistency: 99999999999999",
     (None, None, None), ["bad_score:visual_quality", "bad_score:text_alignment",
                          "bad_score:physical_consistency"]),
    ("visual quality: four; text-to-video alignment: 3, physical/common-sense consistency: 2", (None,) * 3,
     ["missing:visual_quality", "missing:text_alignment", "missing:physical_consistency"]),
    ("visual quality: 4; text-to-video alignment: 3", (None,) * 3,
     ["missing:visual_quality", "missing:text_alignment", "missing:physical_consistency"]),
    ("", (None,) * 3, ["missing:visual_quality", "missing:text_alignment", "missing:physical_consistency"]),
    ("__import__('os').system('echo no') visual quality: 2; text-to-video alignment: 2, "
     "physical/common-sense consistency: 2", (2, 2, 2), []),
])
def test_videoscore2_parser(text, scores, flags):
    vs2 = get_profile("videoscore2")
    parsed = parse_answer(vs2, text)
    assert tuple(parsed.scores.values()) == scores and list(parsed.scores) == list(vs2.aspect_set.keys)
    assert parsed.flags == flags
    assert parsed.missing == [k for k, v in zip(vs2.aspect_set.keys, scores, strict=True) if v is None]


def test_videoscore2_parser_keeps_the_reasoning_and_bounds_input():
    parsed = parse_videoscore2(VS2_ANSWER, get_profile("videoscore2"))
    assert parsed.comments["visual_quality"].startswith("The video shows a panda")
    huge = parse_videoscore2("x" * 300_000, get_profile("videoscore2"))
    assert "truncated_input" in huge.flags and set(huge.scores.values()) == {None}
    assert parse_videoscore2(None, get_profile("videoscore2")).flags[0] == "missing:visual_quality"


# ------------------------------------------------------------------------------------------ zero-shot


def test_zeroshot_is_the_card_on_the_instruct_checkpoint():
    zs, card = get_profile("qwen25vl-zeroshot"), get_profile("macs-card")
    assert zs.instruction == card_instruction() and zs.instruction_for(PROMPT) == card.instruction_for(PROMPT)
    assert zs.frame_size() == card.frame_size() == (476, 840) and zs.from_checkpoint
    assert zs.for_checkpoints == ("Qwen/Qwen2.5-VL-7B-Instruct",)
    assert mismatch(card, "Qwen/Qwen2.5-VL-7B-Instruct") is not None
    assert mismatch(zs, "Qwen/Qwen2.5-VL-7B-Instruct") is None


def test_zeroshot_chat_text(processor):
    from aigve.backends.qwen_inputs import chat_text

    zs = get_profile("qwen25vl-zeroshot")
    assert chat_text(processor, PROMPT, profile=zs) == chat_text(processor, PROMPT, profile=get_profile("macs-card"))


# ------------------------------------------------------------------------------------------ UnifiedReward


def test_unifiedreward_instruction_is_the_released_fstring():
    raw = _data("unifiedreward_video_pair_instruction.txt")
    assert len(raw) == 939 and hashlib.sha256(raw).hexdigest() == (
        "c76ba521846dcdd36e30046c8ceac18840cb6b0ad5f5a7bc731102b2267f2db9")
    ur = get_profile("unifiedreward-video")
    assert ur.instruction_for(PROMPT).endswith(f"Your task is as follows:\nText Caption: [{PROMPT}]\n")
    assert ur.instruction_for(PROMPT) == raw.decode("utf-8").replace("{prompt}", PROMPT)
    assert ur.videos == 2 and ur.output_format == "pairwise_verdict" and ur.max_new_tokens == 1024


def test_unifiedreward_chat_text_has_two_videos_then_text(processor):
    from aigve.backends.qwen_inputs import chat_text

    ur = get_profile("unifiedreward-video")
    release_messages = [{"role": "user", "content": [
        {"type": "video", "video": "a.mp4"}, {"type": "video", "video": "b.mp4"},
        {"type": "text", "text": ur.instruction_for(PROMPT)}]}]
    want = processor.apply_chat_template(release_messages, tokenize=False, add_generation_prompt=True)
    assert "<|vision_start|><|video_pad|><|vision_end|><|vision_start|><|video_pad|><|vision_end|>Imagine" in want
    assert chat_text(processor, PROMPT, profile=ur) == want
    assert ur.messages(PROMPT, "a.mp4", "b.mp4") == release_messages


@pytest.mark.parametrize(("text", "side", "flags"), [
    ("Video 1 is better.", "A", []),
    ("After comparing both, Video 2 is better, since the panda is sharper.", "B", []),
    ("Both videos are equally good.", "same", []),
    ("video 1 is better", "same", ["no_verdict"]),  # the release's check is case-sensitive
    ("Video 1 is better than nothing, but Video 2 is better.", "A", []),  # the release checks "1" first
    ("I cannot tell.", "same", ["no_verdict"]),
    ("", "same", ["no_verdict"]),
])
def test_unifiedreward_parser(text, side, flags):
    verdict = parse_answer(get_profile("unifiedreward-video"), text)
    assert verdict.to_dict() == {"preference": {"overall": side}, "flags": flags}
    assert parse_pairwise(text).preference == {"overall": side}


# ------------------------------------------------------------------------------------------ scoring path


def test_nine_aspect_uses_refuse_profiles_with_another_answer_and_scoring_runs_refuse_pairwise_ones(tmp_path):
    from aigve.judges.profiles import nine_aspect_answer, require_nine_aspect_answer, require_one_video
    from aigve.run.job import ScoreJob

    assert nine_aspect_answer(get_profile("qwen25vl-zeroshot")) and nine_aspect_answer(get_profile("macs-card"))
    for name in ("videoscore2", "unifiedreward-video"):
        with pytest.raises(ConfigError, match="training reads the nine-aspect"):
            require_nine_aspect_answer(get_profile(name), "training")
    require_one_video(get_profile("videoscore2"), "a scoring run")  # its own three aspects: scored
    with pytest.raises(ConfigError, match="compares two"):
        ScoreJob(inputs=str(tmp_path), backend="macs", profile="unifiedreward-video")


def test_training_and_inputs_refuse_what_they_cannot_build(tmp_path):
    from aigve.judges.inputs import judge_inputs
    from aigve.training.recipe import load_recipe
    from aigve.training.run import training_profile

    recipe = load_recipe(None, {"model": str(tmp_path), "data": "unused.json", "profile": "videoscore2"})
    with pytest.raises(ConfigError, match="training reads the nine-aspect"):
        training_profile(recipe)
    (tmp_path / "tokenizer_config.json").write_text("{}")  # only the profile is reached: nothing is loaded
    with pytest.raises(ConfigError, match="pairwise"):
        judge_inputs(tmp_path / "clip.mp4", "a cat", profile="unifiedreward-video", model=tmp_path)


def test_answer_record_shapes():
    from aigve.judges.formats import answer_record

    vs2 = answer_record(get_profile("videoscore2"), VS2_ANSWER)
    assert vs2["profile"] == "videoscore2" and len(vs2["profile_sha256"]) == 64
    assert vs2["aspects"] == ["visual_quality", "text_alignment", "physical_consistency"] and vs2["scale"] == [1, 5]
    assert vs2["scores"] == {"visual_quality": 3, "text_alignment": 4, "physical_consistency": 2}
    assert vs2["parse_flags"] == []
    pair = answer_record(get_profile("unifiedreward-video"), "Video 2 is better.")
    assert {k: v for k, v in pair.items() if k != "profile_sha256"} == {
        "profile": "unifiedreward-video", "preference": {"overall": "B"}, "parse_flags": []}
    card = answer_record(get_profile("macs-card"), '{"physics": {"comment": "ok", "score": 4}}')
    assert card["aspects"] == list(DEFAULT_ASPECT_SET.keys) and card["scores"]["physics"] == 4
    assert card["scale"] == [0, 5] and card["scores"]["overall"] is None
