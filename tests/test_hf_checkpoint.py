"""Checkpoint resolution fails fast offline with a message that says how to fix it."""

from __future__ import annotations

import pytest
import torch

from aigve.backends import hf_checkpoint
from aigve.backends.hf_checkpoint import hub_offline, resolve_device, resolve_dtype, resolve_source
from aigve.errors import ConfigError, ModelLoadError


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hf_checkpoint, "_cached", lambda repo, filename: False)  # whatever this machine cached


def test_offline_hub_id_fails_fast_with_download_hint(offline):
    with pytest.raises(ModelLoadError) as info:
        resolve_source("xiaoliux/AIGVE-MACS")
    message = str(info.value)
    assert "offline" in message
    assert "hf download xiaoliux/AIGVE-MACS --local-dir AIGVE-MACS" in message
    assert "set `model=AIGVE-MACS` (a local folder)" in message  # the library names the setting
    from aigve.commands.numeric import cli_message

    assert "then set --model AIGVE-MACS (a local folder)" in cli_message(info.value, {"model": "--model"})


def test_adapter_hint_names_the_adapter_setting(offline):
    from aigve.commands.numeric import cli_message

    with pytest.raises(ModelLoadError, match="`adapter=lora`") as info:
        resolve_source("someone/lora", what="adapter", setting="adapter", required_file="adapter_config.json")
    assert "--adapter lora" in cli_message(info.value, {"adapter": "--adapter"})
    with pytest.raises(ModelLoadError) as info:  # a key=value option: the value after the flag
        resolve_source("someone/gen", what="generator model", setting="generator_option=model")
    assert "set --generator-option model=gen (a local folder)" in cli_message(
        info.value, {"generator_option": "--generator-option"})
    assert "`unknown_setting`" in cli_message(ConfigError("x", 1, "use `unknown_setting`"), {})  # no flag: kept


def test_local_files_only_overrides_the_environment(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(hf_checkpoint, "_cached", lambda repo, filename: False)
    with pytest.raises(ModelLoadError, match="offline"):
        resolve_source("owner/model", local_files_only=True)
    if not hub_offline():  # huggingface_hub may have read HF_HUB_OFFLINE at import time
        monkeypatch.setattr(hf_checkpoint, "hub_unreachable", lambda: None)
        assert resolve_source("owner/model") == hf_checkpoint.Source("owner/model", "owner/model", False, False)


def test_unreachable_hub_fails_fast_instead_of_retrying(monkeypatch):
    import socket

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(hf_checkpoint, "hub_offline", lambda: False)
    monkeypatch.setattr(hf_checkpoint, "_cached", lambda repo, filename: False)

    def no_network(address, timeout=None):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "create_connection", no_network)
    with pytest.raises(ModelLoadError) as info:  # raised before transformers is asked (which would retry)
        resolve_source("xiaoliux/AIGVE-MACS")
    message = str(info.value)
    assert "unreachable" in message and "Name or service not known" in message
    assert "hf download xiaoliux/AIGVE-MACS --local-dir AIGVE-MACS" in message


def test_cached_hub_id_loads_without_network(offline, monkeypatch):
    monkeypatch.setattr(hf_checkpoint, "_cached", lambda repo, filename: True)
    assert resolve_source("owner/model").local_only


def test_missing_and_malformed_folders(tmp_path, offline):
    with pytest.raises(ModelLoadError, match="does not exist"):
        resolve_source(str(tmp_path / "nope"))
    with pytest.raises(ModelLoadError, match="does not exist"):
        resolve_source("./models/macs")
    with pytest.raises(ModelLoadError, match="has no config.json"):
        resolve_source(tmp_path)
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(ModelLoadError, match="is a file"):
        resolve_source(tmp_path / "weights.bin")


def test_folder_resolves_to_local_only(tiny_model):
    source = resolve_source(str(tiny_model))
    assert source.local_only and source.is_folder and source.location == str(tiny_model)


