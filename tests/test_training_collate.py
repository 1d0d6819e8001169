"""Batches: the evaluator's exact request + the answer, labels masked to the answer, weights by role."""

from __future__ import annotations

import json

import pytest
import torch
from test_training_data import TINY_SAMPLING, write_bench

from aigve.aspects import ASPECT_KEYS
from aigve.config import SamplingConfig
from aigve.training.collate import AUX_KEYS, TrainingCollator
from aigve.training.data import VideoExampleDataset, load_examples
from aigve.training.loss import weighted_token_loss
from aigve.training.recipe import TrainRecipe
from aigve.training.roles import ROLES
from aigve.training.trainer import logits_window, read_scores

WEIGHTS = {"structure": 0.25, "key": 0.5, "comment": 1.0, "score": 3.0, "end": 2.0}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def processor(tiny_model):
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(tiny_model)


@pytest.fixture(scope="module")
def model(tiny_model):
    from transformers import AutoModelForImageTextToText

    return AutoModelForImageTextToText.from_pretrained(tiny_model).eval()


@pytest.fixture(scope="module")
def items(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    path = write_bench(root, n=2, comments=True)
    examples = load_examples(path, video_dir=root / "videos").examples
    examples[1].comments = {}  # one example with scores only: sequences differ in length
    ds = VideoExampleDataset(examples, SamplingConfig.from_dict(TINY_SAMPLING))
    return [ds[0], ds[1]]


def test_prompt_part_is_exactly_the_evaluator_request(processor, items):
    from aigve.backends.qwen_inputs import build_inputs

    batch = TrainingCollator(processor, WEIGHTS)(items[:1])
    ref = build_inputs(processor, [items[0]["video"]], [items[0]["prompt"]], released_keys=True)
    n = ref["input_ids"].shape[1]
    assert torch.equal(batch["input_ids"][0, :n], ref["input_ids"][0])
    assert torch.equal(batch["mm_token_type_ids"][0, :n], ref["mm_token_type_ids"][0])
    assert torch.equal(batch["pixel_values_videos"], ref["pixel_values_videos"])
    assert torch.equal(batch["video_grid_thw"], ref["video_grid_thw"])
    spg = 2 / items[0]["video"].plan.sampled_fps
    assert batch["second_per_grid_ts"].tolist() == pytest.approx([spg])


def test_labels_cover_the_answer_and_im_end_only(processor, items):
    batch = TrainingCollator(processor, WEIGHTS)(items)
    tok = processor.tokenizer
    for row, item in enumerate(items):
        labels = batch["labels"][row]
        ids = labels[labels != -100].tolist()
        assert tok.decode(ids) == item["answer"] + "<|im_end|>"
        # the answer sits right after the generation prompt, and nothing after it is labelled
        start = int((labels != -100).nonzero()[0])
        assert tok.decode(batch["input_ids"][row, :start]).endswith("<|im_start|>assistant\n")
        assert batch["attention_mask"][row].sum() == start + len(ids)
    assert batch["labels"].shape == batch["input_ids"].shape == batch["loss_weights"].shape
    assert (batch["loss_weights"][batch["labels"] == -100] == 0).all()
    assert json.loads(items[0]["answer"])["overall"]["comment"]  # example 0 has comments, so is longer
    assert batch["attention_mask"][1, -1] == 0  # example 1 is right-padded


def test_weights_follow_roles_and_score_positions_point_at_the_digits(processor, items):
    batch = TrainingCollator(processor, WEIGHTS)(items)
    tok = processor.tokenizer
    weights = batch["loss_weights"][batch["labels"] != -100]
    assert set(weights.tolist()) == {WEIGHTS[r] for r in ROLES}
    for row, item in enumerate(items):
        for j, key in enumerate(ASPECT_KEYS):
            pos = int(batch["score_positions"][row, j])
            assert tok.decode([int(batch["input_ids"][row, pos])]) == str(item["scores"][key])
            assert batch["loss_weights"][row, pos] == WEIGHTS["score"]
            assert batch["human_scores"][row, j] == item["scores"][key]
        last = int(batch["attention_mask"][row].sum()) - 1
        assert batch["loss_weights"][row, last] == WEIGHTS["end"]


def test_unit_weight_loss_equals_the_model_loss_with_logits_window(processor, model, items):
    """weighted_token_loss with weights 1 on the kept logits == transformers' own mean CE on full logits."""
    batch = TrainingCollator(processor, dict.fromkeys(ROLES, 1.0))(items)
    inputs = {k: v for k, v in batch.items() if k not in AUX_KEYS}
    with torch.no_grad():
        ref = model(**inputs, labels=batch["labels"]).loss
        keep = logits_window(batch["labels"])
        assert keep < batch["labels"].shape[1]  # the prompt's logits are skipped
        out = model(**inputs, logits_to_keep=keep)
    off = batch["labels"].shape[1] - keep
    ours = weighted_token_loss(out.logits, batch["labels"][:, off:], batch["loss_weights"][:, off:])
    assert ours.item() == pytest.approx(ref.item(), rel=1e-5)


def test_read_scores_uses_the_logits_one_step_before_each_score(processor, model, items):
    batch = TrainingCollator(processor, WEIGHTS)(items)
    digit_ids = [processor.tokenizer.convert_tokens_to_ids(str(d)) for d in range(6)]
    logits = torch.zeros(2, batch["input_ids"].shape[1], len(processor.tokenizer))
    pos = batch["score_positions"]
    logits[0, pos[0, 0] - 1, digit_ids[4]] = 50.0  # certain "4" for technical_quality of example 0
    preds = read_scores(logits, pos, digit_ids)
    assert preds[0, 0].item() == pytest.approx(4.0)
    assert preds[1, 0].item() == pytest.approx(2.5)  # flat over 0-5
    missing = pos.clone()
    missing[1, 3] = -1
    assert torch.isnan(read_scores(logits, missing, digit_ids)[1, 3])


def test_unknown_role_weight_is_rejected(processor):
    with pytest.raises(ValueError, match="unknown token roles"):
        TrainingCollator(processor, {"scores": 1.0})
    assert set(TrainRecipe().role_weights()) == set(ROLES)
