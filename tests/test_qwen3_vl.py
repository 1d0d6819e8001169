"""Qwen3-VL as a backbone (model_type ``qwen3_vl``): a tiny random Qwen3-VL from the tiny kit scores a clip end
to end and trains one step. Random weights: these test the plumbing; nothing here is an evaluation."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
from test_training_data import write_bench

from aigve.cli import main

CONFIGS = Path(__file__).resolve().parents[1] / "train" / "configs"
CLIP = "lavie_beach_00.mp4"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_tiny_kit_builds_a_qwen3_vl_checkpoint(tiny_qwen3_model: Path):
    config = json.loads((tiny_qwen3_model / "config.json").read_text())
    assert config["model_type"] == "qwen3_vl" and config["aigve_provenance"]["kind"] == "tiny"
    from aigve.core.provenance import read_stamp

    assert read_stamp(tiny_qwen3_model).kind == "tiny"


def test_qwen3_vl_inputs_carry_the_frames_real_times(tiny_qwen3_model: Path, shared_videos: Path):
    """Qwen3-VL writes each temporal patch's time as text (mean time of its two frames, from the metadata):
    with 1 fps from t = 0 on an 8 fps clip (frames at 0, 1 s) the text says <0.5 seconds>, not 24-fps times."""
    from aigve.judges.inputs import judge_inputs

    got = judge_inputs(shared_videos / CLIP, "a beach", profile="macs-card", model=tiny_qwen3_model,
                       sampling={"max_pixels": 4096, "min_pixels": 1024})
    from transformers import AutoProcessor

    tok = AutoProcessor.from_pretrained(tiny_qwen3_model).tokenizer
    text = tok.decode(got.inputs["input_ids"][0])
    assert got.record["timestamps"] == [0.0, 1.0] and "<0.5 seconds>" in text
    assert "second_per_grid_ts" not in got.inputs
    assert got.record["frame_height"] % 32 == 0 and got.record["frame_width"] % 32 == 0  # patch 16 x merge 2


def test_qwen3_vl_scores_a_clip_end_to_end(tiny_qwen3_model: Path, shared_videos: Path, tmp_path: Path):
    out = tmp_path / "out"
    main(["score", str(shared_videos / CLIP), "--prompt", "a beach", "--model", str(tiny_qwen3_model),
          "--profile", "aigve", "--max-new-tokens", "4", "--fps", "1", "--max-frames", "4",
          "--max-pixels", "4096", "--min-pixels", "1024", "--out", str(out)])
    (record,) = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert record["backend"]["provenance"]["kind"] == "tiny"  # never presented as a real evaluation
    assert record["extra"]["generated_tokens"] == 4 and record["extra"]["video_grid_thw"] == [2, 4, 4]  # 64x64 frames: 4x4 patches of 16
    assert record["sampling"]["timestamps"] == [0.25, 0.75, 1.25, 1.75]
    # Random weights rarely write the JSON answer: a parse error is the honest outcome, recorded per item.
    assert record["status"] == "ok" or record["error"]["stage"] == "parse"


def test_qwen3_vl_trains_one_step(tiny_qwen3_model: Path, tmp_path: Path):
    bench = write_bench(tmp_path / "bench", n=2, per_prompt=1, comments=True)
    out = tmp_path / "run"
    with contextlib.redirect_stdout(io.StringIO()):
        rc = main(["train", "--config", str(CONFIGS / "tiny_cpu.yaml"), "--model", str(tiny_qwen3_model),
                   "--data", str(bench), "--video-dir", str(bench.parent / "videos"), "--output-dir", str(out),
                   "--max-steps", "1", "--save-steps", "1", "--set", "val_fraction=0", "--no-progress-bar"])
    assert rc == 0 and (out / "adapter_config.json").is_file()
    (log,) = json.loads((out / "checkpoint-1" / "trainer_state.json").read_text())["log_history"]
    assert log["step"] == 1 and 0 < log["loss"] < 100 and log["grad_norm"] > 0  # a real gradient step
    adapter = json.loads((out / "adapter_config.json").read_text())
    assert adapter["target_modules"]  # LoRA found the Qwen3-VL language-model projections
