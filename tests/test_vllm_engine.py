"""The vllm backend's in-process path (``vllm.LLM``) on CPU, with a stand-in engine.

vLLM needs a CUDA GPU, so these tests put a small ``vllm`` module in ``sys.modules`` whose ``LLM`` does what
vLLM does with a request for a Qwen2.5-VL model: its multimodal parser drops a ``(frames, metadata)`` tuple's
metadata (vLLM keeps it only for models with ``video_needs_metadata``, which Qwen2.5-VL does not set), the
checkpoint's HF processor runs on the prompt text, the bare frames and the request's ``mm_processor_kwargs``
(vLLM forwards those to the processor call), then the HF model greedy-decodes, returning
token ids and per-step top-k log-probabilities in vLLM's output shape. What is tested is aigve's side: the
requests it builds, the sampling parameters, and how engine output becomes a result. Running real vLLM is
left to a GPU machine (``aigve bench`` path (e)).
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from aigve.aspects import ASPECT_KEYS
from aigve.backends.macs import MacsBackend, checkpoint_sampling_caps
from aigve.backends.vllm import VllmBackend
from aigve.config import SamplingConfig
from aigve.evaluator import Evaluator
from aigve.video import load_video

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@dataclass
class SamplingParams:
    """vLLM's SamplingParams fields that aigve sets."""

    max_tokens: int = 16
    min_tokens: int = 0
    seed: int | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = -1
    repetition_penalty: float = 1.0
    logprobs: int | None = None


@dataclass
class FakeLLM:
    """Stand-in for ``vllm.LLM``: the HF processor and model of the folder, driven like vLLM drives them."""

    model: str
    options: dict = field(default_factory=dict)
    calls: list = field(default_factory=list)
    second_per_grid_ts: list = field(default_factory=list)  # what the processor computed, per request

    def __post_init__(self):
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.processor = AutoProcessor.from_pretrained(self.model)
        self.hf = AutoModelForImageTextToText.from_pretrained(self.model).eval()

    def generate(self, requests, params, use_tqdm=True):
        self.calls.append((requests, params))
        return [self._one(r, params) for r in requests]

    def _one(self, request, params):
        import torch

        item, = request["multi_modal_data"]["video"]
        frames = item[0] if isinstance(item, tuple) else item  # Qwen2.5-VL: the tuple's metadata is dropped
        inputs = self.processor(text=[request["prompt"]], videos=[frames], return_tensors="pt",
                                **request.get("mm_processor_kwargs", {}))
        self.second_per_grid_ts.append([float(x) for x in inputs["second_per_grid_ts"]])
        with torch.inference_mode():
            out = self.hf.generate(**inputs, max_new_tokens=params.max_tokens, min_new_tokens=params.min_tokens,
                                   repetition_penalty=params.repetition_penalty,
                                   do_sample=False, output_scores=True, return_dict_in_generate=True)
        ids = out.sequences[0, inputs["input_ids"].shape[1]:].tolist()
        steps = []
        for tid, scores in zip(ids, out.scores, strict=True):
            logp = torch.log_softmax(scores[0].float(), -1)
            top = torch.topk(logp, params.logprobs or 1).indices.tolist()
            steps.append({t: SimpleNamespace(logprob=float(logp[t])) for t in [tid, *top]})
        text = self.processor.tokenizer.decode(ids, skip_special_tokens=True)
        comp = SimpleNamespace(text=text, token_ids=ids, logprobs=steps, finish_reason="length")
        return SimpleNamespace(outputs=[comp], prompt_token_ids=inputs["input_ids"][0].tolist())


@pytest.fixture()
def fake_vllm(monkeypatch):
    module = types.ModuleType("vllm")
    module.LLM = lambda model, **options: FakeLLM(model, options)
    module.SamplingParams = SamplingParams
    monkeypatch.setitem(sys.modules, "vllm", module)
    monkeypatch.setattr("aigve.backends.vllm.vllm_unavailable_reason", lambda: None)
    return module


@pytest.fixture(scope="module")
def clips(shared_videos, tiny_sampling):
    sampling = SamplingConfig.from_dict({**tiny_sampling, "fps": 2.0})
    return [load_video(shared_videos / name, sampling) for name in ("lavie_beach_03.mp4", "lavie_beach_07.mp4")]


