"""Tiny random-weight Qwen2.5-VL checkpoints, built offline in about a second, for tests and CI.

The folder looks exactly like a real checkpoint (``config.json``, ``model.safetensors``, tokenizer files,
processor configs, chat template, ``generation_config.json``), so every code path that loads
``xiaoliux/AIGVE-MACS`` through ``AutoProcessor`` / ``AutoModelForImageTextToText`` can be exercised
without the 7B weights. The weights are random: outputs are noise, never an evaluation.
With ``teach=True`` the random model is then fine-tuned for a few seconds on synthetic requests
(:mod:`aigve.testing.teach`) so that greedy decoding writes a parseable nine-aspect JSON answer and stops at
EOS: a "taught" test model for end-to-end runs. Its answers are a memorised format, still not an evaluation.
Both kinds carry the provenance stamp ``aigve_provenance.json`` (kind ``tiny``; see :mod:`aigve.core.provenance`),
``aigve_provenance`` in ``config.json``, and the older ``aigve_tiny.json`` marker.

The tokenizer is a byte-level BPE trained with the ``tokenizers`` library on a small corpus built from
aigve's own prompt and answer format (JSON, digits, all aspect keys in both spellings, English), with
Qwen's pre-tokenizer (digits split one per token) and Qwen's special tokens.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aigve.core import provenance
from aigve.errors import ConfigError

logger = logging.getLogger(__name__)

#: Bump when the build changes so cached folders are rebuilt.
BUILD_VERSION = 3
#: Default teaching steps (batches of 4 synthetic requests): 72 s of teaching (~40 s CPU) measured on the
#: project's shared 2-core machine at load average ~7 (`aigve testing build-tiny DIR --teach` prints the time).
TEACH_STEPS = 100
#: Weight init std of models that are then taught. At 0.2 the model's output swings with every input and
#: 100 steps leave some requests answered in broken JSON; from 0.1 the format is learnt with a clear margin.
TEACH_INIT_STD = 0.1
MARKER = "aigve_tiny.json"
#: Weight init std. Qwen's 0.02 makes a 64-wide model ignore its input (every video gets the same greedy
#: text); 0.2 makes outputs depend on the frames and the prompt, so tests can tell inputs apart.
INIT_STD = 0.2

#: Qwen2/2.5-VL special tokens, in Qwen's id order (they follow the BPE vocabulary here too).
SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>",
    "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>",
    "<|quad_start|>", "<|quad_end|>",
    "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
)

#: The chat template shipped with Qwen2-VL / Qwen2.5-VL Instruct checkpoints (video items become
#: ``<|vision_start|><|video_pad|><|vision_end|>``; the processor expands the pad per video).
QWEN_VL_CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Qwen2's pre-tokenizer regex: contractions, letters, single digits, punctuation runs, whitespace.
_QWEN_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

_ENGLISH = (
    "The video shows a calm beach with waves lapping on the sand under a clear blue sky.",
    "A person walks along the shore while the camera slowly pans to the right.",
    "The colours are natural, the frames are sharp, and there is no visible flicker or noise.",
    "Some objects morph between frames and the motion of the water looks unnatural.",
    "The prompt asks for a red car driving through a city at night, but the car is missing.",
    "Overall, the video is a faithful and pleasant realisation of the prompt, with minor artefacts.",
    "A cat jumps onto a wooden table, knocks over a cup of coffee and runs away.",
    "Gravity, lighting and shadows behave as expected; reflections on the wet road are plausible.",
)

#: The tiny judge's tokenizer and teaching use aigve's own prompt, so its folder records the ``aigve`` judge
#: profile (scoring it then uses that profile unless another is named; ``--profile macs-card`` also runs).
TINY_PROFILE = "aigve"
_REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                   "generation_config.json", MARKER, "aigve_profile.json")


def _corpus(seed: int) -> list[str]:
    """Training text for the tokenizer: instructions, JSON answers (both key spellings), digits, English."""
    from aigve.aspects import ASPECTS
    from aigve.prompt import SYSTEM_PROMPT, build_instruction, format_answer

    rng = random.Random(seed)
    texts = [SYSTEM_PROMPT, *_ENGLISH, " ".join(str(i) for i in range(100)), "0 1 2 3 4 5 6 7 8 9"]
    for released in (True, False):
        texts.append(build_instruction(_ENGLISH[0], released_keys=released))
        for _ in range(6):
            scores = {a.key: rng.randint(0, 5) for a in ASPECTS}
            comments = {a.key: rng.choice(_ENGLISH) for a in ASPECTS}
            texts.append(format_answer(scores, comments, released_keys=released))
            texts.append(json.dumps({a.key: scores[a.key] for a in ASPECTS}))
    for a in ASPECTS:
        texts.extend([a.key, a.released_key, a.label, a.definition, a.rubric, *a.aliases])
    return texts


def build_tiny_tokenizer(vocab_size: int = 1024, *, seed: int = 0):
    """A Qwen-style byte-level BPE ``PreTrainedTokenizerFast`` (specials after the BPE vocab)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(_QWEN_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False, min_frequency=2)
    tok.train_from_iterator(_corpus(seed), trainer=trainer)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens=list(SPECIAL_TOKENS[3:]),
        chat_template=QWEN_VL_CHAT_TEMPLATE,
        model_max_length=32768,
        padding_side="right",  # aigve must set left padding itself, as for real checkpoints
        clean_up_tokenization_spaces=False,
    )


