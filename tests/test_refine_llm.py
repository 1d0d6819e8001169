"""LLM refiner wiring with tiny random-weight models built here (no downloads) and a local stub endpoint.

Random weights answer garbage, so these tests check the plumbing: the model's ``generate`` runs on the
chat, the answer is judged unusable, and the rules refiner takes over. The endpoint tests drive a stub
OpenAI-compatible server on 127.0.0.1 started by the test.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import free_port

from aigve.refine.assembly import build_refiner
from aigve.refine.chat import ChatError, OpenAIChat, TransformersChat, VisionLMChat, load_local_chat
from aigve.refine.refiners import LLMRefiner
from aigve.refine.roles import Critique, Problem

ORIGINAL = "a red ball bouncing on a wooden floor"
CRITIQUE = Critique((Problem("consistency", 0, "flicker", "Consistency scored 0/5: flicker", 0),), 1.0)
CORPUS = [ORIGINAL, "a blue car driving on a road at night", "smooth stable footage with sharp focus",
          "You improve prompts for a text-to-video generator.", "Problems, worst first: consistency flicker"] * 20
CHAT_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                 "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def tiny_tokenizer(chat_template: str | None):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>",
                                   additional_special_tokens=["<|im_start|>", "<|im_end|>"])
    if chat_template:
        fast.chat_template = chat_template
    return fast


@pytest.fixture(scope="module", params=["gpt2", "qwen2"])
def tiny_lm(request, tmp_path_factory):
    """A saved tiny causal LM folder: GPT-2 without a chat template, Qwen2 with one."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp(request.param)
    tok = tiny_tokenizer(CHAT_TEMPLATE if request.param == "qwen2" else None)
    if request.param == "gpt2":
        model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_embd=32, n_layer=2, n_head=2, n_positions=1024,
                                           eos_token_id=tok.eos_token_id, bos_token_id=tok.eos_token_id))
    else:
        model = Qwen2ForCausalLM(Qwen2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                                             num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                             max_position_embeddings=1024, eos_token_id=tok.eos_token_id))
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def test_hf_causal_lm_is_called_and_garbage_falls_back(tiny_lm, monkeypatch):
    from transformers import GenerationMixin

    calls = []
    original_generate = GenerationMixin.generate

    def spy(self, *args, **kwargs):
        calls.append(kwargs)
        return original_generate(self, *args, **kwargs)

    monkeypatch.setattr(GenerationMixin, "generate", spy)
    refiner = build_refiner("llm", str(tiny_lm), {"max_new_tokens": 12, "min_new_tokens": 12})
    assert isinstance(refiner, LLMRefiner)
    out = refiner.refine(ORIGINAL, ORIGINAL, CRITIQUE)
    assert len(calls) == 1 and calls[0]["max_new_tokens"] == 12
    assert isinstance(refiner.client, TransformersChat)
    assert out.source == "llm->rules", out.notes
    assert out.prompt == f"{ORIGINAL}, smooth, stable footage"
    assert out.notes[0].startswith("llm answer rejected")


def test_chat_template_is_used_when_present(tiny_lm, monkeypatch):
    from transformers import GenerationMixin

    seen = []
    original_generate = GenerationMixin.generate
    monkeypatch.setattr(GenerationMixin, "generate",
                        lambda self, *a, **k: seen.append(k["input_ids"]) or original_generate(self, *a, **k))
    chat = load_local_chat(str(tiny_lm), max_new_tokens=4, min_new_tokens=4)
    answer = chat.complete([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}])
    assert isinstance(answer, str)
    fed = chat._tokenizer.decode(seen[0][0])
    if tiny_lm.name.startswith("qwen2"):  # the model's own chat template
        assert fed.startswith("<|im_start|>system\nbe brief<|im_end|>") and fed.endswith("<|im_start|>assistant\n")
    else:  # no template: plain role-prefixed text
        assert fed == "System: be brief\nUser: hi\nAssistant:"


