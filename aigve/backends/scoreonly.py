"""Score-only judging: each aspect's score read from the judge's next-token distribution, no comments generated.

The answer skeleton ``{"technical_quality": {"score": D}, "dynamic": {"score": D}, ...}`` (the scores-only
training target of :func:`aigve.prompt.format_answer`) is appended to the prompt and teacher-forced. At each
score slot the model's distribution over the digit tokens ``0``..``5`` gives

* ``expected_scores[k] = sum_d p_d * d`` (p renormalised over the six digits): a continuous score,
* ``confidence[k] = max_d p_d``, ``extra["score_entropy"][k] = -sum_d p_d ln p_d`` (nats, 0 = certain,
  ln 6 = 1.79 = uniform) and ``extra["score_digit_mass"][k]`` (the digits' share of the full vocabulary),
* ``scores[k] = argmax_d p_d`` (also written out as a JSON ``text``).

How this differs from full generation: the released model writes each aspect's *comment before its score*,
so a generated score is conditioned on the model's own written reasoning (and on its earlier comments and
scores). Score-only mode skips the comments, so each score is conditioned only on the video, the instruction
and the skeleton; its expected scores are a different estimator, not a faster copy of the generated ones.
``aigve bench`` measures how well the two agree (mean absolute difference, Spearman) on your model.

``fill`` picks what later slots see of earlier ones:

* ``placeholder`` (default, fastest): one forward pass (prefill only) over prompt + skeleton with every slot
  holding ``placeholder``; all nine distributions are read from that single pass. Later aspects see the
  placeholder digit, not the model's own earlier choice.
* ``greedy``: the prompt is prefilled once, then each slot gets the model's own argmax digit before the next
  chunk of skeleton runs on the cached prefix (one short cached step per aspect), i.e. exactly what greedy
  decoding constrained to the skeleton would produce.

KV reuse (:mod:`aigve.backends.kvcache`): :meth:`ScoreOnlyBackend.score_aspect_sets` scores several aspect
subsets of each video and :meth:`ScoreOnlyBackend.score_prompts` several prompts of one video, running the
video + instruction prefix once and only the differing tail for each.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import TYPE_CHECKING, Any

import numpy as np

from aigve.aspects import ASPECT_KEYS, canonical_key
from aigve.backends.base import BackendOutput
from aigve.backends.digit_scores import SCORE_VALUES, digit_mass, expected_digit_score, locate_score_digits
from aigve.backends.macs import MacsBackend, PreparedBatch, check_prepared
from aigve.errors import ConfigError, ModelLoadError
from aigve.prompt import format_answer

if TYPE_CHECKING:
    from aigve.media import SampledVideo

logger = logging.getLogger(__name__)

FILL_MODES = ("placeholder", "greedy")


@dataclass(frozen=True)
class Skeleton:
    """A tokenised answer skeleton: ``ids`` (S token ids), ``slots`` (aspect key -> index of its score digit)."""

    text: str
    ids: tuple[int, ...]
    slots: dict[str, int]


def build_skeleton(tokenizer: Any, aspects: Sequence[str], *, released_keys: bool = True, placeholder: int = 3) -> Skeleton:
    """Tokenise the scores-only answer for ``aspects`` and find each score digit's token.

    Raises ModelLoadError when a score digit is not its own token (then no slot distribution exists).
    """
    text = format_answer(dict.fromkeys(aspects, placeholder), None, released_keys=released_keys)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = list(enc["input_ids"]), list(enc["offset_mapping"])
    slots: dict[str, int] = {}
    for key, char in locate_score_digits(text).items():
        token = next((i for i, (a, b) in enumerate(offsets) if a <= char < b), None)
        if token is None or (offsets[token][1] - offsets[token][0]) != 1:
            raise ModelLoadError(f"tokenizer merges the score digit of {key!r} with other characters "
                                 f"({text[offsets[token][0]:offsets[token][1]]!r}); score-only mode needs "
                                 f"single-token digits (Qwen tokenizers split digits)" if token is not None else
                                 f"no token covers the score digit of {key!r}")
        slots[key] = token
    order = [k for k in ASPECT_KEYS if k in slots]
    return Skeleton(text=text, ids=tuple(ids), slots={k: slots[k] for k in order})


def digit_statistics(digit_logits: np.ndarray, logsumexp: float | None = None) -> dict[str, float]:
    """Expected score, confidence, entropy (nats), argmax score and digit mass from one slot's 6 digit logits."""
    expected, confidence = expected_digit_score(digit_logits, range(len(SCORE_VALUES)))
    z = np.asarray(digit_logits, dtype=np.float64)
    p = np.exp(z - z.max())
    p /= p.sum()
    nz = p[p > 0]
    stats = {"expected": expected, "confidence": confidence, "entropy": float(-(nz * np.log(nz)).sum()),
             "score": int(SCORE_VALUES[int(np.argmax(p))])}
    if logsumexp is not None:
        stats["mass"] = digit_mass(z, logsumexp)
    return stats