def _mrope_section(head_dim: int) -> list[int]:
    """M-RoPE's split of the head_dim/2 rotary frequencies over (time, height, width), in the released
    proportions (the real 7B uses [16, 24, 24] of 64)."""
    half = head_dim // 2
    return [half - 2 * (half * 3 // 8), half * 3 // 8, half * 3 // 8]


#: attention heads of the tiny text models (2 of them key/value heads)
TINY_HEADS = 4


def _text_config(tokenizer, hidden: int, layers: int, init_std: float, *, rope_theta: float,
                 mrope_interleaved: bool = False) -> tuple[dict[str, int], dict]:
    """The special-token ids and the text config both tiny backbones share (they differ in rope_theta, Qwen3-VL's
    interleaved M-RoPE and its explicit head_dim): hidden ``hidden``, ``layers`` layers, 4 heads (2 KV)."""
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    rope = {"rope_type": "default", "rope_theta": rope_theta, "mrope_section": _mrope_section(hidden // TINY_HEADS)}
    if mrope_interleaved:
        rope["mrope_interleaved"] = True
    text = {
        "vocab_size": len(tokenizer), "hidden_size": hidden, "intermediate_size": hidden * 2,
        "num_hidden_layers": layers, "num_attention_heads": TINY_HEADS, "num_key_value_heads": 2,
        "max_position_embeddings": 32768, "rms_norm_eps": 1e-6, "rope_parameters": rope,
        "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"], "initializer_range": init_std,
    }
    return ids, text


def _vision_token_ids(ids: dict[str, int]) -> dict[str, int]:
    """The config's image/video/vision-boundary token ids (the same for both backbones)."""
    return {"image_token_id": ids["<|image_pad|>"], "video_token_id": ids["<|video_pad|>"],
            "vision_start_token_id": ids["<|vision_start|>"], "vision_end_token_id": ids["<|vision_end|>"]}


def tiny_config(tokenizer, *, hidden: int = 64, layers: int = 2, vision_hidden: int = 32, vision_depth: int = 2,
                init_std: float = INIT_STD):
    """``Qwen2_5_VLConfig`` sized for tests: hidden 64, 2 layers, 4 heads (2 KV), vision depth 2 / hidden 32."""
    from transformers import Qwen2_5_VLConfig

    ids, text = _text_config(tokenizer, hidden, layers, init_std, rope_theta=1000000.0)
    vision = {
        "depth": vision_depth, "hidden_size": vision_hidden, "intermediate_size": vision_hidden * 2,
        "num_heads": 2, "in_channels": 3, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2,
        "window_size": 112, "out_hidden_size": hidden, "fullatt_block_indexes": [vision_depth - 1],
        "tokens_per_second": 2, "initializer_range": init_std,
    }
    config = Qwen2_5_VLConfig(
        text_config=text, vision_config=vision,
        **_vision_token_ids(ids), tie_word_embeddings=False,
    )
    config.initializer_range = init_std  # read by the top-level model's weight init
    return config


#: Backbones the tiny kit builds (``config.model_type``).
ARCHS = ("qwen2_5_vl", "qwen3_vl")


def tiny_qwen3_vl_config(tokenizer, *, hidden: int = 64, layers: int = 2, vision_hidden: int = 32,
                         vision_depth: int = 2, init_std: float = INIT_STD):
    """``Qwen3VLConfig`` sized for tests: hidden 64, 2 layers, 4 heads (2 KV, head_dim 16), interleaved
    M-RoPE, vision depth 2 / hidden 32, patch 16 (Qwen3-VL's; frames are multiples of 32), one deepstack layer."""
    from transformers import Qwen3VLConfig

    ids, text = _text_config(tokenizer, hidden, layers, init_std, rope_theta=5000000.0, mrope_interleaved=True)
    text["head_dim"] = hidden // TINY_HEADS  # Qwen3-VL's config takes it explicitly
    vision = {
        "depth": vision_depth, "hidden_size": vision_hidden, "intermediate_size": vision_hidden * 2,
        "num_heads": 2, "in_channels": 3, "patch_size": 16, "spatial_merge_size": 2, "temporal_patch_size": 2,
        "out_hidden_size": hidden, "num_position_embeddings": 64, "deepstack_visual_indexes": [vision_depth - 1],
        "initializer_range": init_std,
    }
    config = Qwen3VLConfig(
        text_config=text, vision_config=vision,
        **_vision_token_ids(ids), tie_word_embeddings=False,
    )
    config.initializer_range = init_std
    return config


def _qwen3_vl_processor(tokenizer):
    from transformers import Qwen2VLImageProcessor, Qwen3VLProcessor
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor

    image = Qwen2VLImageProcessor(patch_size=16, merge_size=2, min_pixels=32 * 32, max_pixels=224 * 224)
    video = Qwen3VLVideoProcessor(patch_size=16, merge_size=2, cap_pixels_per_frame=False,
                                  size={"shortest_edge": 32 * 32, "longest_edge": 224 * 224})
    return Qwen3VLProcessor(image_processor=image, tokenizer=tokenizer, video_processor=video,
                            chat_template=QWEN_VL_CHAT_TEMPLATE)


def _processor(tokenizer):
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    # Small pixel caps keep anything that is resized by the processor cheap; aigve passes frames already
    # sized and turns resizing off, so these only matter for plain transformers use of the folder.
    image = Qwen2VLImageProcessor(min_pixels=28 * 28, max_pixels=224 * 224)
    video = Qwen2VLVideoProcessor(min_pixels=28 * 28, max_pixels=224 * 224, cap_pixels_per_frame=False)
    return Qwen2_5_VLProcessor(image_processor=image, tokenizer=tokenizer, video_processor=video,
                               chat_template=QWEN_VL_CHAT_TEMPLATE)


def _is_complete(folder: Path, params: dict) -> bool:
    marker = folder / MARKER
    if not all((folder / name).is_file() for name in _REQUIRED_FILES):
        return False
    try:
        return json.loads(marker.read_text()).get("params") == params
    except (OSError, ValueError):
        return False


def build_tiny_checkpoint(out_dir: str | os.PathLike, *, seed: int = 0, vocab_size: int = 1024,
                          hidden_size: int = 64, num_layers: int = 2, teach: bool = False,
                          teach_steps: int = TEACH_STEPS, progress: bool = False,
                          arch: str = "qwen2_5_vl") -> Path:
    """Write a tiny random-weight Qwen2.5-VL checkpoint folder to ``out_dir`` and return its path.

    Offline and deterministic in ``seed`` (weights; the tokenizer depends only on aigve's prompt format).
    ``teach``: start from weights of std :data:`TEACH_INIT_STD` and fine-tune them for ``teach_steps`` batches
    (about a minute on 2 CPU cores at the default; always on the CPU) so that
    it answers every request with a parseable nine-aspect JSON answer and stops at EOS (see
    :mod:`aigve.testing.teach`); the marker file then says ``"taught": true``. ``arch``: :data:`ARCHS`
    (``qwen3_vl``: a tiny Qwen3-VL with its own processor; not taught). ``progress``: a progress bar
    over the teaching steps on stderr (the command line shows one; tests stay quiet).
    Cached: if ``out_dir`` already holds a complete build with the same parameters it is returned as is.
    The build goes to a temporary sibling folder that is renamed into place, so an interrupted or
    concurrent build never leaves a half-written checkpoint behind. ~1 MB on disk, about a second.
    Load it with ``AutoModelForImageTextToText.from_pretrained(path)`` and ``AutoProcessor.from_pretrained(path)``.
    """
    import torch
    from transformers import GenerationConfig, Qwen2_5_VLForConditionalGeneration

    from aigve.backends.hf_checkpoint import quiet_progress_bars

    out = Path(out_dir).expanduser().resolve()
    if arch not in ARCHS:
        raise ConfigError("arch", arch, f"must be one of {', '.join(ARCHS)}")
    if arch != "qwen2_5_vl" and teach:
        raise ConfigError("teach", teach, f"only the qwen2_5_vl tiny checkpoint is taught (got arch {arch})")
    params = {"version": BUILD_VERSION, "seed": seed, "vocab_size": vocab_size,
              "hidden_size": hidden_size, "num_layers": num_layers}
    if arch != "qwen2_5_vl":  # the default build's parameters (and so its cache) stay as they were
        params["arch"] = arch
    if teach:
        from aigve.testing.teach import TEACH_VERSION

        if isinstance(teach_steps, bool) or not isinstance(teach_steps, int) or teach_steps < 1:
            raise ConfigError("teach_steps", teach_steps, "must be a positive integer (teaching steps)")
        params.update(teach=True, teach_steps=int(teach_steps), teach_version=TEACH_VERSION,
                      teach_init_std=TEACH_INIT_STD)
    if _is_complete(out, params):
        logger.debug("tiny checkpoint already built at %s", out)
        return out
    with staging_folder(out) as tmp:
        tokenizer = build_tiny_tokenizer(vocab_size, seed=seed)
        qwen3 = arch == "qwen3_vl"
        build_config = tiny_qwen3_vl_config if qwen3 else tiny_config
        config = build_config(tokenizer, hidden=hidden_size, layers=num_layers,
                              init_std=TEACH_INIT_STD if teach else INIT_STD)
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        try:
            if qwen3:
                from transformers import Qwen3VLForConditionalGeneration

                model = Qwen3VLForConditionalGeneration(config).eval()
            else:
                model = Qwen2_5_VLForConditionalGeneration(config).eval()
        finally:
            torch.random.set_rng_state(generator_state)  # don't disturb the caller's random stream
        eos = [tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.convert_tokens_to_ids("<|endoftext|>")]
        model.generation_config = GenerationConfig(bos_token_id=eos[1], eos_token_id=eos, pad_token_id=eos[1],
                                                   do_sample=False)
        stamp = provenance.tiny(bool(teach))
        model.config.aigve_tiny = True  # the older flag, still read
        model.config.aigve_provenance = stamp.to_dict()  # survives a copy of only the HF files
        processor = _qwen3_vl_processor(tokenizer) if qwen3 else _processor(tokenizer)
        marker: dict = {"params": params, "taught": bool(teach),
                        "warning": "random weights for tests: outputs are noise, not an evaluation"}
        if teach:
            marker.update(_teach(model, processor, steps=int(teach_steps), seed=seed, progress=progress))
        with quiet_progress_bars():
            model.save_pretrained(tmp, safe_serialization=True)
            processor.save_pretrained(tmp)
        n_params = sum(p.numel() for p in model.parameters())
        marker["num_parameters"] = n_params
        (tmp / MARKER).write_text(json.dumps(marker, indent=2))
        provenance.write_stamp(tmp, stamp, taught=bool(teach))  # what backends read (aigve.core.provenance)
        from aigve.judges.profiles import get_profile, write_profile_record

        write_profile_record(tmp, get_profile(TINY_PROFILE))
    logger.info("built tiny %s %s (%d parameters) at %s", "taught" if teach else "random-weight", arch,
                n_params, out)
    return out


def _teach(model, processor, *, steps: int, seed: int, progress: bool = False) -> dict:
    """Teach the answer format (seeded, without disturbing the caller's random stream); marker fields."""
    import torch

    from aigve.testing.teach import TAUGHT_COMMENT, teach

    state, threads = torch.random.get_rng_state(), torch.get_num_threads()
    torch.manual_seed(seed)
    # The tiny model's matrices are too small to split: with a busy core, several OpenMP threads spin
    # against each other and teaching took several times longer. One thread is fastest either way.
    torch.set_num_threads(1)
    try:
        stats = teach(model, processor, steps=steps, seed=seed, progress=progress)
    finally:
        torch.random.set_rng_state(state)
        torch.set_num_threads(threads)
    return {
        "warning": "random weights taught for a few seconds on synthetic clips to write the answer format: "
                   "its scores and comments are memorised placeholders, not an evaluation",
        "teach": {"steps": steps, "final_loss": round(stats["final_loss"], 6),
                  "seconds": round(stats["seconds"], 2), "comment": TAUGHT_COMMENT},
    }


def build_tiny_adapter(model_dir: str | os.PathLike, out_dir: str | os.PathLike, *, seed: int = 0,
                       rank: int = 4) -> Path:
    """Write a peft LoRA adapter for the tiny checkpoint at ``model_dir`` into ``out_dir``; return its path.

    Targets the language model's ``q/k/v/o_proj``. LoRA's B matrices are random (peft's default sets them
    to zero, which would make the adapter a no-op), so outputs differ from the base model.
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2_5_VLForConditionalGeneration

    from aigve.backends.hf_checkpoint import quiet_progress_bars

    out = Path(out_dir).expanduser().resolve()
    with quiet_progress_bars():
        model = Qwen2_5_VLForConditionalGeneration.from_pretrained(Path(model_dir), local_files_only=True)
    config = LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0, init_lora_weights=False,
                        target_modules=r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj)")
    state = torch.random.get_rng_state()
    torch.manual_seed(seed + 1)
    try:
        with warnings.catch_warnings():  # peft calls a transformers API deprecated in 5.x; not ours to fix
            warnings.simplefilter("ignore", FutureWarning)
            peft_model = get_peft_model(model, config)
    finally:
        torch.random.set_rng_state(state)
    with quiet_progress_bars():
        peft_model.save_pretrained(out)
    return out


@contextmanager
def staging_folder(out: Path) -> Iterator[Path]:
    """A temporary folder beside ``out`` that replaces ``out`` only when the block succeeds.

    An interrupted or failed build leaves nothing half-written where a loader would find it.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        yield tmp
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
