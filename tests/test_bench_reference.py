"""The card's usage (1 fps -> PNG files -> qwen-vl-utils -> processor, spacing 2.0 -> batch-1 generate) on the tiny model."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from aigve.bench.reference import (
    REFERENCE_SECOND_PER_GRID_TS,
    ReferencePipeline,
    decode_frames,
    reference_instruction,
    write_pngs,
)
from aigve.errors import VideoDecodeError


@pytest.fixture(scope="module")
def card_size_processor(tiny_model):
    """The tiny processor with the 7B checkpoint's pixel bounds (3136 .. 12845056), so 476 x 840 frames keep
    their size as they do for the released checkpoint (the tiny folder caps frames at 224 x 224)."""
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_model, use_fast=True)
    vp = processor.video_processor
    vp.size = {"shortest_edge": 3136, "longest_edge": 12845056}
    return processor


def test_decode_at_1fps_from_zero(shared_videos):
    clip = shared_videos / "lavie_beach_00.mp4"  # 16 frames at 8 fps: 2 s
    frames, indices = decode_frames(clip)
    assert indices == [0, 8] and len(frames) == 2 and frames[0].shape == (512, 512, 3)
    assert decode_frames(clip, fps=3.0)[1] == [0, 3, 5, 8, 11, 13]  # round(k * 8 / 3)
    with pytest.raises(VideoDecodeError, match="OpenCV cannot open"):
        decode_frames(shared_videos / "missing.mp4")


def test_pngs_round_trip(shared_videos, tmp_path):
    import cv2

    frames, _ = decode_frames(shared_videos / "lavie_beach_01.mp4")
    paths = write_pngs(frames, tmp_path)
    assert [Path(p).name for p in paths] == ["frame_0000.png", "frame_0001.png"]
    assert (cv2.imread(paths[1]) == frames[1]).all()  # PNG is lossless


def test_card_instruction_byte_for_byte(shared_dir):
    released = (shared_dir / "reference" / "aigve_macs_instruction.txt").read_bytes()
    prompt = "a cat {with braces} on a beach"
    assert reference_instruction(prompt).encode("utf-8") == released.replace(b"{prompt}", prompt.encode())
    assert len(released) == 1501 and not released.endswith(b"\n")


def test_reference_inputs_on_a_real_clip(tiny_model, card_size_processor, shared_videos, tmp_path):
    """2 s at 8 fps -> source frames [0, 8] -> 476 x 840 -> grid [1, 34, 60] (510 tokens), spacing 2.0; the
    chat has the card's instruction, after the video, in the template's default system turn."""
    pipe = ReferencePipeline(tiny_model, processor=card_size_processor)
    ref = pipe.prepare(shared_videos / "lavie_beach_03.mp4", "a beach", tmp_path)
    inputs = ref.inputs
    assert ref.frame_indices == [0, 8]
    assert inputs["video_grid_thw"].tolist() == [[1, 34, 60]]
    assert inputs["second_per_grid_ts"].tolist() == [REFERENCE_SECOND_PER_GRID_TS] == [2.0]
    assert ref.instruction == reference_instruction("a beach") and ref.text.endswith(
        ref.instruction + "<|im_end|>\n<|im_start|>assistant\n")
    assert ref.text.index("<|video_pad|>") < ref.text.index(ref.instruction)
    assert int((inputs["input_ids"] == card_size_processor.tokenizer.convert_tokens_to_ids("<|video_pad|>")).sum()) \
        == 510
    assert pipe._model is None  # preparing inputs loads no model


def test_odd_frame_count_repeats_the_last_frame(tiny_model, card_size_processor, shared_videos, tmp_path):
    """Three frame files -> qwen-vl-utils repeats the last -> 4 frames -> 2 temporal patches, and the second
    patch is frame 2 twice (identical halves of its temporal patch)."""
    import torch

    frames, indices = decode_frames(shared_videos / "lavie_beach_05.mp4", fps=1.5)
    assert indices == [0, 5, 11]
    pipe = ReferencePipeline(tiny_model, processor=card_size_processor)
    inputs = pipe.inputs_for_files(write_pngs(frames, tmp_path), "a beach", indices).inputs
    assert inputs["video_grid_thw"].tolist() == [[2, 34, 60]]
    assert inputs["second_per_grid_ts"].tolist() == [2.0]
    patches = inputs["pixel_values_videos"].reshape(2, 34 * 60, 3, 2, 14 * 14)  # (t, hw, C, temporal, 14x14)
    assert torch.equal(patches[1, :, :, 0], patches[1, :, :, 1])  # last frame repeated
    assert not torch.equal(patches[0, :, :, 0], patches[0, :, :, 1])


def test_reference_run_on_tiny_model(tiny_model, shared_videos, tmp_path, monkeypatch):
    pipe = ReferencePipeline(tiny_model, force_new_tokens=4)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # a private temp dir: other runs may share /tmp
    out = pipe.run(shared_videos / "lavie_beach_02.mp4", "a beach")
    assert not list(tmp_path.glob("aigve-ref-*"))  # frame files cleaned up
    assert out.generated_tokens == 4 and out.visual_tokens > 0 and out.prompt_tokens > out.visual_tokens
    assert set(out.timings) == {"decode_s", "preprocess_s", "model_s", "parse_s"}
    assert out.error and "no aspect score" in out.error  # random weights write no answer; recorded, not raised
    video = pipe.messages(["a.png"], "p")[0]["content"][0]
    assert (video["resized_height"], video["resized_width"], video["fps"]) == (480, 854, 1)
