"""Loading a transformers checkpoint (hub id or local folder) that fails fast and says how to fix it.

Offline, a hub id that is not in the local cache raises :class:`~aigve.errors.ModelLoadError` before any
network call, with the command that downloads it and the flag that points aigve at the folder.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aigve.errors import ConfigError, ModelLoadError

logger = logging.getLogger(__name__)

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_TRUE = {"1", "true", "yes", "on"}
_DTYPES = {"bf16": "bfloat16", "bfloat16": "bfloat16", "fp16": "float16", "float16": "float16",
           "half": "float16", "fp32": "float32", "float32": "float32", "float": "float32"}


@dataclass(frozen=True)
class Source:
    """Where weights come from: ``name`` as given, ``location`` to pass to ``from_pretrained``,
    ``local_only``: load without touching the network (a folder, or a cached hub id while offline)."""

    name: str
    location: str
    local_only: bool
    is_folder: bool


def hub_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE`` is set (read now, not at import time)."""
    if any(os.environ.get(v, "").strip().lower() in _TRUE for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")):
        return True
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover - huggingface_hub ships with transformers
        return False
    return bool(constants.HF_HUB_OFFLINE)


def _cached(repo_id: str, filename: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, filename)
    return isinstance(found, str)


def _download_hint(name: str, setting: str) -> str:
    """``setting``: the setting that names the checkpoint (``model``; ``generator_option=model`` for a
    key=value option), in backquotes so the CLI shows its flag (:func:`aigve.commands.numeric.cli_message`)."""
    folder = name.split("/")[-1]
    return (f"download it once with `hf download {name} --local-dir {folder}` on a machine with network, "
            f"then set `{setting}={folder}` (a local folder)")


def resolve_source(name: str | os.PathLike, *, local_files_only: bool | None = None, what: str = "model",
                   setting: str = "model", required_file: str = "config.json") -> Source:
    """Decide how to load ``name`` (local folder or hub id) without any network access.

    Raises ModelLoadError for a missing folder, a file given instead of a folder, a folder without
    ``required_file``, a string that is neither, or a hub id that is not cached while offline
    (``local_files_only=None`` means: offline iff ``HF_HUB_OFFLINE`` is set).
    """
    text = os.fspath(name)
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / required_file).is_file():
            raise ModelLoadError(f"{what} folder {str(path)!r} has no {required_file}; pass the folder that holds "
                                 f"the checkpoint's {required_file} (it may be one level deeper)")
        return Source(text, str(path.resolve()), True, True)
    if path.exists():
        raise ModelLoadError(f"{what} {text!r} is a file; pass the checkpoint folder that holds {required_file}")
    looks_like_path = text.startswith((".", "/", "~")) or "\\" in text or text.count("/") != 1
    if looks_like_path or not _HUB_ID.match(text):
        raise ModelLoadError(f"{what} folder {text!r} does not exist; pass an existing checkpoint folder "
                             f"or a hub id like 'owner/name'")
    offline = hub_offline() if local_files_only is None else bool(local_files_only)
    if _cached(text, required_file):
        return Source(text, text, offline, False)
    if offline:
        raise ModelLoadError(f"cannot load {what} {text!r} offline (it is not in the Hugging Face cache): "
                             f"{_download_hint(text, setting)}; no local folder named {text!r} exists either")
    problem = hub_unreachable()
    if problem:
        raise ModelLoadError(f"cannot download {what} {text!r}: {problem}, and it is not in the Hugging Face "
                             f"cache: {_download_hint(text, setting)}")
    return Source(text, text, False, False)


def hub_unreachable(timeout_s: float = 3.0) -> str | None:
    """Why the hub cannot be reached (name lookup or TCP connect to ``HF_ENDPOINT``), or None if it can.

    Checked before any download because huggingface_hub retries an unreachable host for minutes;
    without network this fails in milliseconds (name lookup) or at most ``timeout_s`` seconds.
    """
    import socket
    from urllib.parse import urlparse

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    url = urlparse(endpoint)
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as exc:
        return f"the hub at {endpoint} is unreachable ({exc.strerror or exc})"
    return None


def resolve_device(device: str | None) -> str:
    """``auto``/None -> ``cuda`` when a GPU is visible, else ``cpu``; anything else is passed through."""
    import torch

    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("device", device, "no CUDA device is visible; use `device=cpu` (or auto)")
    return str(device)


def resolve_dtype(dtype: Any, device: str):
    """``auto`` -> bfloat16 on a CUDA device that supports it (else float16), float32 on CPU.

    Also accepts ``bf16``/``bfloat16``/``fp16``/``float16``/``half``/``fp32``/``float32`` or a ``torch.dtype``.
    """
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype in (None, "auto"):
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    key = str(dtype).lower().removeprefix("torch.")
    if key not in _DTYPES:
        raise ConfigError("dtype", dtype, f"choose auto or one of {', '.join(sorted(_DTYPES))}")
    return getattr(torch, _DTYPES[key])