def test_dtype_and_device():
    assert resolve_dtype("auto", "cpu") is torch.float32
    assert resolve_dtype("bf16", "cpu") is torch.bfloat16
    assert resolve_dtype("torch.float16", "cpu") is torch.float16
    assert resolve_dtype(torch.float64, "cpu") is torch.float64
    with pytest.raises(ConfigError, match="dtype"):
        resolve_dtype("int8", "cpu")
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="`device=cpu`"):
            resolve_device("cuda")


def test_incomplete_folder_raises_model_load_error(tiny_model, tmp_path):
    import shutil

    from aigve.backends.hf_checkpoint import load_model

    broken = tmp_path / "no-weights"
    shutil.copytree(tiny_model, broken)
    (broken / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError, match="cannot load model .*complete checkpoint"):
        load_model(resolve_source(broken), dtype=torch.float32, device="cpu")


def test_chat_template_falls_back_to_the_tokenizer(tiny_model, tmp_path):
    import json
    import shutil

    from aigve.backends.hf_checkpoint import load_processor

    folder = tmp_path / "old-style"
    shutil.copytree(tiny_model, folder)
    template = (folder / "chat_template.jinja").read_text()
    (folder / "chat_template.jinja").unlink()
    config = json.loads((folder / "tokenizer_config.json").read_text())
    (folder / "tokenizer_config.json").write_text(json.dumps({**config, "chat_template": template}))
    processor = load_processor(resolve_source(folder))
    assert "<|video_pad|>" in processor.chat_template
    config = json.loads((folder / "tokenizer_config.json").read_text())
    del config["chat_template"]
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="no chat template"):
        load_processor(resolve_source(folder))


@pytest.mark.parametrize("attn", ["flash_attention_2", "flash_attention_3"])
def test_missing_attention_kernel_says_install_it_or_use_sdpa(tiny_model, attn):
    import importlib.util

    from aigve.backends.hf_checkpoint import load_model

    if importlib.util.find_spec("flash_attn") is not None:
        pytest.skip("flash-attn is installed here")
    with pytest.raises(ModelLoadError) as info:
        load_model(resolve_source(tiny_model), dtype=torch.float32, device="cpu", attn_implementation=attn)
    message = str(info.value)
    assert "install flash-attn" in message and "`attn_implementation=sdpa`" in message
    from aigve.commands.numeric import cli_message

    shown = cli_message(info.value, {"attn_implementation": "--attn"})
    assert "or use --attn sdpa (or leave --attn unset)" in shown
    assert "complete checkpoint" not in message


def test_unknown_attention_name_lists_the_choices(tiny_model):
    from aigve.backends.hf_checkpoint import load_model

    with pytest.raises(ModelLoadError) as info:
        load_model(resolve_source(tiny_model), dtype=torch.float32, device="cpu", attn_implementation="fast")
    message = str(info.value)
    assert "`attn_implementation` takes sdpa, eager or flash_attention_2" in message and "complete checkpoint" not in message
    unrelated = OSError("no file named model.safetensors found in directory")
    assert hf_checkpoint.attention_hint(unrelated, "flash_attention_2") is None  # the checkpoint hint stays


def test_quiet_progress_bars_restores_each_setting():
    pytest.importorskip("transformers")
    from huggingface_hub import utils as hub_utils
    from transformers.utils import logging as hf_logging

    from aigve.backends.hf_checkpoint import quiet_progress_bars

    try:
        for transformers_on, hub_on in [(True, True), (False, True), (True, False), (False, False)]:
            (hf_logging.enable_progress_bar if transformers_on else hf_logging.disable_progress_bar)()
            (hub_utils.enable_progress_bars if hub_on else hub_utils.disable_progress_bars)()
            with quiet_progress_bars():
                assert not hf_logging.is_progress_bar_enabled() and hub_utils.are_progress_bars_disabled()
            assert hf_logging.is_progress_bar_enabled() == transformers_on
            assert hub_utils.are_progress_bars_disabled() == (not hub_on)
    finally:
        hf_logging.enable_progress_bar()
