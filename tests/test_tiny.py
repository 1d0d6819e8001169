"""The tiny offline checkpoint loads and runs exactly like a real Qwen2.5-VL checkpoint."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from aigve.aspects import ASPECTS
from aigve.prompt import build_messages, format_answer
from aigve.testing.tiny import MARKER, SPECIAL_TOKENS, build_tiny_adapter, build_tiny_checkpoint


@pytest.fixture(scope="module")
def loaded(tiny_model):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    return AutoModelForImageTextToText.from_pretrained(tiny_model).eval(), AutoProcessor.from_pretrained(tiny_model)


def test_folder_looks_like_a_checkpoint(tiny_model):
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                 "processor_config.json", "chat_template.jinja", "generation_config.json", MARKER):
        assert (tiny_model / name).is_file(), name
    config = json.loads((tiny_model / "config.json").read_text())
    assert config["model_type"] == "qwen2_5_vl"
    assert config["architectures"] == ["Qwen2_5_VLForConditionalGeneration"]
    assert (tiny_model / "model.safetensors").stat().st_size < 2_000_000


def test_reloads_through_auto_classes(tiny_model, loaded):
    from transformers import (
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
    )

    model, processor = loaded
    assert isinstance(model, Qwen2_5_VLForConditionalGeneration)
    assert isinstance(processor, Qwen2_5_VLProcessor)
    assert isinstance(processor.video_processor, Qwen2VLVideoProcessor)
    assert isinstance(processor.image_processor, Qwen2VLImageProcessor)
    direct = Qwen2_5_VLForConditionalGeneration.from_pretrained(tiny_model)
    for a, b in zip(model.state_dict().values(), direct.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    text, vision = model.config.text_config, model.config.vision_config
    assert (text.hidden_size, text.num_hidden_layers, text.num_attention_heads, text.num_key_value_heads) == (64, 2, 4, 2)
    assert (vision.depth, vision.hidden_size, vision.patch_size, vision.spatial_merge_size,
            vision.temporal_patch_size) == (2, 32, 14, 2, 2)
    assert sum(text.rope_parameters["mrope_section"]) == text.hidden_size // text.num_attention_heads // 2


def test_special_tokens_match_the_config(loaded):
    model, processor = loaded
    tok = processor.tokenizer
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    assert len(set(ids.values())) == len(SPECIAL_TOKENS)
    assert model.config.video_token_id == ids["<|video_pad|>"] == processor.video_token_id
    assert model.config.image_token_id == ids["<|image_pad|>"]
    assert model.config.vision_start_token_id == ids["<|vision_start|>"]
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    assert model.generation_config.eos_token_id == [ids["<|im_end|>"], ids["<|endoftext|>"]]
    assert len(tok) <= model.config.text_config.vocab_size
    for t in SPECIAL_TOKENS:  # each special token is one token, never split
        assert tok.encode(f"a{t}b", add_special_tokens=False).count(ids[t]) == 1


def test_tokenizer_round_trips_answers_and_splits_digits(loaded):
    tok = loaded[1].tokenizer
    answer = format_answer({a.key: i % 6 for i, a in enumerate(ASPECTS)},
                           {a.key: "Sharp frames; waves move naturally." for a in ASPECTS})
    ids = tok.encode(answer, add_special_tokens=False)
    assert tok.decode(ids) == answer
    assert len(ids) < len(answer) / 2  # trained merges, not bytes
    for d in "012345":
        assert len(tok.encode(d, add_special_tokens=False)) == 1
    assert len(tok.encode("12", add_special_tokens=False)) == 2  # Qwen splits numbers into digits
    for a in ASPECTS:
        assert tok.decode(tok.encode(a.released_key, add_special_tokens=False)) == a.released_key


def test_chat_template_renders_video_items(loaded):
    processor = loaded[1]
    text = processor.apply_chat_template(build_messages("a cat", video=None), tokenize=False,
                                         add_generation_prompt=True)
    assert text.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
                           "<|vision_start|><|video_pad|><|vision_end|>You are an expert")
    assert text.endswith("The video instruction is: a cat<|im_end|>\n<|im_start|>assistant\n")


def test_forward_and_generate_on_a_video(loaded):
    model, processor = loaded
    text = processor.apply_chat_template(build_messages("a cat"), tokenize=False, add_generation_prompt=True)
    frames = np.random.default_rng(0).integers(0, 256, (4, 56, 56, 3), dtype=np.uint8)
    inputs = processor(text=[text], videos=[frames], do_sample_frames=False, do_resize=False, return_tensors="pt")
    assert inputs["video_grid_thw"].tolist() == [[2, 4, 4]]
    assert int((inputs["mm_token_type_ids"] == 2).sum()) == 2 * 4 * 4 // 4
    with torch.inference_mode():
        logits = model(**inputs).logits
        out = model.generate(**inputs, max_new_tokens=5, min_new_tokens=5, do_sample=False)
    assert logits.shape == (1, inputs["input_ids"].shape[1], model.config.text_config.vocab_size)
    assert out.shape[1] == inputs["input_ids"].shape[1] + 5


def test_build_is_cached(tiny_model):
    weights = tiny_model / "model.safetensors"
    before = weights.stat().st_mtime_ns
    assert build_tiny_checkpoint(tiny_model) == tiny_model
    assert weights.stat().st_mtime_ns == before


def test_build_is_deterministic_and_seeded(tmp_path, tiny_model):
    again = build_tiny_checkpoint(tmp_path / "same")
    other = build_tiny_checkpoint(tmp_path / "other", seed=1)
    same_bytes = (again / "model.safetensors").read_bytes()
    assert same_bytes == (tiny_model / "model.safetensors").read_bytes()
    assert (again / "tokenizer.json").read_text() == (tiny_model / "tokenizer.json").read_text()
    assert (other / "model.safetensors").read_bytes() != same_bytes
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folders left


def test_incomplete_folder_is_rebuilt(tmp_path):
    folder = tmp_path / "half"
    folder.mkdir()
    (folder / "config.json").write_text("{}")  # e.g. an interrupted copy
    build_tiny_checkpoint(folder)
    assert json.loads((folder / MARKER).read_text())["params"]["seed"] == 0
    assert json.loads((folder / "config.json").read_text())["model_type"] == "qwen2_5_vl"


@pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")  # inside peft
def test_adapter_is_not_a_no_op(tiny_model, tmp_path):
    from peft import PeftModel
    from transformers import Qwen2_5_VLForConditionalGeneration

    adapter = build_tiny_adapter(tiny_model, tmp_path / "lora")
    base = Qwen2_5_VLForConditionalGeneration.from_pretrained(tiny_model).eval()
    ids = torch.tensor([[1, 2, 3, 4, 5]])
    with torch.inference_mode():
        plain = base(input_ids=ids).logits
        wrapped = PeftModel.from_pretrained(base, adapter).eval()
        names = [n for n, _ in wrapped.named_modules() if n.endswith("lora_B.default")]
        adapted = wrapped(input_ids=ids).logits
    assert len(names) == 2 * 4  # 2 layers x q/k/v/o, nothing in the vision tower
    assert all("language_model" in n for n in names)
    assert not torch.allclose(plain, adapted)


def test_cli_build_tiny(tmp_path, capsys):
    from aigve.cli import main

    assert main(["testing", "build-tiny", str(tmp_path / "cli"), "--seed", "3", "--adapter", str(tmp_path / "lora")]) == 0
    out, err = capsys.readouterr()
    assert str(tmp_path / "cli") in out and str(tmp_path / "lora") in out
    assert "random weights" in err and "not a judge" in err
    # transformers' tqdm bars (saving shards, loading weights for the adapter) are noise on a one-line command
    assert "Writing model shards" not in err and "Loading weights" not in err and "it/s]" not in err
    from transformers.utils.logging import is_progress_bar_enabled

    assert is_progress_bar_enabled()  # hidden for the build only, the global setting is restored
    assert json.loads((tmp_path / "cli" / MARKER).read_text())["params"]["seed"] == 3


def test_teach_build_is_cached_and_keyed_by_its_settings(tmp_path):
    folder = tmp_path / "taught"
    build_tiny_checkpoint(folder, teach=True, teach_steps=1)  # one step: checks the plumbing, not the learning
    marker = json.loads((folder / MARKER).read_text())
    assert marker["taught"] is True and marker["params"]["teach_steps"] == 1
    assert "not an evaluation" in marker["warning"] and marker["teach"]["comment"] == "not a judge"
    assert json.loads((folder / "config.json").read_text())["aigve_tiny"] is True
    before = (folder / "model.safetensors").stat().st_mtime_ns
    assert build_tiny_checkpoint(folder, teach=True, teach_steps=1) == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == before
    build_tiny_checkpoint(folder)  # a plain build has other settings: rebuilt in place
    assert json.loads((folder / MARKER).read_text())["taught"] is False


@pytest.mark.parametrize("steps", [0, -3, 2.5, True])
def test_teach_steps_must_be_a_positive_integer(tmp_path, steps):
    from aigve.errors import ConfigError

    with pytest.raises(ConfigError, match="teach_steps"):
        build_tiny_checkpoint(tmp_path / "bad", teach=True, teach_steps=steps)
    assert not (tmp_path / "bad").exists()


def test_teach_batch_learns_only_the_answer(tiny_model):
    from transformers import AutoProcessor

    from aigve.backends.qwen_inputs import build_inputs
    from aigve.testing.teach import taught_answer, teach_batch, teach_examples

    processor = AutoProcessor.from_pretrained(tiny_model)
    tok = processor.tokenizer
    examples = teach_examples(3, seed=5)
    assert len({e.prompt for e in examples}) == 3 and len({e.video.frames.shape for e in examples}) > 1
    batch = teach_batch(processor, examples)
    request = build_inputs(processor, [e.video for e in examples], [e.prompt for e in examples], True)
    width = batch["labels"].shape[1]
    assert torch.equal(batch["input_ids"][:, :-width], request["input_ids"])  # the evaluator's exact request
    assert torch.equal(batch["pixel_values_videos"], request["pixel_values_videos"])
    assert torch.equal(batch["second_per_grid_ts"], request["second_per_grid_ts"])
    assert not batch["mm_token_type_ids"][:, -width:].any()
    for row in range(3):
        labels = batch["labels"][row]
        kept = labels[labels != -100]
        assert tok.decode(kept) == taught_answer() + "<|im_end|>"
        assert torch.equal(batch["input_ids"][row, -width:][labels != -100], kept)
        assert int(batch["attention_mask"][row, -width:].sum()) == len(kept)


def test_describe_flags_tiny_builds_from_a_relative_path(tiny_model, tmp_path, monkeypatch):
    from types import SimpleNamespace

    from aigve.backends.hf_checkpoint import Source, resolve_source
    from aigve.backends.macs import tiny_build

    monkeypatch.chdir(tiny_model.parent)
    source = resolve_source(tiny_model.name)
    assert source.name == tiny_model.name  # what describe() records as "model": nothing says "test build"
    assert tiny_build(source) == {"aigve_tiny": True, "taught": False}
    other = tmp_path / "real-looking"
    other.mkdir()
    (other / "config.json").write_text("{}")
    assert tiny_build(resolve_source(str(other)), SimpleNamespace()) == {}
    # the config flag alone is enough (a copy of the HF files without the marker)
    assert tiny_build(resolve_source(str(other)), SimpleNamespace(aigve_tiny=True))["aigve_tiny"] is True
    assert tiny_build(Source("owner/model", "owner/model", True, False), SimpleNamespace()) == {}


def test_cli_build_tiny_teach(tmp_path, capsys):
    from aigve.cli import main

    folder = tmp_path / "cli-taught"
    assert main(["testing", "build-tiny", str(folder), "--teach", "--teach-steps", "1"]) == 0
    out, err = capsys.readouterr()
    assert str(folder) in out and "taught" in out and re.search(r"\(\d+\.\d s\)", out)  # the build's time
    assert "not a judge" in err
    # never silent: a line at once, then a progress bar over the teaching steps, all on stderr
    assert err.startswith("building a tiny checkpoint and teaching it the answer format (1 steps)")
    assert "teaching the answer format: 100%" in err and "1/1" in err
    assert json.loads((folder / MARKER).read_text())["taught"] is True
    assert main(["testing", "build-tiny", str(tmp_path / "x"), "--teach-steps", "3"]) == 2
    assert "--teach" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
