"""MacsBackend on the tiny random checkpoint with real clips (outputs are noise; only plumbing is checked)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aigve.aspects import ASPECT_KEYS
from aigve.backends.base import Backend, BackendOutput, default_sampling
from aigve.backends.macs import MacsBackend, _digit_recorder, hf_generation_config
from aigve.backends.qwen_inputs import build_inputs
from aigve.config import GenerationConfig, SamplingConfig
from aigve.errors import ModelLoadError
from aigve.prompt import format_answer
from aigve.registry import BACKENDS
from aigve.testing.tiny import build_tiny_adapter
from aigve.video import load_video

NEW_TOKENS = 24
PROMPTS = ["A beautiful coastal beach in spring, waves lapping on sand, animated style", "beach at dusk"]


@pytest.fixture(scope="module")
def backend(tiny_model):
    return MacsBackend(str(tiny_model), generation={"force_new_tokens": NEW_TOKENS})


@pytest.fixture(scope="module")
def clips(shared_videos, tiny_sampling):
    """Two real clips: one at 1 fps (2 frames), one at 2 fps (4 frames), so the batch needs padding."""
    return [load_video(shared_videos / "lavie_beach_02.mp4", SamplingConfig.from_dict(tiny_sampling)),
            load_video(shared_videos / "lavie_beach_03.mp4", SamplingConfig.from_dict({**tiny_sampling, "fps": 2.0}))]


@pytest.fixture(scope="module")
def adapter(tiny_model, tmp_path_factory):
    return build_tiny_adapter(tiny_model, tmp_path_factory.mktemp("lora") / "adapter")


def test_registered_and_fulfils_the_protocol(backend):
    assert BACKENDS.get("macs") is MacsBackend
    assert isinstance(backend, Backend)
    assert backend.load_seconds > 0


def test_describe(backend, tiny_model):
    d = backend.describe()
    assert d["name"] == "macs" and d["model"] == str(tiny_model) and d["adapter"] is None
    assert (d["dtype"], d["device"], d["released_keys"]) == ("float32", "cpu", True)
    assert d["generation"]["force_new_tokens"] == NEW_TOKENS


def test_sampling_overrides_cap_pixels_at_the_processor_limit(backend, tiny_sampling):
    overrides = backend.sampling_overrides()
    assert overrides == {"max_pixels": 224 * 224, "min_pixels": 28 * 28}  # the tiny processor's caps
    assert SamplingConfig.from_dict(overrides).max_pixels == 224 * 224
    assert default_sampling(backend, tiny_sampling).max_pixels == tiny_sampling["max_pixels"]  # user wins


def test_score_outputs(backend, clips):
    outputs = backend.score(clips, PROMPTS)
    assert len(outputs) == 2 and all(isinstance(o, BackendOutput) for o in outputs)
    for out, video, spg in zip(outputs, clips, (2.0, 1.0), strict=True):
        assert isinstance(out.text, str) and "<|" not in out.text  # special tokens stripped
        assert out.num_generated_tokens == NEW_TOKENS and out.extra["stopped"] == "max_new_tokens"
        assert set(out.timings) == {"preprocess_s", "model_s"} and out.timings["model_s"] > 0
        assert set(out.expected_scores) == set(out.confidence) == set(ASPECT_KEYS)
        assert out.extra["second_per_grid_ts"] == spg
        assert out.extra["visual_tokens"] == video.plan.visual_tokens
        assert out.extra["batch_size"] == 2


def test_batched_generation_matches_one_by_one(backend, clips):
    batched = backend.score(clips, PROMPTS)
    single = [backend.score([v], [p])[0] for v, p in zip(clips, PROMPTS, strict=True)]
    for b, s in zip(batched, single, strict=True):
        assert b.text == s.text and b.num_generated_tokens == s.num_generated_tokens
        assert b.extra["prompt_tokens"] == s.extra["prompt_tokens"]
    assert batched[0].text != batched[1].text  # different inputs really reached the model


def test_recorder_sees_the_models_own_logits(backend, clips):
    inputs = build_inputs(backend.processor, clips, PROMPTS)
    recorder = _digit_recorder(backend.digit_ids, "cpu")
    from transformers import LogitsProcessorList

    with torch.inference_mode():
        out = backend.model.generate(**inputs, max_new_tokens=6, min_new_tokens=6, do_sample=False,
                                     output_logits=True, return_dict_in_generate=True,
                                     logits_processor=LogitsProcessorList([recorder]))
    digits, lse = recorder.arrays()
    raw = torch.stack(out.logits).numpy()  # (steps, B, vocab), unprocessed
    assert digits.shape == (6, 2, 6)
    np.testing.assert_allclose(digits, raw[:, :, backend.digit_ids], rtol=1e-6)
    assert np.all(lse <= np.log(np.exp(raw.astype(np.float64)).sum(-1)) + 1e-4)  # EOS masked early, never more


def test_expected_scores_from_a_generated_answer(backend, clips):
    """The row glue: EOS ends the answer, padding is ignored, each score digit's step is read."""
    tok = backend.processor.tokenizer
    scores = {k: i % 6 for i, k in enumerate(ASPECT_KEYS)}
    text = format_answer(scores, {k: "Calm sea, sharp frames." for k in ASPECT_KEYS})
    ids = tok.encode(text, add_special_tokens=False)
    eos, pad = tok.convert_tokens_to_ids("<|im_end|>"), tok.pad_token_id
    steps = [i for i, t in enumerate(ids) if t in backend.digit_ids]
    digits = np.zeros((len(ids) + 4, 2, 6))
    digits[steps[2], 1] = np.log([0.1, 0.1, 0.1, 0.2, 0.3, 0.2])  # consistency: 3.1 by hand, confidence .3
    inputs = build_inputs(backend.processor, clips, PROMPTS)
    out = backend._row_output([*ids, eos, pad, pad, pad], 1, digits, np.zeros((len(ids) + 4, 2)), inputs)
    assert out.text == text and out.num_generated_tokens == len(ids) + 1 and out.extra["stopped"] == "eos"
    assert out.expected_scores["consistency"] == pytest.approx(3.1)
    assert out.confidence["consistency"] == pytest.approx(0.3)
    assert all(out.expected_scores[k] == pytest.approx(2.5) for k in ASPECT_KEYS if k != "consistency")
    assert out.extra["score_digit_mass"]["consistency"] == pytest.approx(1.0)


