"""Token roles from character offsets, checked on three tokenizers that split digits differently."""

from __future__ import annotations

import json
import random
import re

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from aigve.aspects import ASPECTS, RELEASED_KEYS
from aigve.prompt import format_answer
from aigve.training.roles import COMMENT, END, KEY, SCORE, STRUCTURE, answer_spans, tokenize_target

COMMENTS = ["Sharp frames, no noise.", "The car is missing; only the road \"moves\".", "Smooth, natural motion.",
            "Water flows up: implausible.", "Most elements appear.", "Détaillé et réaliste.", "The cat jumps.",
            "A bit stiff.", "Good overall, minor artefacts."]


def _answers() -> list[str]:
    rng = random.Random(0)
    scores = {a.key: rng.randint(0, 5) for a in ASPECTS}
    with_comments = format_answer(scores, dict(zip([a.key for a in ASPECTS], COMMENTS, strict=True)))
    scores_only = format_answer(scores)
    multi = json.dumps({"overall": {"comment": "ten out of ten", "score": 10},
                        "physics": {"score": 123}, "dynamic": {"comment": "5 stars", "score": 7}}, indent=4)
    compact = json.dumps({"technical_quality": {"comment": "ok", "score": 45}}, separators=(",", ":"))
    return [with_comments, scores_only, multi, compact]


def _char_tokenizer(texts: list[str]) -> PreTrainedTokenizerFast:
    chars = sorted({c for t in texts for c in t})
    vocab = {"<unk>": 0, "<|im_end|>": 1, **{c: i + 2 for i, c in enumerate(chars)}}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", additional_special_tokens=["<|im_end|>"])


def _merging_tokenizer(texts: list[str]) -> PreTrainedTokenizerFast:
    """Byte-level BPE with no pre-split: merges freely across digits, quotes, colons and spaces."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    rng = random.Random(1)
    corpus = []
    for _ in range(200):
        corpus.append(format_answer({a.key: rng.randint(0, 5) for a in ASPECTS}, {a.key: "ok" for a in ASPECTS}))
    corpus += texts * 5
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=600, special_tokens=["<|im_end|>"],
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                        show_progress=False))
    return PreTrainedTokenizerFast(tokenizer_object=tok, additional_special_tokens=["<|im_end|>"])


@pytest.fixture(scope="module", params=["tiny_bpe", "char", "merging"])
def tokenizer(request):
    if request.param == "tiny_bpe":
        from aigve.testing.tiny import build_tiny_tokenizer

        return build_tiny_tokenizer()
    maker = _char_tokenizer if request.param == "char" else _merging_tokenizer
    return maker(_answers())


def _regex_spans(text: str, pattern: str) -> list[tuple[int, int]]:
    return [m.span(1) for m in re.finditer(pattern, text)]


def _overlaps(a: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    return any(a[0] < e and s < a[1] for s, e in spans)


@pytest.mark.parametrize("index", range(4))
def test_score_tokens_are_exactly_the_tokens_over_score_digits(tokenizer, index):
    text = _answers()[index]
    target = tokenize_target(tokenizer, text)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    offsets = [tuple(o) for o in enc["offset_mapping"]]
    digits = _regex_spans(text, r'"score":\s*(\d+)')
    assert digits, "test text has scores"
    is_score = [_overlaps(o, digits) for o in offsets]
    assert [r == SCORE for r in target.roles[:-1]] == is_score
    # Every digit of every score is covered by a score token.
    covered = {c for o, s in zip(offsets, is_score, strict=True) if s for c in range(*o)}
    assert all(c in covered for s, e in digits for c in range(s, e))
    # Exactly one "first score token" per score, tagged with its aspect in file order.
    aspects_in_text = [a.key for k in re.findall(r'"(\w+)":\s*\{', text)
                       for a in ASPECTS if k in (a.key, a.released_key)]
    assert [a for a in target.score_aspect if a] == aspects_in_text


@pytest.mark.parametrize("index", range(4))
def test_comment_and_key_tokens(tokenizer, index):
    text = _answers()[index]
    target = tokenize_target(tokenizer, text)
    offsets = [tuple(o) for o in tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]]
    comments = _regex_spans(text, r'"comment":\s*"((?:[^"\\]|\\.)*)"')
    keys = _regex_spans(text, r'"(\w+)":')
    digits = _regex_spans(text, r'"score":\s*(\d+)')
    for o, role in zip(offsets, target.roles, strict=False):
        if _overlaps(o, digits):
            assert role == SCORE
        elif _overlaps(o, comments):
            assert role == COMMENT
        elif _overlaps(o, keys):
            assert role == KEY
        else:
            assert role == STRUCTURE, (text[o[0]:o[1]], role)
    assert target.roles[-1] == END
    assert target.input_ids[-1] == tokenizer.convert_tokens_to_ids("<|im_end|>")


def test_char_tokenizer_counts_one_score_token_per_digit():
    text = _answers()[2]  # scores 10, 123, 7
    target = tokenize_target(_char_tokenizer(_answers()), text)
    assert target.roles.count(SCORE) == 2 + 3 + 1
    assert [a for a in target.score_aspect if a] == ["overall", "physics", "dynamic"]


def test_merging_tokenizer_really_merges_digits_with_punctuation():
    """Guards the test above: this tokenizer must put a score digit and non-digits in one token."""
    tok = _merging_tokenizer(_answers())
    text = _answers()[0]
    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
    digits = _regex_spans(text, r'"score":\s*(\d+)')
    pieces = [text[s:e] for s, e in enc["offset_mapping"] if _overlaps((s, e), digits)]
    assert any(re.search(r"\D", p) for p in pieces), pieces


def test_spans_use_released_and_canonical_keys_and_ignore_digits_in_comments():
    text = format_answer({"element_presence": 4, "overall": 2}, {"overall": "rated 5 by nobody"})
    assert '"element_presentence"' in text
    spans = answer_spans(text)
    scores = [(text[s.start:s.end], s.aspect) for s in spans if s.role == SCORE]
    assert scores == [("4", "element_presence"), ("2", "overall")]
    assert [text[s.start:s.end] for s in spans if s.role == COMMENT] == ["rated 5 by nobody"]
    assert {text[s.start:s.end] for s in spans if s.role == KEY} == {"element_presentence", "overall", "score", "comment"}
    assert set(RELEASED_KEYS) >= {"element_presentence"}


def test_slow_tokenizer_is_refused():
    from aigve.errors import ConfigError

    class Slow:
        is_fast = False

    with pytest.raises(ConfigError, match="fast tokenizer"):
        tokenize_target(Slow(), "{}")