def _aspect_keys(aspects: Sequence[str] | None) -> list[str]:
    if aspects is None:
        return list(ASPECT_KEYS)
    keys = []
    for name in aspects:
        key = canonical_key(name)
        if key is None:
            raise ConfigError("aspects", name, f"unknown aspect; choose from {', '.join(ASPECT_KEYS)}")
        keys.append(key)
    return keys


class ScoreOnlyBackend(MacsBackend):
    """Transformers judge that reads scores from digit probabilities instead of generating an answer.

    Takes every :class:`~aigve.backends.macs.MacsBackend` option (model, adapter, dtype, device, ...) plus
    ``aspects`` (subset to score; default all nine), ``fill`` (``placeholder`` or ``greedy``, see the module
    docstring) and ``placeholder`` (the digit written in unscored slots for ``fill="placeholder"``).
    """

    name = "macs-scores"

    def __init__(self, *args: Any, aspects: Sequence[str] | None = None, fill: str = "placeholder",
                 placeholder: int = 3, **kwargs: Any):
        try:
            super().__init__(*args, **kwargs)
        except TypeError as exc:  # an option MacsBackend does not take: say which ones it does
            import inspect

            known = [n for n in inspect.signature(MacsBackend.__init__).parameters if n != "self"]
            raise ConfigError("backend option", ", ".join(kwargs), f"{exc}; macs-scores takes: "
                              f"{', '.join(known + ['aspects', 'fill', 'placeholder'])}") from None
        self._configure(aspects, fill, placeholder)

    @classmethod
    def from_backend(cls, backend: MacsBackend, **options: Any) -> ScoreOnlyBackend:
        """Share an already-loaded MacsBackend's model and processor (no second load)."""
        obj = cls.__new__(cls)
        obj.__dict__.update(backend.__dict__)
        obj._configure(options.pop("aspects", None), options.pop("fill", "placeholder"),
                       options.pop("placeholder", 3))
        if options:
            raise ConfigError(next(iter(options)), None, "unknown ScoreOnlyBackend option; use aspects, fill, placeholder")
        return obj

    def _configure(self, aspects: Sequence[str] | None, fill: str, placeholder: int) -> None:
        if self.profile.output_format != "aigve_json":  # the teacher-forced skeleton is the AIGVE-MACS JSON answer
            raise ConfigError("profile", self.profile.name, f"macs-scores reads the nine-aspect JSON answer; the "
                              f"{self.profile.output_format} answer of this profile needs the generating 'macs' backend")
        if fill not in FILL_MODES:
            raise ConfigError("fill", fill, f"choose one of {', '.join(FILL_MODES)}")
        if placeholder not in SCORE_VALUES:
            raise ConfigError("placeholder", placeholder, f"must be a score digit {SCORE_VALUES[0]}..{SCORE_VALUES[-1]}")
        if self.digit_ids is None:
            raise ModelLoadError(f"{self.model_source.name}: score digits are not single tokens; score-only mode "
                                 f"needs them (use the generating 'macs' backend)")
        self.aspects, self.fill, self.placeholder = _aspect_keys(aspects), fill, int(placeholder)
        self._skeletons: dict[tuple[str, ...], Skeleton] = {}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "name": self.name, "mode": "scores_only", "fill": self.fill,
                "placeholder": self.placeholder if self.fill == "placeholder" else None, "aspects": list(self.aspects)}

    def skeleton(self, aspects: Sequence[str] | None = None) -> Skeleton:
        keys = tuple(_aspect_keys(aspects) if aspects is not None else self.aspects)
        if keys not in self._skeletons:
            self._skeletons[keys] = build_skeleton(self.processor.tokenizer, keys, released_keys=self.released_keys,
                                                   placeholder=self.placeholder)
        return self._skeletons[keys]

    # ------------------------------------------------------------------------------------------ scoring

    def score(self, videos: Sequence[SampledVideo], prompts: Sequence[str],
              prepared: PreparedBatch | None = None) -> list[BackendOutput]:
        """Scores of ``self.aspects`` for each video; one forward pass per batch (``fill="placeholder"``).

        ``prepared``: :meth:`prepare` of the same lists, done ahead by the evaluator (else done now).
        """
        prepared = check_prepared(prepared, videos) or self.prepare(videos, prompts)
        start = perf_counter()
        inputs = prepared.inputs.to(self.device)
        skel = self.skeleton()
        preprocess_s = prepared.preprocess_s + perf_counter() - start
        start = perf_counter()
        digits, lse = self._slot_logits(inputs, skel)
        model_s = self._sync(start)
        n = len(videos)
        outputs = [self._output(skel, digits[row], lse[row], inputs, row) for row in range(n)]
        for out in outputs:
            out.timings = {"preprocess_s": preprocess_s / n, "model_s": model_s / n}
            out.extra["batch_size"] = n
        return outputs

    def _slot_logits(self, inputs: Any, skel: Skeleton) -> tuple[np.ndarray, np.ndarray]:
        """(B, K, 6) digit logits and (B, K) log-partition at the K slots of ``skel``."""
        import torch

        from aigve.backends import kvcache

        if self.fill == "greedy":
            return self._greedy(kvcache.encode_prefix(self.model, inputs), skel)
        b, p = inputs["input_ids"].shape
        ids = torch.tensor(skel.ids, dtype=inputs["input_ids"].dtype, device=inputs["input_ids"].device)
        full = dict(inputs)
        full["input_ids"] = torch.cat([inputs["input_ids"], ids.expand(b, -1)], dim=1)
        full["attention_mask"] = torch.cat([inputs["attention_mask"], torch.ones_like(full["input_ids"][:, p:])], dim=1)
        full["mm_token_type_ids"] = torch.cat([inputs["mm_token_type_ids"], torch.zeros_like(full["input_ids"][:, p:])], dim=1)
        positions = torch.tensor([p + s - 1 for s in skel.slots.values()]).expand(b, -1)
        return self._digits(kvcache.full_forward(self.model, full, positions))

    def _greedy(self, prefix: Any, skel: Skeleton) -> tuple[np.ndarray, np.ndarray]:
        """Fill slot after slot with the argmax digit, each chunk run on the cached prefix."""
        import torch

        from aigve.backends import kvcache

        slots = list(skel.slots.values())
        b = prefix.batch_size
        start, first = 0, [[] for _ in range(b)]
        digits, lse = [], []
        for slot in slots:
            chunk = [f + list(skel.ids[start:slot]) for f in first]
            logits, cache = kvcache.extend(self.model, prefix, chunk, [[len(c) - 1] for c in chunk],
                                           pad_id=self.processor.tokenizer.pad_token_id or 0, keep=True, copy=False)
            d, z = self._digits(logits)
            digits.append(d[:, 0])
            lse.append(z[:, 0])
            best = d[:, 0].argmax(-1)
            first = [[self.digit_ids[int(i)]] for i in best]
            ids = torch.tensor(chunk, dtype=prefix.input_ids.dtype, device=prefix.input_ids.device)
            prefix = kvcache.Prefix(cache, torch.cat([prefix.input_ids, ids], 1),
                                    torch.cat([prefix.attention_mask, torch.ones_like(ids)], 1),
                                    torch.cat([prefix.mm_token_type_ids, torch.zeros_like(ids)], 1),
                                    prefix.video_grid_thw, prefix.second_per_grid_ts, None)
            start = slot + 1
        return np.stack(digits, axis=1), np.stack(lse, axis=1)

    def _digits(self, logits: Any) -> tuple[np.ndarray, np.ndarray]:
        import torch

        index = torch.tensor(self.digit_ids, device=logits.device)
        return logits.index_select(-1, index).cpu().numpy(), torch.logsumexp(logits, dim=-1).cpu().numpy()

    def _sync(self, start: float) -> float:
        if str(self.device).startswith("cuda"):
            import torch

            torch.cuda.synchronize()
        return perf_counter() - start

    def _output(self, skel: Skeleton, digits: np.ndarray, lse: np.ndarray, inputs: Any, row: int) -> BackendOutput:
        from aigve.parsing import ParsedResponse

        parsed = ParsedResponse(flags=["scores_only"])
        expected: dict[str, float | None] = dict.fromkeys(ASPECT_KEYS)
        confidence: dict[str, float | None] = dict.fromkeys(ASPECT_KEYS)
        entropy, mass = {}, {}
        for k, key in enumerate(skel.slots):
            stats = digit_statistics(digits[k], float(lse[k]))
            parsed.scores[key] = stats["score"]
            expected[key], confidence[key] = stats["expected"], stats["confidence"]
            entropy[key], mass[key] = stats["entropy"], stats["mass"]
        text = format_answer({k: parsed.scores[k] for k in skel.slots}, None, released_keys=self.released_keys)
        grid = inputs["video_grid_thw"][row].tolist()
        extra: dict[str, Any] = {
            "mode": "scores_only", "fill": self.fill,
            "prompt_tokens": int(inputs["attention_mask"][row].sum()), "skeleton_tokens": len(skel.ids),
            "visual_tokens": int(np.prod(grid)) // self.processor.video_processor.merge_size ** 2,
            "score_entropy": entropy, "score_digit_mass": mass,
        }
        if "second_per_grid_ts" in inputs:
            extra["second_per_grid_ts"] = float(inputs["second_per_grid_ts"][row])
        return BackendOutput(text=text, parsed=parsed, expected_scores=expected, confidence=confidence,
                             num_generated_tokens=0, extra=extra)

    # ------------------------------------------------------------------------------------------ KV reuse

    def score_aspect_sets(self, videos: Sequence[SampledVideo], prompts: Sequence[str],
                          aspect_sets: Sequence[Sequence[str]]) -> list[list[BackendOutput]]:
        """For each video, one output per aspect subset; the video + instruction prefix runs once per video.

        Uses ``fill="placeholder"`` skeletons (one cached pass per subset). Returns ``[video][subset]``.
        """
        from aigve.backends import kvcache
        from aigve.backends.qwen_inputs import build_inputs

        inputs = build_inputs(self.processor, videos, prompts, self.released_keys, profile=self.profile).to(self.device)
        skels = [self.skeleton(s) for s in aspect_sets]
        prefix = kvcache.expand(kvcache.encode_prefix(self.model, inputs), len(skels))
        conts = [list(s.ids) for _ in videos for s in skels]
        reads = [[i - 1 for i in s.slots.values()] for _ in videos for s in skels]
        logits = kvcache.extend(self.model, prefix, conts, reads, pad_id=self.processor.tokenizer.pad_token_id or 0)
        digits, lse = self._digits(logits)
        out: list[list[BackendOutput]] = []
        for v in range(len(videos)):
            row_outputs = []
            for j, skel in enumerate(skels):
                r = v * len(skels) + j
                k = len(skel.slots)
                row_outputs.append(self._output(skel, digits[r, :k], lse[r, :k], inputs, v))
            out.append(row_outputs)
        return out

    def score_prompts(self, video: SampledVideo, prompts: Sequence[str]) -> list[BackendOutput]:
        """One output per prompt for the same ``video``; tokens shared by all prompts run once.

        The shared prefix is the longest common run of tokens (video and the instruction up to where the
        prompts differ); each prompt's tail plus the skeleton is a cached continuation.
        """
        from aigve.backends import kvcache
        from aigve.backends.qwen_inputs import build_inputs

        if not prompts:
            return []
        each = [build_inputs(self.processor, [video], [p], self.released_keys, profile=self.profile) for p in prompts]
        rows = [e["input_ids"][0].tolist() for e in each]
        common = _common_prefix_length(rows)
        first = each[0]
        prefix_inputs = {k: (v[:, :common] if k in ("input_ids", "attention_mask", "mm_token_type_ids") else v)
                         for k, v in first.items()}
        prefix_inputs = {k: v.to(self.device) for k, v in prefix_inputs.items()}
        prefix = kvcache.expand(kvcache.encode_prefix(self.model, prefix_inputs), len(prompts))
        skel = self.skeleton()
        conts = [r[common:] + list(skel.ids) for r in rows]
        reads = [[len(r) - common + i - 1 for i in skel.slots.values()] for r in rows]
        logits = kvcache.extend(self.model, prefix, conts, reads, pad_id=self.processor.tokenizer.pad_token_id or 0)
        digits, lse = self._digits(logits)
        return [self._output(skel, digits[i], lse[i], each[i], 0) for i in range(len(prompts))]


def _common_prefix_length(rows: Sequence[Sequence[int]]) -> int:
    """Length of the longest common prefix of the token rows, at most ``min(len) - 1`` (keep one token to run)."""
    shortest = min(len(r) for r in rows)
    n = 0
    while n < shortest - 1 and all(r[n] == rows[0][n] for r in rows):
        n += 1
    return n