def test_generation_config_is_aigve_only():
    cfg = hf_generation_config(GenerationConfig(force_new_tokens=7), eos_token_id=[5, 6], pad_token_id=None)
    assert (cfg.max_new_tokens, cfg.min_new_tokens, cfg.do_sample, cfg.repetition_penalty) == (7, 7, False, 1.0)
    assert cfg.eos_token_id == [5, 6] and cfg.pad_token_id == 5
    sampled = hf_generation_config(GenerationConfig(do_sample=True, temperature=0.7, top_p=0.9, min_new_tokens=2),
                                   eos_token_id=5, pad_token_id=4)
    assert (sampled.do_sample, sampled.temperature, sampled.top_p, sampled.min_new_tokens) == (True, 0.7, 0.9, 2)
    assert sampled.max_new_tokens == GenerationConfig().max_new_tokens


def test_adapter_changes_outputs_and_merges_to_the_same_model(backend, tiny_model, adapter, clips):
    lora = MacsBackend(str(tiny_model), adapter=str(adapter), generation={"force_new_tokens": NEW_TOKENS})
    merged = MacsBackend(str(tiny_model), adapter=str(adapter), merge_adapter=True,
                         generation={"force_new_tokens": NEW_TOKENS})
    assert lora.describe()["adapter"] == str(adapter) and merged.describe()["adapter_merged"] is True
    inputs = build_inputs(backend.processor, clips[:1], PROMPTS[:1])
    with torch.inference_mode():
        base_logits, lora_logits, merged_logits = (b.model(**inputs).logits for b in (backend, lora, merged))
    assert not torch.allclose(base_logits, lora_logits, atol=1e-3)
    torch.testing.assert_close(lora_logits, merged_logits, rtol=1e-4, atol=1e-4)
    texts = [b.score(clips[:1], PROMPTS[:1])[0].text for b in (backend, lora, merged)]
    assert texts[1] != texts[0] and texts[1] == texts[2]


def test_offline_hub_id_fails_fast(monkeypatch):
    from aigve.backends import hf_checkpoint

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hf_checkpoint, "_cached", lambda repo, filename: False)
    with pytest.raises(ModelLoadError, match=r"hf download xiaoliux/AIGVE-MACS .*local folder"):
        MacsBackend()


def test_missing_adapter_fails_before_loading_weights(tiny_model, tmp_path):
    with pytest.raises(ModelLoadError, match="adapter folder .* does not exist"):
        MacsBackend(str(tiny_model), adapter=str(tmp_path / "missing-lora"))
    with pytest.raises(ModelLoadError, match="adapter_config.json"):
        MacsBackend(str(tiny_model), adapter=str(tmp_path))
