"""Random-weight checkpoints with real Qwen2.5-VL dimensions (config checked; a scaled-down build runs on CPU)."""

from __future__ import annotations

import pytest

from aigve.errors import ConfigError
from aigve.testing.arch import ARCHS, arch_config, build_random_checkpoint, check_full_size_on_cpu, count_parameters
from aigve.testing.tiny import build_tiny_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return build_tiny_tokenizer()


def test_7b_config_has_the_real_dimensions(tokenizer):
    c = arch_config("qwen2.5-vl-7b", tokenizer)
    t, v = c.text_config, c.vision_config
    assert (t.hidden_size, t.intermediate_size, t.num_hidden_layers) == (3584, 18944, 28)
    assert (t.num_attention_heads, t.num_key_value_heads, t.vocab_size) == (28, 4, 152064)
    assert sum(t.rope_parameters["mrope_section"]) == t.hidden_size // t.num_attention_heads // 2
    assert (v.depth, v.hidden_size, v.num_heads, v.out_hidden_size) == (32, 1280, 16, 3584)
    assert v.fullatt_block_indexes == [7, 15, 23, 31] and v.tokens_per_second == 2
    assert c.video_token_id == tokenizer.convert_tokens_to_ids("<|video_pad|>")


def test_scaling_keeps_head_sizes(tokenizer):
    c = arch_config("qwen2.5-vl-7b", tokenizer, layers=2, vision_depth=4, width_divisor=4)
    t, v = c.text_config, c.vision_config
    assert t.hidden_size // t.num_attention_heads == 128 and (t.num_attention_heads, t.num_key_value_heads) == (7, 1)
    assert v.hidden_size // v.num_heads == 80 and v.out_hidden_size == t.hidden_size
    assert v.fullatt_block_indexes == [0, 1, 2, 3] and t.num_hidden_layers == 2
    with pytest.raises(ConfigError, match="must divide"):
        arch_config("qwen2.5-vl-7b", tokenizer, width_divisor=3)
    with pytest.raises(ConfigError, match="choose one of"):
        arch_config("qwen9-vl", tokenizer)


def test_scaled_down_7b_scores_a_video_in_bfloat16(tmp_path, shared_videos):
    from aigve.backends.macs import MacsBackend
    from aigve.evaluator import Evaluator

    folder = build_random_checkpoint("qwen2.5-vl-7b", tmp_path / "r7", dtype="bfloat16", layers=1, vision_depth=1,
                                     width_divisor=4, vocab_size=2048)
    assert build_random_checkpoint("qwen2.5-vl-7b", tmp_path / "r7", dtype="bfloat16", layers=1, vision_depth=1,
                                   width_divisor=4, vocab_size=2048) == folder  # cached
    backend = MacsBackend(str(folder), dtype="bfloat16", generation={"force_new_tokens": 3}, profile="aigve")  # small frames
    assert str(backend.model.dtype) == "torch.bfloat16" and backend.sampling_overrides() == {}
    sampling = {"max_frames": 2, "min_frames": 2, "max_pixels": 56 * 56, "min_pixels": 28 * 28}
    result = Evaluator(backend, sampling, prefetch=0).evaluate(shared_videos / "lavie_beach_04.mp4", "a beach")
    assert result.extra["generated_tokens"] == 3 and result.backend["dtype"] == "bfloat16"


@pytest.mark.slow
def test_parameter_counts_match_the_released_models(tokenizer):
    assert count_parameters(arch_config("qwen2.5-vl-7b", tokenizer)) == 8_292_166_656
    assert count_parameters(arch_config("qwen2.5-vl-3b", tokenizer)) == 3_754_622_976
    for name, arch in ARCHS.items():  # the figures the full-size-on-CPU refusal quotes
        assert arch["parameters"] == count_parameters(arch_config(name, tokenizer)), name


def test_full_size_on_cpu_is_refused_unless_scaled_down_or_allowed():
    with pytest.raises(ConfigError, match=r"8\.3 billion parameters in float32 need ~33 GB of RAM") as info:
        check_full_size_on_cpu("qwen2.5-vl-7b", "cpu", "float32")
    # the library names settings; the CLI shows them as flags (tests/test_bench.py)
    assert "`arch_width_divisor=4`" in str(info.value) and "`allow_full_size_on_cpu`" in str(info.value)
    with pytest.raises(ConfigError, match=r"~8 GB of RAM.*`arch_width_divisor=2`\)"):  # 3B: 2 KV heads
        check_full_size_on_cpu("qwen2.5-vl-3b", "cpu", "bfloat16")
    with pytest.raises(ConfigError):  # the full depth spelled out is not a scale-down
        check_full_size_on_cpu("qwen2.5-vl-7b", "cpu", "float32", layers=28, vision_depth=32, width_divisor=1)
    for kwargs in ({"layers": 2}, {"vision_depth": 2}, {"width_divisor": 2}, {"allow": True}):
        check_full_size_on_cpu("qwen2.5-vl-7b", "cpu", "float32", **kwargs)
    check_full_size_on_cpu("qwen2.5-vl-7b", "cuda:0", "bfloat16")
    check_full_size_on_cpu("qwen9-unknown", "cpu", "float32")  # arch_config names the bad architecture