def test_evaluators_own_qwen25vl_as_text_model(tiny_model, monkeypatch):
    from transformers import GenerationMixin

    import aigve

    calls = []
    original_generate = GenerationMixin.generate
    monkeypatch.setattr(GenerationMixin, "generate",
                        lambda self, *a, **k: calls.append(k) or original_generate(self, *a, **k))
    chat = load_local_chat(str(tiny_model), max_new_tokens=4, min_new_tokens=4)  # a VL folder is detected
    assert isinstance(chat, VisionLMChat) and isinstance(chat.complete([{"role": "user", "content": "hi"}]), str)
    evaluator = aigve.load_evaluator("macs", model=str(tiny_model), device="cpu", dtype="float32")
    refiner = build_refiner("llm", "evaluator", {"max_new_tokens": 8, "min_new_tokens": 8}, evaluator=evaluator)
    out = refiner.refine(ORIGINAL, ORIGINAL, CRITIQUE)
    assert calls and refiner.client.model is evaluator.backend.model  # the judge itself, not a copy
    assert out.source == "llm->rules" and out.prompt.startswith(ORIGINAL)


class StubHandler(BaseHTTPRequestHandler):
    """Serves the next scripted (status, body) per request and records what it received."""

    def do_GET(self):
        self.server.seen.append(("GET", self.path, None))
        self._reply(200, {"data": [{"id": "served-model"}]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.seen.append(("POST", self.path, body))
        status, payload = self.server.script.pop(0) if self.server.script else (500, {"error": "empty script"})
        self._reply(status, payload)

    def _reply(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def stub_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), StubHandler)
    server.script, server.seen = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def completion(text: str) -> tuple[int, dict]:
    return 200, {"choices": [{"message": {"role": "assistant", "content": text}}]}


def test_endpoint_retries_then_succeeds(stub_server):
    url = f"http://127.0.0.1:{stub_server.server_port}/v1"
    good = f"<prompt>{ORIGINAL}, steady camera, consistent lighting</prompt>"
    stub_server.script += [(503, {"error": "warming up"}), completion(good)]
    refiner = build_refiner("llm", url, {"model": "stub", "backoff_s": 0.0, "retries": 2})
    out = refiner.refine(ORIGINAL, ORIGINAL, CRITIQUE)
    assert out.source == "llm" and out.prompt == f"{ORIGINAL}, steady camera, consistent lighting"
    posts = [s for s in stub_server.seen if s[0] == "POST"]
    assert len(posts) == 2 and posts[0][1] == "/v1/chat/completions"
    assert posts[1][2]["model"] == "stub" and posts[1][2]["messages"][0]["role"] == "system"


def test_endpoint_discovers_the_served_model_and_rejects_a_rewrite_that_drops_the_subject(stub_server):
    stub_server.script.append(completion("<prompt>a sleek blue cube sliding on ice, sharp</prompt>"))
    refiner = LLMRefiner(endpoint=f"http://127.0.0.1:{stub_server.server_port}", backoff_s=0.0)
    out = refiner.refine(ORIGINAL, ORIGINAL, CRITIQUE)
    assert stub_server.seen[0][:2] == ("GET", "/v1/models")
    assert stub_server.seen[1][2]["model"] == "served-model"
    assert out.source == "llm->rules" and "drops" in out.notes[0]


def test_endpoint_client_error_is_not_retried(stub_server):
    stub_server.script.append((400, {"error": "bad request"}))
    chat = OpenAIChat(f"http://127.0.0.1:{stub_server.server_port}/v1/chat/completions", model="m", backoff_s=0.0)
    with pytest.raises(ChatError, match="HTTP 400"):
        chat.complete([{"role": "user", "content": "x"}])
    assert len(stub_server.seen) == 1


def test_unreachable_endpoint_backs_off_then_falls_back():
    port = free_port()  # nobody listening
    waits: list[float] = []
    refiner = LLMRefiner(endpoint=f"http://127.0.0.1:{port}/v1", model="m", retries=3, backoff_s=0.5,
                         timeout_s=2.0, sleep=waits.append)
    out = refiner.refine(ORIGINAL, ORIGINAL, CRITIQUE)
    assert waits == [0.5, 1.0, 2.0]  # exponential backoff between the 4 attempts
    assert out.source == "llm->rules" and "no answer after 4 attempts" in out.notes[0]
