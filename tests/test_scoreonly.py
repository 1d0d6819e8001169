"""Score-only mode and KV-cache reuse on the tiny random checkpoint (values are noise; the arithmetic is checked)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from aigve.aspects import ASPECT_KEYS
from aigve.backends.base import Backend
from aigve.backends.qwen_inputs import build_inputs
from aigve.backends.scoreonly import ScoreOnlyBackend, build_skeleton, digit_statistics
from aigve.config import SamplingConfig
from aigve.errors import ConfigError
from aigve.evaluator import Evaluator
from aigve.prompt import format_answer
from aigve.video import load_video

PROMPTS = ["A beautiful coastal beach in spring, waves lapping on sand, animated style", "beach at dusk"]


@pytest.fixture(scope="module")
def backend(tiny_model):
    return ScoreOnlyBackend(str(tiny_model))


@pytest.fixture(scope="module")
def clips(shared_videos, tiny_sampling):
    """A 1-fps and a 2-fps clip: different frame counts, so the batch is left-padded."""
    return [load_video(shared_videos / "lavie_beach_02.mp4", SamplingConfig.from_dict(tiny_sampling)),
            load_video(shared_videos / "lavie_beach_03.mp4", SamplingConfig.from_dict({**tiny_sampling, "fps": 2.0}))]


def hand_expected(model, processor, video, prompt, text, digit_ids):
    """Expected score per aspect from a plain HF forward over prompt + ``text``, softmax over digits by hand."""
    inputs = build_inputs(processor, [video], [prompt])
    p = inputs["input_ids"].shape[1]
    skel = build_skeleton(processor.tokenizer, ASPECT_KEYS)
    ids = torch.tensor([processor.tokenizer(text, add_special_tokens=False)["input_ids"]])
    full = dict(inputs)
    full["input_ids"] = torch.cat([inputs["input_ids"], ids], 1)
    full["attention_mask"] = torch.ones_like(full["input_ids"])
    full["mm_token_type_ids"] = torch.cat([inputs["mm_token_type_ids"], torch.zeros_like(ids)], 1)
    with torch.no_grad():
        logits = model(**full).logits[0].double()
    out = {}
    for key, slot in skel.slots.items():
        z = logits[p + slot - 1, digit_ids]
        probs = torch.exp(z - z.max()) / torch.exp(z - z.max()).sum()
        out[key] = float(sum(d * probs[d] for d in range(6)))
    return out


def test_skeleton_slots_are_the_score_digits(backend):
    skel = build_skeleton(backend.processor.tokenizer, ["physics", "element_presence"], placeholder=4)
    assert list(skel.slots) == ["physics", "element_presence"]  # aspect order, canonical keys
    assert '"element_presentence"' in skel.text  # released spelling in the prompt-side text
    tok = backend.processor.tokenizer
    for slot in skel.slots.values():
        assert tok.decode([skel.ids[slot]]) == "4"


def test_digit_statistics_hand_values():
    logits = np.log([0.1, 0.2, 0.3, 0.4, 1e-12, 1e-12])
    s = digit_statistics(logits, logsumexp=0.0)
    assert s["expected"] == pytest.approx(0.2 + 0.6 + 1.2, abs=1e-9)
    assert s["confidence"] == pytest.approx(0.4) and s["score"] == 3
    assert s["entropy"] == pytest.approx(-sum(p * math.log(p) for p in (0.1, 0.2, 0.3, 0.4)), abs=1e-9)
    assert s["mass"] == pytest.approx(1.0, abs=1e-9)


def test_expected_score_equals_hand_computed_mean(backend, clips):
    out = backend.score(clips[:1], PROMPTS[:1])[0]
    text = format_answer(dict.fromkeys(ASPECT_KEYS, backend.placeholder), None)
    want = hand_expected(backend.model, backend.processor, clips[0], PROMPTS[0], text, backend.digit_ids)
    for key in ASPECT_KEYS:
        assert out.expected_scores[key] == pytest.approx(want[key], abs=1e-4)
        assert out.parsed.scores[key] in range(6)
    assert out.num_generated_tokens == 0 and out.extra["mode"] == "scores_only"
    assert out.extra["second_per_grid_ts"] == 2.0  # 1-fps frames: 2 frames per temporal patch


def test_batched_equals_one_by_one_and_inputs_matter(backend, clips):
    batched = backend.score(clips, PROMPTS)
    single = [backend.score([v], [p])[0] for v, p in zip(clips, PROMPTS, strict=True)]
    for b, s in zip(batched, single, strict=True):
        assert b.parsed.scores == s.parsed.scores
        np.testing.assert_allclose([b.expected_scores[k] for k in ASPECT_KEYS],
                                   [s.expected_scores[k] for k in ASPECT_KEYS], atol=1e-4)
    assert batched[0].expected_scores != batched[1].expected_scores
    assert [o.extra["second_per_grid_ts"] for o in batched] == [2.0, 1.0]


def test_greedy_fill_equals_forward_over_its_own_answer(backend, clips):
    greedy = ScoreOnlyBackend.from_backend(backend, fill="greedy")
    out = greedy.score(clips[:1], PROMPTS[:1])[0]
    text = format_answer(out.parsed.scores, None)  # the skeleton filled with the model's own argmax digits
    want = hand_expected(backend.model, backend.processor, clips[0], PROMPTS[0], text, backend.digit_ids)
    for key in ASPECT_KEYS:
        assert out.expected_scores[key] == pytest.approx(want[key], abs=1e-4)
    assert greedy.describe()["fill"] == "greedy" and greedy.model is backend.model  # shared, not reloaded


def test_kv_reuse_for_aspect_sets_equals_no_reuse(backend, clips):
    sets = [["physics", "overall"], list(ASPECT_KEYS), ["dynamic"]]
    reused = backend.score_aspect_sets(clips, PROMPTS, sets)
    for v, (video, prompt) in enumerate(zip(clips, PROMPTS, strict=True)):
        for j, aspects in enumerate(sets):
            plain = ScoreOnlyBackend.from_backend(backend, aspects=aspects).score([video], [prompt])[0]
            for key in ASPECT_KEYS:
                if key in aspects:
                    assert reused[v][j].expected_scores[key] == pytest.approx(plain.expected_scores[key], abs=1e-4)
                    assert reused[v][j].parsed.scores[key] == plain.parsed.scores[key]
                else:
                    assert reused[v][j].parsed.scores[key] is None


def test_kv_reuse_for_several_prompts_equals_no_reuse(backend, clips):
    prompts = PROMPTS + ["a red car"]
    reused = backend.score_prompts(clips[0], prompts)
    for out, prompt in zip(reused, prompts, strict=True):
        plain = backend.score([clips[0]], [prompt])[0]
        np.testing.assert_allclose([out.expected_scores[k] for k in ASPECT_KEYS],
                                   [plain.expected_scores[k] for k in ASPECT_KEYS], atol=1e-4)
        assert out.extra["prompt_tokens"] == plain.extra["prompt_tokens"]


def test_through_the_evaluator(backend, shared_videos, tiny_sampling):
    assert isinstance(backend, Backend)
    ev = Evaluator(backend, tiny_sampling, prefetch=1)
    results = list(ev.evaluate_many([(shared_videos / "lavie_beach_00.mp4", PROMPTS[0], "a"),
                                     (shared_videos / "lavie_beach_01.mp4", PROMPTS[1], "b")], batch_size=2))
    for r in results:
        assert r.ok and set(r.scores) == set(ASPECT_KEYS) and all(v in range(6) for v in r.scores.values())
        assert all(0 <= r.expected_scores[k] <= 5 and 0 < r.confidence[k] <= 1 for k in ASPECT_KEYS)
        assert "scores_only" in r.parse_flags and r.backend["mode"] == "scores_only"


def test_bad_options(backend):
    with pytest.raises(ConfigError):
        ScoreOnlyBackend.from_backend(backend, fill="beam")
    with pytest.raises(ConfigError):
        ScoreOnlyBackend.from_backend(backend, aspects=["not_an_aspect"])
    with pytest.raises(ConfigError):
        ScoreOnlyBackend.from_backend(backend, placeholder=9)