def _load_error(source: Source, what: str, setting: str, exc: Exception, attn: str | None = None) -> ModelLoadError:
    hint = attention_hint(exc, attn) or ("check that the folder is a complete checkpoint" if source.is_folder
                                         else _download_hint(source.name, setting))
    return ModelLoadError(f"cannot load {what} {source.name!r}: {type(exc).__name__}: {exc}; {hint}")


def attention_hint(exc: Exception, attn: str | None) -> str | None:
    """The fix when loading failed because of the requested attention implementation ``attn`` (``--attn``),
    else None. transformers names the kernel ("FlashAttention2 has been toggled on, but ... doesn't seem to
    be installed") or the option (``attn_implementation="..." is not supported``) in its message."""
    if not attn:
        return None
    text = str(exc).lower()
    if any(word in text for word in ("flashattention", "flash_attn", "flash-attn", "flash attention")):
        return (f"`attn_implementation={attn}` needs the flash-attn package (and a CUDA GPU it supports): install "
                f"flash-attn, or use `attn_implementation=sdpa` (or leave `attn_implementation` unset)")
    if "attn_implementation" in text or "attention implementation" in text:
        return ("`attn_implementation` takes sdpa, eager or flash_attention_2, and not every model supports each "
                "(or leave `attn_implementation` unset)")
    return None


def load_processor(source: Source, *, trust_remote_code: bool = False) -> Any:
    """``AutoProcessor`` for ``source``; it must carry a video processor (Qwen2-VL family)."""
    from transformers import AutoProcessor

    try:
        processor = AutoProcessor.from_pretrained(source.location, local_files_only=source.local_only,
                                                  trust_remote_code=trust_remote_code)
    except (OSError, ValueError, KeyError) as exc:
        raise _load_error(source, "processor", "model", exc) from exc
    if getattr(processor, "video_processor", None) is None:
        raise ModelLoadError(f"{source.name!r}: processor {type(processor).__name__} has no video processor; "
                             f"aigve needs a Qwen2.5-VL-family checkpoint")
    if not getattr(processor, "chat_template", None):
        # Older checkpoints keep the template only in tokenizer_config.json.
        processor.chat_template = getattr(processor.tokenizer, "chat_template", None)
        if not processor.chat_template:
            raise ModelLoadError(f"{source.name!r} has no chat template (chat_template.jinja/json or "
                                 f"tokenizer_config.json); copy the one of the Qwen2.5-VL base checkpoint into it")
    return processor


def load_model(source: Source, *, dtype: Any, device: str, attn_implementation: str | None = None,
               trust_remote_code: bool = False) -> Any:
    """``AutoModelForImageTextToText`` in eval mode on ``device`` with ``dtype``."""
    from transformers import AutoModelForImageTextToText

    kwargs: dict[str, Any] = {"dtype": dtype, "local_files_only": source.local_only,
                              "trust_remote_code": trust_remote_code}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    if device != "cpu":
        kwargs["device_map"] = {"": device}  # load straight onto the device, no CPU copy of a 7B model
    try:
        model = AutoModelForImageTextToText.from_pretrained(source.location, **kwargs)
    except (OSError, ValueError, KeyError, ImportError, RuntimeError) as exc:  # RuntimeError: size mismatch, OOM
        raise _load_error(source, "model", "model", exc, attn_implementation) from exc
    if device == "cpu":
        model = model.to(device)
    return model.eval()


def load_adapter(model: Any, source: Source, *, merge: bool = False) -> Any:
    """Wrap ``model`` with the peft LoRA adapter at ``source``; ``merge`` folds it into the base weights."""
    try:
        from peft import PeftModel
    except ImportError as exc:  # pragma: no cover - peft is a dependency
        raise ModelLoadError("loading an adapter needs peft: pip install peft") from exc
    try:
        with warnings.catch_warnings():  # peft calls a transformers API deprecated in 5.x; not ours to fix
            warnings.simplefilter("ignore", FutureWarning)
            model = PeftModel.from_pretrained(model, source.location, local_files_only=source.local_only)
    except (OSError, ValueError, KeyError) as exc:
        raise _load_error(source, "adapter", "adapter", exc) from exc
    if merge:
        model = model.merge_and_unload()
    return model.eval()


@contextlib.contextmanager
def quiet_progress_bars() -> Iterator[None]:
    """transformers' and huggingface_hub's tqdm bars off for the block ("Loading weights", "Writing model
    shards": clutter in a report's or a one-line command's output), then each back as it was (the settings
    are global)."""
    try:
        from huggingface_hub import utils as hub_utils
        from transformers.utils import logging as hf_logging
    except ImportError:  # without them there is no bar to hide
        yield
        return
    transformers_on, hub_off = hf_logging.is_progress_bar_enabled(), hub_utils.are_progress_bars_disabled()
    hf_logging.disable_progress_bar()  # turns the hub's bars off too
    try:
        yield
    finally:
        if transformers_on:
            hf_logging.enable_progress_bar()  # ...and this turns them back on
        if hub_off:
            hub_utils.disable_progress_bars()
        else:
            hub_utils.enable_progress_bars()