def test_engine_requests_and_sampling_params(fake_vllm, tiny_model, clips):
    backend = VllmBackend(model=str(tiny_model), generation={"force_new_tokens": 8}, top_logprobs=5,
                          gpu_memory_utilization=0.5)
    backend.score(clips, ["beach at dusk", "a cat"])
    llm = backend._llm
    assert llm.options == {"limit_mm_per_prompt": {"video": 1}, "seed": 0, "gpu_memory_utilization": 0.5}
    (requests, params), = llm.calls  # the whole batch goes to the engine in one call
    assert (params.max_tokens, params.min_tokens, params.temperature, params.logprobs) == (8, 8, 0.0, 5)
    assert (params.top_p, params.top_k, params.repetition_penalty, params.seed) == (1.0, -1, 1.0, 0)
    for request, clip, prompt in zip(requests, clips, ["beach at dusk", "a cat"], strict=True):
        assert request["prompt"].count("<|video_pad|>") == 1 and prompt in request["prompt"]
        frames, = request["multi_modal_data"]["video"]
        assert frames is clip.frames  # the sampled frames as they are: no file, no re-encode
        t = clip.frames.shape[0]
        assert clip.plan.sampled_fps == 2.0 and request["mm_processor_kwargs"]["do_sample_frames"] is False
        area = clip.frames.shape[1] * clip.frames.shape[2]
        assert request["mm_processor_kwargs"]["size"] == {"shortest_edge": area, "longest_edge": area}
        assert request["mm_processor_kwargs"]["video_metadata"] == [
            {"fps": 2.0, "total_num_frames": t, "frames_indices": list(range(t)), "duration": t / 2.0}]


def test_spacing_survives_vllm_dropping_the_metadata(fake_vllm, tiny_model, clips):
    """vLLM drops tuple metadata for Qwen2.5-VL; with transformers >= 5 a bare fps is then ignored and the
    processor assumes 24 fps (0.0833 s per patch: time collapses). The spacing the stand-in's processor
    computed must be temporal_patch / sampled fps = 2 / 2.0 = 1.0 s."""
    backend = VllmBackend(model=str(tiny_model), generation={"force_new_tokens": 2}, top_logprobs=0)
    backend.score(clips, ["beach at dusk", "a cat"])
    assert backend._llm.second_per_grid_ts == [[pytest.approx(1.0)], [pytest.approx(1.0)]]


def test_same_greedy_tokens_as_the_macs_backend(fake_vllm, tiny_model, clips):
    """Same checkpoint, same frames: the engine path sees the same model inputs as ``macs``, so a random
    model's greedy continuation (sensitive to every pixel and time position) is identical."""
    macs = MacsBackend(str(tiny_model), generation={"force_new_tokens": 12})
    engine = VllmBackend(model=str(tiny_model), generation={"force_new_tokens": 12}, top_logprobs=5)
    assert engine.sampling_overrides() == checkpoint_sampling_caps(macs.processor) == macs.sampling_overrides()
    prompts = ["beach at dusk", "a cat"]
    want = macs.score(clips, prompts)
    got = engine.score(clips, prompts)
    for a, b in zip(want, got, strict=True):
        assert b.num_generated_tokens == a.num_generated_tokens == 12
        assert b.text == a.text
        assert b.extra["prompt_tokens"] > 12


def test_taught_judge_through_the_engine_gives_a_full_record(fake_vllm, tiny_judge, shared_videos, tiny_sampling):
    backend = VllmBackend(model=str(tiny_judge), top_logprobs=20)
    evaluator = Evaluator(backend, SamplingConfig.from_dict({**tiny_sampling, "fps": 2.0}))
    result = evaluator.evaluate(shared_videos / "lavie_beach_03.mp4", "beach at dusk")
    assert result.ok, result.error
    assert set(result.scores) == set(ASPECT_KEYS)
    for key in ASPECT_KEYS:
        assert 0.0 <= result.expected_scores[key] <= 5.0
        assert 0.0 < result.confidence[key] <= 1.0
        # the taught judge is confident: the expected score sits next to the generated digit
        assert abs(result.expected_scores[key] - result.scores[key]) < 0.5
    mass = result.extra["score_digit_mass"]  # recorded as on the macs and server paths (issue 15)
    assert set(mass) == set(ASPECT_KEYS) and all(0.0 < m <= 1.0 + 1e-9 for m in mass.values())
    assert result.backend["mode"] == "in-process"


def test_missing_checkpoint_fails_before_the_engine_starts(fake_vllm, tmp_path):
    from aigve.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match="does not exist"):
        VllmBackend(model=str(tmp_path / "nowhere"))


