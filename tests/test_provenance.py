"""Provenance is stamped where a judge or checkpoint is built and read back, never guessed from a name."""

from __future__ import annotations

import json
import shutil

import pytest

from aigve.core import provenance as prov
from aigve.errors import ConfigError


def test_a_folder_without_a_stamp_is_real_whatever_its_name(tmp_path):
    innocent = tmp_path / "org" / "my-tiny-qwen-judge"
    innocent.mkdir(parents=True)
    (innocent / "config.json").write_text(json.dumps({"model_type": "qwen2_5_vl"}))
    assert prov.read_stamp(innocent).is_real
    assert prov.of_backend({"name": "macs", "model": str(innocent)}).is_real
    assert prov.of_backend({"name": "macs", "model": "org/my-tiny-qwen-judge"}).is_real
    assert prov.banner(prov.read_stamp(innocent)) is None


def test_stamps_round_trip_and_are_found_after_a_move(tmp_path):
    folder = tmp_path / "built"
    folder.mkdir()
    prov.write_stamp(folder, prov.random_arch("qwen2.5-vl-7b"))
    moved = tmp_path / "xiaoliux" / "AIGVE-MACS"
    moved.parent.mkdir()
    shutil.move(folder, moved)
    found = prov.read_stamp(moved)
    assert found.kind == "random_arch" and "random-weight" in found.reason
    assert prov.banner(found).startswith("NOT A REAL EVALUATION: these scores come from a random-weight")


def test_legacy_marker_and_config_key_are_read(tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    (old / prov.LEGACY_TINY_MARKER).write_text(json.dumps({"taught": True}))
    assert prov.read_stamp(old).kind == "tiny" and "taught" in prov.read_stamp(old).reason
    copied = tmp_path / "copied"
    copied.mkdir()
    (copied / "config.json").write_text(json.dumps({prov.CONFIG_KEY: prov.tiny().to_dict()}))
    assert prov.read_stamp(copied).kind == "tiny"


def test_recorded_provenance_wins_and_fake_is_declared():
    assert prov.of_backend({"name": "x", "provenance": {"kind": "fake", "reason": "r"}}).kind == "fake"
    assert prov.of_backend({"name": "fake"}).kind == "fake"  # records from before the field
    assert prov.combined([prov.REAL, prov.FAKE, prov.FAKE]) == prov.FAKE
    with pytest.raises(ConfigError):
        prov.Provenance("maybe", "")


def test_backends_expose_their_provenance():
    from aigve.backends.fake import FakeBackend
    from aigve.backends.signals import SignalsBackend

    assert FakeBackend().provenance().kind == "fake"
    assert FakeBackend().describe()["provenance"]["kind"] == "fake"
    assert SignalsBackend().provenance().is_real


def test_tiny_checkpoint_renamed_is_flagged(tiny_model, tmp_path):
    renamed = tmp_path / "xiaoliux-AIGVE-MACS"
    shutil.copytree(tiny_model, renamed)
    assert prov.read_stamp(renamed).kind == "tiny"
    (renamed / prov.STAMP_FILE).unlink()
    (renamed / prov.LEGACY_TINY_MARKER).unlink()
    assert prov.read_stamp(renamed).kind == "tiny"  # the config.json copy of the stamp is enough


def test_random_arch_bench_checkpoint_is_flagged(tmp_path):
    pytest.importorskip("torch")
    from aigve.testing.arch import build_random_checkpoint

    folder = build_random_checkpoint("qwen2.5-vl-7b", tmp_path / "r", layers=1, vision_depth=1, width_divisor=4, vocab_size=1024)
    assert prov.read_stamp(folder).kind == "random_arch"


def test_macs_backend_does_not_import_the_testing_kit():
    import ast
    from pathlib import Path

    import aigve.backends.macs as macs

    tree = ast.parse(Path(macs.__file__).read_text())
    names = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
    assert not [n for n in names if n.startswith("aigve.testing")]


def test_every_registered_backend_implements_the_whole_protocol():
    from aigve.registry import BACKENDS

    members = ("name", "uses_prompt", "describe", "sampling_overrides", "provenance", "prepare", "score")
    for name in BACKENDS.names():
        cls = BACKENDS.get(name)
        missing = [m for m in members if m not in dir(cls)]
        assert not missing, f"backend {name!r} lacks {missing}"
