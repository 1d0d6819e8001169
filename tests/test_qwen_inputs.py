"""Model inputs from real sampled clips: true time per temporal patch, M-RoPE types, left padding, no resize."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pytest

from aigve.backends.qwen_inputs import build_inputs, expected_second_per_grid, video_metadata
from aigve.config import SamplingConfig
from aigve.errors import AigveError
from aigve.video import load_video

PROMPTS = ("A beautiful coastal beach in spring, waves lapping on sand, animated style",
           "beach")


@pytest.fixture(scope="module")
def processor(tiny_model):
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(tiny_model)


@pytest.fixture(scope="module")
def clips(shared_videos, tiny_sampling):
    """The same kind of clip sampled at 1 fps (2 frames) and 2 fps (4 frames)."""
    one = load_video(shared_videos / "lavie_beach_00.mp4", SamplingConfig.from_dict(tiny_sampling))
    two = load_video(shared_videos / "lavie_beach_01.mp4", SamplingConfig.from_dict({**tiny_sampling, "fps": 2.0}))
    return one, two


def test_second_per_grid_follows_the_sampled_fps(processor, clips):
    one, two = clips
    assert (one.plan.sampled_fps, two.plan.sampled_fps) == (1.0, 2.0)
    inputs = build_inputs(processor, [one, two], PROMPTS)
    # temporal patch 2 frames: 2 s of video per patch at 1 fps, 1 s at 2 fps (24-fps fallback would give 1/12)
    assert inputs["second_per_grid_ts"].tolist() == [2.0, 1.0]
    assert [expected_second_per_grid(processor, v) for v in clips] == [2.0, 1.0]


def test_second_per_grid_for_a_slow_hand_built_clip(processor, clips):
    slow = dataclasses.replace(clips[0], plan=dataclasses.replace(clips[0].plan, sampled_fps=0.5))
    assert build_inputs(processor, [slow], PROMPTS[:1])["second_per_grid_ts"].tolist() == [4.0]
    meta = video_metadata(slow)
    assert meta.sampled_fps == 0.5 and meta.timestamps == [0.0, 2.0]


def test_mm_token_types_and_left_padding(processor, clips):
    inputs = build_inputs(processor, list(clips), PROMPTS)
    ids, mask, types = inputs["input_ids"], inputs["attention_mask"], inputs["mm_token_type_ids"]
    assert ids.shape == mask.shape == types.shape and ids.shape[0] == 2
    for row, grid in enumerate(inputs["video_grid_thw"].tolist()):
        assert int((types[row] == 2).sum()) == int(np.prod(grid)) // 4
        assert int((ids[row] == processor.video_token_id).sum()) == int(np.prod(grid)) // 4
    assert bool(mask[:, -1].all())  # every row ends at the same column: left padding
    short = int(mask.sum(1).argmin())
    pad = int(mask.shape[1] - mask[short].sum())
    assert pad > 0 and not bool(mask[short, :pad].any())
    assert bool((ids[short, :pad] == processor.tokenizer.pad_token_id).all())
    assert processor.tokenizer.decode(ids[0, -8:]).endswith("<|im_start|>assistant\n")


def test_planned_frames_are_not_resized(processor, clips):
    inputs = build_inputs(processor, list(clips), PROMPTS)
    for video, grid in zip(clips, inputs["video_grid_thw"].tolist(), strict=True):
        t, h, w = video.frames.shape[:3]
        assert grid == [t // 2, h // 14, w // 14]


def test_unplanned_frame_sizes_are_resized_with_a_warning(processor, clips, caplog):
    odd = dataclasses.replace(clips[0], frames=np.zeros((2, 50, 90, 3), dtype=np.uint8))
    with caplog.at_level(logging.WARNING):
        inputs = build_inputs(processor, [odd], PROMPTS[:1])
    assert "not multiples of 28" in caplog.text
    assert inputs["video_grid_thw"].tolist() == [[1, 4, 6]]  # 56 x 84: nearest multiples of 28


def test_released_keys_switch_the_instruction(processor, clips):
    tok = processor.tokenizer
    released = tok.decode(build_inputs(processor, clips[:1], PROMPTS[:1])["input_ids"][0])
    canonical = tok.decode(build_inputs(processor, clips[:1], PROMPTS[:1], released_keys=False)["input_ids"][0])
    assert "element_presentence" in released and "element_presentence" not in canonical


def test_bad_batches_are_rejected(processor, clips):
    with pytest.raises(AigveError, match="one prompt per video"):
        build_inputs(processor, list(clips), PROMPTS[:1])
    with pytest.raises(AigveError, match="empty batch"):
        build_inputs(processor, [], [])
    floats = dataclasses.replace(clips[0], frames=clips[0].frames.astype(np.float32))
    with pytest.raises(AigveError, match="uint8"):
        build_inputs(processor, [floats], PROMPTS[:1])