def test_engine_scores_hand_computed(fake_vllm, tiny_model):
    """At the generated digit 3 the engine's top-k holds 3, 2 and 4 with p = .6, .3, .1 (other digits are
    outside the top-k and count as 0): expected = .6*3 + .3*2 + .1*4 = 2.8, confidence .6."""
    import math

    backend = VllmBackend(model=str(tiny_model))
    tok = backend._processor.tokenizer
    ids = tok.encode('{"dynamic": {"comment": "ok", "score": 3}}', add_special_tokens=False) + [tok.eos_token_id]
    digit = {d: tok.convert_tokens_to_ids(str(d)) for d in range(6)}
    at = ids.index(digit[3])
    steps = [{t: SimpleNamespace(logprob=0.0)} for t in ids]
    steps[at] = {digit[3]: SimpleNamespace(logprob=math.log(0.6)), digit[2]: SimpleNamespace(logprob=math.log(0.3)),
                 digit[4]: SimpleNamespace(logprob=math.log(0.1))}
    expected, confidence, mass = backend._engine_scores(SimpleNamespace(token_ids=ids, logprobs=steps))
    assert expected == {"dynamic": pytest.approx(2.8)} and confidence == {"dynamic": pytest.approx(0.6)}
    assert mass == {"dynamic": pytest.approx(1.0)}  # .6 + .3 + .1 of the vocabulary (logprobs are normalised)
    assert backend._engine_scores(SimpleNamespace(token_ids=ids, logprobs=steps[:-1])) is None  # misaligned


def test_bench_runs_the_vllm_path(fake_vllm, tiny_model, shared_videos, tmp_path):
    """``aigve bench`` path (e) end to end with the stand-in engine: same greedy text as (b) per video."""
    import contextlib
    import io
    import json

    from aigve.cli import main

    out = tmp_path / "bench.json"
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["bench", str(shared_videos / "manifest.csv"), "--model", str(tiny_model), "--limit", "2",
                     "--paths", "default,vllm", "--warmup", "0", "--force-new-tokens", "6", "--json", str(out),
                     "--profile", "aigve",
                     "--max-frames", "4", "--max-pixels", str(56 * 56), "--min-pixels", str(28 * 28)])
    assert code == 0
    from aigve.judges.profiles import get_profile

    report = json.loads(out.read_text())
    assert report["config"]["profile"] == "aigve"  # the measured paths (default and vllm) ran the named profile
    assert report["profile"] == {**get_profile("aigve").describe(), "source": "named"}
    paths = {p["name"]: p for p in report["paths"]}
    assert paths["vllm"]["status"] == "ok" and paths["vllm"]["videos"] == 2 and paths["vllm"]["failed"] == 0
    assert paths["vllm"]["generated_tokens"] == 12
    text = {name: {v["id"]: v["text"] for v in paths[name]["per_video"]} for name in ("default", "vllm")}
    assert text["vllm"] == text["default"]


def test_engine_runs_the_profile_and_its_spacing(fake_vllm, tiny_model, shared_videos, tmp_path):
    """A named profile in process: the card's messages (no system turn), its frame rules through the evaluator
    (1 fps from t=0, declared spacing), the checkpoint's decoding read and sent, and second_per_grid_ts
    2 / 1.0 = 2.0 s computed by the stand-in's processor after vLLM dropped the metadata (not 0.0833)."""
    import json
    import shutil

    from aigve.judges.profiles import get_profile

    folder = tmp_path / "judge"
    shutil.copytree(tiny_model, folder)
    (folder / "generation_config.json").write_text(json.dumps(
        {"do_sample": True, "temperature": 0.1, "top_p": 0.001, "top_k": 1, "repetition_penalty": 1.05}))
    card = get_profile("macs-card")
    backend = VllmBackend(model=str(folder), profile="macs-card", generation={"force_new_tokens": 2}, top_logprobs=0)
    assert backend.describe()["profile_sha256"] == card.content_sha256()
    over = backend.sampling_overrides()  # only what differs from aigve's SamplingConfig defaults
    assert (over["fixed_height"], over["fixed_width"]) == (476, 840)
    sampling = SamplingConfig.from_dict({**over, "fixed_height": 56, "fixed_width": 56, "max_frames": 4})
    assert (sampling.fps, sampling.start, sampling.even_rule, sampling.spacing) == (1.0, "zero", "repeat_last", "declared")
    clip = load_video(shared_videos / "lavie_beach_03.mp4", sampling)
    backend.score([clip], ["beach at dusk"])
    (request,), params = backend._llm.calls[0]
    assert card.instruction_for("beach at dusk") in request["prompt"]
    assert get_profile("aigve").instruction_for("beach at dusk") not in request["prompt"]
    assert (params.temperature, params.top_p, params.top_k, params.repetition_penalty) == (0.1, 0.001, 1, 1.05)
    assert backend._llm.second_per_grid_ts == [[pytest.approx(2.0)]]
