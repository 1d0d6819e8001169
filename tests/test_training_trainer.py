"""End-to-end LoRA runs on the tiny random model: CLI, outputs, loss going down, resume, adapter in `aigve score`.

Random weights: these runs test the plumbing; none of their numbers is an evaluation.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
import torch
from test_training_data import write_bench
from transformers import TrainerCallback

from aigve.cli import main
from aigve.training.recipe import load_recipe

CONFIGS = Path(__file__).resolve().parents[1] / "train" / "configs"
STEPS = 4


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bench")
    path = write_bench(root, n=8, per_prompt=1, comments=True)
    data = json.loads(path.read_text())
    data["data_list"].append({**data["data_list"][0], "id": "broken", "video_path_pd": "missing.mp4"})
    path.write_text(json.dumps(data))  # one bad entry: runs pass --skip-bad
    return path


def _args(tiny_model: Path, bench: Path, out: Path) -> list[str]:
    return ["train", "--config", str(CONFIGS / "tiny_cpu.yaml"), "--model", str(tiny_model), "--data", str(bench),
            "--video-dir", str(bench.parent / "videos"), "--output-dir", str(out), "--max-steps", str(STEPS),
            "--save-steps", "2", "--eval-steps", "2", "--set", "val_fraction=0.3", "--no-progress-bar", "--skip-bad"]


@pytest.fixture(scope="module")
def run_a(tiny_model, bench, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "a"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        rc = main([*_args(tiny_model, bench, out), "--merge"])
    return rc, out, stdout.getvalue()


def _state(checkpoint: Path) -> dict:
    return json.loads((checkpoint / "trainer_state.json").read_text())


def test_cli_run_writes_adapter_records_and_logs(run_a):
    rc, out, stdout = run_a
    assert rc == 0, stdout
    assert (out / "adapter_config.json").is_file() and (out / "adapter_model.safetensors").is_file()
    splits = json.loads((out / "data_splits.json").read_text())
    assert splits["train"]["count"] + splits["val"]["count"] + splits["test"]["count"] == 8
    assert splits["val"]["count"] > 0 and len(splits["train"]["sha256"]) == 64
    assert [s["id"] for s in splits["skipped"]] == ["broken"] and "skipped 1 bad entries" in stdout
    recipe = load_recipe(out / "train_recipe.yaml")
    assert recipe.max_steps == STEPS and recipe.sampling["max_frames"] == 4  # resolved, with sampling spelled out
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["global_step"] == STEPS and summary["val_metrics"]["eval_loss"] > 0
    assert "'loss'" in stdout or '"loss"' in stdout  # the loss is logged as training goes
    assert "validation @ step 2" in stdout and "Spearman" in stdout and "technical_quality" in stdout
    assert f"done: {STEPS} steps" in stdout and "--adapter" in stdout
    assert (out / "merged" / "config.json").is_file()
    # the judge profile trained under (the tiny base records "aigve") travels with the adapter and merged model
    for folder in (out, out / "merged"):
        assert json.loads((folder / "aigve_profile.json").read_text())["profile"] == "aigve"


def test_training_lowers_the_loss_on_the_training_videos(run_a, tiny_model, bench):
    """Same batch, base model vs. base + trained adapter (LoRA starts as a no-op, B = 0)."""
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from aigve.training.collate import AUX_KEYS, TrainingCollator
    from aigve.training.data import VideoExampleDataset, load_examples
    from aigve.training.loss import weighted_token_loss

    _, out, _ = run_a
    recipe = load_recipe(out / "train_recipe.yaml")
    train_ids = set(json.loads((out / "data_splits.json").read_text())["train"]["ids"])
    loaded = load_examples(bench, video_dir=bench.parent / "videos", skip_bad=True)
    examples = [e for e in loaded.examples if e.id in train_ids]
    ds = VideoExampleDataset(examples, recipe.sampling_config())
    batch = TrainingCollator(AutoProcessor.from_pretrained(tiny_model), recipe.role_weights())([ds[i] for i in range(len(ds))])
    inputs = {k: v for k, v in batch.items() if k not in AUX_KEYS}

    def loss(model) -> float:
        with torch.no_grad():
            logits = model(**inputs).logits
        return weighted_token_loss(logits, batch["labels"], batch["loss_weights"]).item()

    base = AutoModelForImageTextToText.from_pretrained(tiny_model).eval()
    before = loss(base)
    after = loss(PeftModel.from_pretrained(base, out).eval())
    assert after < before - 0.05, (before, after)
    merged = AutoModelForImageTextToText.from_pretrained(out / "merged").eval()
    assert loss(merged) == pytest.approx(after, rel=1e-4)


class _StopAt(TrainerCallback):
    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            control.should_training_stop = True


def test_resume_continues_step_count_and_schedule(run_a, tiny_model, bench, tmp_path):
    from aigve.training.run import run_training

    _, out_a, _ = run_a
    recipe = load_recipe(out_a / "train_recipe.yaml").replace(output_dir=str(tmp_path / "b"), eval_steps=None,
                                                                merge=False)
    first = run_training(recipe, callbacks=[_StopAt(2)])
    assert first.global_step == 2 and (tmp_path / "b" / "checkpoint-2").is_dir()
    resumed = run_training(recipe.replace(resume_from_checkpoint="last"))
    assert resumed.global_step == STEPS
    full = {h["step"]: h for h in _state(out_a / f"checkpoint-{STEPS}")["log_history"] if "loss" in h}
    again = {h["step"]: h for h in _state(tmp_path / "b" / f"checkpoint-{STEPS}")["log_history"] if "loss" in h}
    assert sorted(again) == list(range(1, STEPS + 1))  # steps 1-2 from the checkpoint, 3-4 from the resumed run
    for step in (3, 4):
        assert again[step]["learning_rate"] == pytest.approx(full[step]["learning_rate"], rel=1e-9)
        assert again[step]["loss"] == pytest.approx(full[step]["loss"], rel=1e-4)


def test_adapter_loads_and_runs_in_aigve_score(run_a, tiny_model, bench, tmp_path):
    pytest.importorskip("aigve.backends.macs")
    _, out, _ = run_a
    video = sorted((bench.parent / "videos").glob("*.mp4"))[0]
    rc = main(["score", str(video), "--prompt", "A red car drives at night", "--model", str(tiny_model),
               "--adapter", str(out), "--out", str(tmp_path / "scored"), "--device", "cpu", "--no-progress",
               "--max-pixels", "3136", "--min-pixels", "784", "--max-frames", "4", "--min-frames", "2",
               "--backend-option", 'generation={"force_new_tokens": 8}'])
    records = [json.loads(line) for line in (tmp_path / "scored" / "results.jsonl").read_text().splitlines()]
    assert len(records) == 1 and rc in (0, 1)  # random weights: the text need not parse
    assert str(out) in json.dumps(records[0])


def test_lora_options_choose_what_trains(tiny_model):
    from aigve.training.trainer import build_model

    base = {"model": str(tiny_model), "data": "unused.json", "gradient_checkpointing": False}
    names = {}
    for label, extra in {"frozen": {}, "merger": {"train_merger": True}, "vision_lora": {"vision": "lora"},
                         "vision_full": {"vision": "full"}}.items():
        model, _ = build_model(load_recipe(None, {**base, **extra}))
        names[label] = {n for n, p in model.named_parameters() if p.requires_grad}
    assert names["frozen"] and all("language_model" in n and "lora_" in n for n in names["frozen"])
    assert any("merger" in n for n in names["merger"]) and not any("blocks" in n for n in names["merger"])
    assert any("visual.blocks" in n and "lora_" in n for n in names["vision_lora"])
    assert any("visual" in n and ".blocks." in n and "lora_" not in n for n in names["vision_full"])


def test_init_adapter_continues_from_an_existing_adapter(tiny_model, tmp_path):
    from aigve.testing.tiny import build_tiny_adapter
    from aigve.training.trainer import build_model

    adapter = build_tiny_adapter(tiny_model, tmp_path / "lora")
    recipe = load_recipe(None, {"model": str(tiny_model), "data": "unused.json", "init_adapter": str(adapter),
                                "gradient_checkpointing": False})
    model, _ = build_model(recipe)
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    assert any(p.abs().sum() > 0 for n, p in trainable.items() if "lora_B" in n)  # loaded, not a fresh zero B


@pytest.mark.slow
def test_torchrun_two_processes_train_one_model_with_ddp(tiny_model, bench, tmp_path):
    """`torchrun` needs no code change: 2 CPU processes (gloo) share the data, only rank 0 reports."""
    import os
    import subprocess
    import sys

    out = tmp_path / "ddp"
    args = _args(tiny_model, bench, out)[1:]  # drop the "train" subcommand: train/train.py adds it
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           str(CONFIGS.parents[1] / "train" / "train.py"), *args, "--max-steps", "3"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("done: 3 steps") == 1
    summary = json.loads((out / "train_summary.json").read_text())
    train = summary["counts"]["train"]
    # Each process sees half the videos, so an epoch is ceil(train / 2) steps (a single process: train steps).
    assert _state(out / "checkpoint-3")["epoch"] == pytest.approx(3 / -(-train // 2))
    assert train > 3
