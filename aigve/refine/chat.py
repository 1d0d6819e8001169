"""Chat clients the LLM refiner talks to: ``complete(messages) -> str``.

- :class:`TransformersChat`: any HF causal LM (id or folder), loaded lazily with transformers.
- :class:`VisionLMChat`: a Qwen2.5-VL-family model (e.g. the evaluator's own judge) used as a text model.
- :class:`OpenAIChat`: an OpenAI-compatible ``/v1/chat/completions`` endpoint (vLLM, llama.cpp, ...) through
  urllib, with retries and exponential backoff on connection errors, timeouts, 429 and 5xx.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from aigve.errors import AigveError, ConfigError, ModelLoadError

if TYPE_CHECKING:
    from aigve.evaluator import Evaluator

log = logging.getLogger(__name__)

Messages = list[dict[str, str]]


@runtime_checkable
class LoadedVisionModel(Protocol):
    """A judge backend that holds its Hugging Face model and processor in this process (``macs``), so the
    refiner can borrow them instead of loading a second copy."""

    name: str
    model: Any
    processor: Any


@runtime_checkable
class ChatClient(Protocol):
    def complete(self, messages: Messages) -> str: ...


class ChatError(AigveError):
    """A chat endpoint kept failing or answered something that is not a chat completion."""


def _plain_prompt(messages: Messages) -> str:
    """Fallback for tokenizers without a chat template."""
    lines = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
    return "\n".join(lines) + "\nAssistant:"


def _generate_kwargs(max_new_tokens: int, min_new_tokens: int | None, temperature: float) -> dict[str, Any]:
    kw: dict[str, Any] = {"max_new_tokens": max_new_tokens, "do_sample": temperature > 0}
    if temperature > 0:
        kw["temperature"] = temperature
    if min_new_tokens:
        kw["min_new_tokens"] = min_new_tokens
    return kw


class TransformersChat:
    """An HF causal LM. ``model``: id or folder (loaded on first use) or an already built model object
    with ``tokenizer``. Greedy by default (``temperature=0``) so runs reproduce."""

    def __init__(self, model: Any, tokenizer: Any = None, *, device: str | None = None, dtype: str = "auto",
                 max_new_tokens: int = 96, min_new_tokens: int | None = None, temperature: float = 0.0):
        self.source, self._model, self._tokenizer = model, None, tokenizer
        if not isinstance(model, (str, Path)):
            self._model = model
        self.device, self.dtype = device, dtype
        self.gen = _generate_kwargs(max_new_tokens, min_new_tokens, temperature)

    def _load(self) -> None:
        if self._model is not None and self._tokenizer is not None:
            return
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from aigve.backends.hf_checkpoint import resolve_source

        source = resolve_source(str(self.source), what="refiner model", setting="refiner_model")
        try:
            if self._tokenizer is None:
                self._tokenizer = AutoTokenizer.from_pretrained(source.location, local_files_only=source.local_only)
            if self._model is None:
                self._model = AutoModelForCausalLM.from_pretrained(source.location, dtype=self.dtype,
                                                                   local_files_only=source.local_only)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"refiner model {self.source!r}: {exc}") from exc
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self._model.to(device).eval()

    def complete(self, messages: Messages) -> str:
        import torch

        self._load()
        tok, model = self._tokenizer, self._model
        if getattr(tok, "chat_template", None):
            inputs = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                             return_dict=True)
        else:
            inputs = tok(_plain_prompt(messages), return_tensors="pt")
        inputs = {k: v.to(model.device) for k, v in inputs.items()}
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        with torch.inference_mode():
            out = model.generate(**inputs, pad_token_id=pad, **self.gen)
        new = out[0, inputs["input_ids"].shape[1]:]
        return tok.decode(new, skip_special_tokens=True)


class VisionLMChat:
    """A Qwen2.5-VL-family model answering a text-only chat (no image or video in the messages)."""

    def __init__(self, model: Any, processor: Any, *, max_new_tokens: int = 96, min_new_tokens: int | None = None,
                 temperature: float = 0.0):
        self.model, self.processor = model, processor
        self.gen = _generate_kwargs(max_new_tokens, min_new_tokens, temperature)

    @classmethod
    def from_pretrained(cls, path: str | Path, *, device: str | None = None, dtype: str = "auto",
                        **options: Any) -> VisionLMChat:
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        from aigve.backends.hf_checkpoint import resolve_source

        source = resolve_source(str(path), what="refiner model", setting="refiner_model")
        try:
            processor = AutoProcessor.from_pretrained(source.location, local_files_only=source.local_only)
            model = AutoModelForImageTextToText.from_pretrained(source.location, dtype=dtype,
                                                                local_files_only=source.local_only)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"refiner model {str(path)!r}: {exc}") from exc
        model.to(device or ("cuda" if torch.cuda.is_available() else "cpu")).eval()
        return cls(model, processor, **options)

    @classmethod
    def from_evaluator(cls, evaluator: Evaluator, **options: Any) -> VisionLMChat:
        """Reuse the judge an evaluator already holds (its backend's in-process model and processor)."""
        backend = evaluator.backend
        if not isinstance(backend, LoadedVisionModel):
            raise ConfigError("refiner_model", "evaluator",
                              f"backend {backend.name!r} holds no language model in process; set `refiner_model` "
                              "to a model folder, id or endpoint URL instead")
        return cls(backend.model, backend.processor, **options)

    def complete(self, messages: Messages) -> str:
        import torch

        chat = [{"role": m["role"], "content": [{"type": "text", "text": m["content"]}]} for m in messages]
        inputs = self.processor.apply_chat_template(chat, add_generation_prompt=True, tokenize=True,
                                                    return_dict=True, return_tensors="pt")
        inputs = {k: v.to(self.model.device) for k, v in inputs.items()}
        with torch.inference_mode():
            out = self.model.generate(**inputs, **self.gen)
        new = out[:, inputs["input_ids"].shape[1]:]
        return self.processor.batch_decode(new, skip_special_tokens=True)[0]


def load_local_chat(model: str | Path, **options: Any) -> ChatClient:
    """TransformersChat for a causal LM; VisionLMChat when the folder's config is a vision-language model."""
    config_file = Path(model) / "config.json"
    if config_file.is_file():
        config = json.loads(config_file.read_text(encoding="utf-8"))
        if "vision_config" in config:
            return VisionLMChat.from_pretrained(model, **options)
    return TransformersChat(model, **options)


def _chat_url(base: str) -> tuple[str, str]:
    """(chat completions URL, models URL) from a base such as ``http://h:8000``, ``.../v1`` or the full path."""
    base = base.rstrip("/")
    if base.endswith("/chat/completions"):
        root = base[: -len("/chat/completions")]
        return base, root + "/models"
    if not base.endswith("/v1"):
        base += "/v1"
    return base + "/chat/completions", base + "/models"


class OpenAIChat:
    """POST ``/v1/chat/completions`` with urllib. ``model=None`` asks ``/v1/models`` for the served name.

    Transient failures (connection refused, timeout, HTTP 429/5xx) are retried ``retries`` times with
    ``backoff_s * 2**attempt`` seconds between tries; other HTTP errors fail at once with the server's text.
    """

    def __init__(self, url: str, *, model: str | None = None, api_key: str | None = None, timeout_s: float = 60.0,
                 retries: int = 3, backoff_s: float = 1.0, max_tokens: int = 160, temperature: float = 0.0,
                 sleep: Callable[[float], None] = time.sleep):
        if not url.startswith(("http://", "https://")):
            raise ConfigError("endpoint", url, "give an http(s) URL such as http://127.0.0.1:8000/v1")
        self.chat_url, self.models_url = _chat_url(url)
        self.model, self.api_key, self.timeout_s = model, api_key, timeout_s
        self.retries, self.backoff_s, self.sleep = retries, backoff_s, sleep
        self.max_tokens, self.temperature = max_tokens, temperature

    def _request(self, url: str, body: dict[str, Any] | None) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(body).encode() if body is not None else None
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(self.backoff_s * 2 ** (attempt - 1))
            request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    return json.loads(response.read().decode("utf-8"))
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode("utf-8", "replace")[:300]
                if exc.code != 429 and exc.code < 500:
                    raise ChatError(f"{url}: HTTP {exc.code}: {detail}") from exc
                last = ChatError(f"{url}: HTTP {exc.code}: {detail}")
            except (urllib.error.URLError, TimeoutError, ConnectionError, json.JSONDecodeError) as exc:
                last = exc
            log.warning("%s: attempt %d/%d failed: %s", url, attempt + 1, self.retries + 1, last)
        raise ChatError(f"{url}: no answer after {self.retries + 1} attempts: {last}")

    def served_model(self) -> str:
        if self.model is None:
            listing = self._request(self.models_url, None)
            try:
                self.model = str(listing["data"][0]["id"])
            except (KeyError, IndexError, TypeError) as exc:
                raise ChatError(f"{self.models_url}: no model listed; pass the model name") from exc
        return self.model

    def complete(self, messages: Messages) -> str:
        body = {"model": self.served_model(), "messages": messages, "max_tokens": self.max_tokens,
                "temperature": self.temperature}
        answer = self._request(self.chat_url, body)
        try:
            return str(answer["choices"][0]["message"]["content"] or "")
        except (KeyError, IndexError, TypeError) as exc:
            raise ChatError(f"{self.chat_url}: not a chat completion: {str(answer)[:200]}") from exc
