"""The diffusers generator end to end on a tiny random-weight text-to-video pipeline built here (no downloads):
saved to a folder, loaded lazily through ``DiffusionPipeline.from_pretrained``, run, exported to mp4, and
driven by the refinement loop. Random weights draw noise; only the wiring is under test."""

from __future__ import annotations

import json

import av
import pytest

from aigve.refine.assembly import build_generator
from aigve.refine.generators import DiffusersGenerator


@pytest.fixture(scope="module")
def tiny_pipeline(tmp_path_factory):
    """A TextToVideoSDPipeline with a 2-block UNet3D, a 2-block VAE, a 1-layer CLIP text encoder and a
    character-level CLIP tokenizer written here; about 0.5 MB on disk."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, TextToVideoSDPipeline, UNet3DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    folder = tmp_path_factory.mktemp("tiny-t2v")
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in "abcdefghijklmnopqrstuvwxyz,":
        vocab[ch], vocab[ch + "</w>"] = len(vocab), len(vocab) + 1
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=32)
    torch.manual_seed(0)
    unet = UNet3DConditionModel(block_out_channels=(8, 16), layers_per_block=1, sample_size=16, in_channels=4,
                                out_channels=4, down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
                                up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"), cross_attention_dim=8,
                                attention_head_dim=4, norm_num_groups=4)
    vae = AutoencoderKL(block_out_channels=(8, 8), in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                        norm_num_groups=4, sample_size=32)
    text_encoder = CLIPTextModel(CLIPTextConfig(vocab_size=len(vocab), hidden_size=8, intermediate_size=16,
                                                num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=32,
                                                bos_token_id=0, eos_token_id=1, pad_token_id=1, projection_dim=8))
    scheduler = DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, clip_sample=False,
                              set_alpha_to_one=False)
    pipe = TextToVideoSDPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                 scheduler=scheduler)
    pipe.save_pretrained(folder / "pipe")
    return folder / "pipe"


OPTIONS = {"num_frames": 8, "num_inference_steps": 2, "height": 32, "width": 32, "fps": 8, "device": "cpu"}


@pytest.fixture(scope="module")
def generator(tiny_pipeline):
    """One generator per module: the pipeline loads once, on the first ``generate``."""
    generator = build_generator("diffusers", {"model": str(tiny_pipeline), **OPTIONS})
    assert isinstance(generator, DiffusersGenerator) and generator._pipe is None  # lazy: nothing loaded yet
    return generator


def test_tiny_pipeline_generates_an_mp4(generator, tmp_path):
    path = generator.generate("a red ball bouncing", 3, tmp_path / "v.mp4")
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert stream.codec_context.name == "h264" and len(frames) == 8 and frames[0].shape == (32, 32, 3)
    info = generator.describe()
    assert info["pipeline"] == "TextToVideoSDPipeline" and info["device"] == "cpu" and info["load_s"] > 0
    kwargs = generator.call_kwargs("x", 3)
    assert kwargs["output_type"] == "np" and kwargs["num_frames"] == 8 and kwargs["generator"].initial_seed() == 3
    again = generator.generate("a red ball bouncing", 3, tmp_path / "w.mp4")
    with av.open(str(again)) as c:  # same seed, same prompt: same video
        assert all((a == f.to_ndarray(format="rgb24")).all() for a, f in zip(frames, c.decode(video=0), strict=True))


def test_unknown_call_options_are_dropped_with_a_warning(tiny_pipeline, caplog):
    generator = DiffusersGenerator(str(tiny_pipeline), device="cpu", call_options={"not_an_argument": 1})
    assert "not_an_argument" not in generator.call_kwargs("x", 0)
    assert "does not take 'not_an_argument'" in caplog.text


def test_refine_loop_drives_the_diffusers_generator(generator, tmp_path):
    import aigve
    from aigve.refine.loop import Controller, StopPolicy
    from aigve.refine.refiners import RulesRefiner
    from aigve.refine.trace import read_trace

    controller = Controller(generator, aigve.load_evaluator(backend="signals"), RulesRefiner(),
                            stop=StopPolicy(rounds=2))
    summary = controller.run("a red ball bouncing on a wooden floor", tmp_path / "run")
    rounds = [e for e in read_trace(tmp_path / "run") if e["event"] == "round"]
    assert [r["status"] for r in rounds] == ["ok", "ok"] and summary["stop_rule"] == "rounds"
    assert rounds[1]["prompt"] == rounds[0]["refined_prompt"] != rounds[0]["prompt"]
    assert summary["generator"]["pipeline"] == "TextToVideoSDPipeline"
    assert (tmp_path / "run" / "best.mp4").is_file()
