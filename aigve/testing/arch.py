"""Random-weight checkpoints with a real architecture's dimensions, to time the real model shape offline.

``aigve bench --random-init-arch qwen2.5-vl-7b`` builds a Qwen2.5-VL checkpoint folder with the released
7B judge's dimensions (28 layers of width 3584, 28 query / 4 key-value heads of 128, a 32-block vision
tower of width 1280, vocabulary 152064) and random weights: nothing is downloaded. The tokenizer is aigve's
small offline one (:mod:`aigve.testing.tiny`), so prompts are shorter than with Qwen's tokenizer and the
text is noise; visual token counts, the vision tower, attention and the 152k-row ``lm_head`` cost what
they cost in the real model. The processor uses Qwen2.5-VL's pixel limits. Never an evaluation.

``layers``, ``vision_depth`` and ``width_divisor`` scale the architecture down (keeping head sizes) so the
same code path runs on a CPU. :func:`check_full_size_on_cpu` refuses the full size on a CPU unless asked.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path
from typing import Any

from aigve.core import provenance
from aigve.errors import ConfigError

log = logging.getLogger(__name__)

#: Dimensions of released Qwen2.5-VL checkpoints (config.json of the Instruct models AIGVE-MACS builds on).
#: ``parameters``: the count :func:`count_parameters` gives (tests check it), for size estimates without a build.
ARCHS: dict[str, dict[str, Any]] = {
    "qwen2.5-vl-7b": {
        "parameters": 8_292_166_656,
        "text": {"hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28, "num_attention_heads": 28,
                 "num_key_value_heads": 4, "vocab_size": 152064, "max_position_embeddings": 128000,
                 "mrope_section": [16, 24, 24], "tie_word_embeddings": False},
        "vision": {"depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16,
                   "fullatt_block_indexes": [7, 15, 23, 31]},
    },
    "qwen2.5-vl-3b": {
        "parameters": 3_754_622_976,
        "text": {"hidden_size": 2048, "intermediate_size": 11008, "num_hidden_layers": 36, "num_attention_heads": 16,
                 "num_key_value_heads": 2, "vocab_size": 151936, "max_position_embeddings": 128000,
                 "mrope_section": [16, 24, 24], "tie_word_embeddings": True},
        "vision": {"depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16,
                   "fullatt_block_indexes": [7, 15, 23, 31]},
    },
}
MARKER = "aigve_random_arch.json"


def arch_config(name: str, tokenizer: Any, *, layers: int | None = None, vision_depth: int | None = None,
                width_divisor: int = 1, vocab_size: int | None = None):
    """``Qwen2_5_VLConfig`` with ``name``'s dimensions and ``tokenizer``'s special token ids.

    ``width_divisor`` divides head counts and MLP widths (head sizes stay 128 text / 80 vision); it must
    divide the key-value and vision head counts. ``layers``/``vision_depth`` cut the depth (the vision tower's
    full-attention blocks are spread evenly over the new depth).
    """
    from transformers import Qwen2_5_VLConfig

    from aigve.testing.tiny import SPECIAL_TOKENS

    if name not in ARCHS:
        raise ConfigError("random_init_arch", name, f"choose one of {', '.join(ARCHS)}")
    t, v = dict(ARCHS[name]["text"]), dict(ARCHS[name]["vision"])
    d = int(width_divisor)
    if d < 1 or t["num_key_value_heads"] % d or v["num_heads"] % d:
        raise ConfigError("width_divisor", width_divisor,
                          f"must divide {t['num_key_value_heads']} (KV heads) and {v['num_heads']} (vision heads)")
    head, vhead = t["hidden_size"] // t["num_attention_heads"], v["hidden_size"] // v["num_heads"]
    t_heads, v_heads = t["num_attention_heads"] // d, v["num_heads"] // d
    depth = vision_depth or v["depth"]
    full = sorted({min(depth - 1, (i + 1) * depth // len(v["fullatt_block_indexes"]) - 1)
                   for i in range(len(v["fullatt_block_indexes"]))}) if depth != v["depth"] else v["fullatt_block_indexes"]
    ids = {tok: tokenizer.convert_tokens_to_ids(tok) for tok in SPECIAL_TOKENS}
    text = {
        "vocab_size": vocab_size or t["vocab_size"], "hidden_size": head * t_heads, "intermediate_size": t["intermediate_size"] // d,
        "num_hidden_layers": layers or t["num_hidden_layers"], "num_attention_heads": t_heads,
        "num_key_value_heads": t["num_key_value_heads"] // d, "max_position_embeddings": t["max_position_embeddings"],
        "rms_norm_eps": 1e-6, "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0,
                                                  "mrope_section": t["mrope_section"]},
        "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"], "pad_token_id": ids["<|endoftext|>"],
    }
    vision = {"depth": depth, "hidden_size": vhead * v_heads, "intermediate_size": v["intermediate_size"] // d,
              "num_heads": v_heads, "in_channels": 3, "patch_size": 14, "spatial_merge_size": 2,
              "temporal_patch_size": 2, "window_size": 112, "out_hidden_size": head * t_heads,
              "fullatt_block_indexes": full, "tokens_per_second": 2}
    return Qwen2_5_VLConfig(text_config=text, vision_config=vision, image_token_id=ids["<|image_pad|>"],
                            video_token_id=ids["<|video_pad|>"], vision_start_token_id=ids["<|vision_start|>"],
                            vision_end_token_id=ids["<|vision_end|>"], tie_word_embeddings=t["tie_word_embeddings"])


def check_full_size_on_cpu(name: str, device: str, dtype: str, *, layers: int | None = None,
                           vision_depth: int | None = None, width_divisor: int = 1, allow: bool = False) -> None:
    """Raise ConfigError before anything is built when a full-size architecture would run on a CPU.

    The released 7B in float32 is ~33 GB of RAM and as much disk, and one bench pass over a few videos
    takes hours on a CPU: almost always a mistake (e.g. ``--device auto`` on a machine without a GPU).
    Scaling down (fewer ``layers`` or ``vision_depth`` than the architecture, ``width_divisor`` > 1), a
    non-CPU ``device`` or ``allow`` lets it through; so does an unknown ``name`` (:func:`arch_config` names it).
    """
    if allow or not str(device).startswith("cpu") or name not in ARCHS:
        return
    text, vision = ARCHS[name]["text"], ARCHS[name]["vision"]
    if (layers or text["num_hidden_layers"]) < text["num_hidden_layers"] or width_divisor > 1 \
            or (vision_depth or vision["depth"]) < vision["depth"]:
        return
    width = 2 if str(dtype).lower() in ("bfloat16", "bf16", "float16", "fp16", "half") else 4
    n, divisor = ARCHS[name]["parameters"], math.gcd(4, text["num_key_value_heads"], vision["num_heads"])
    gb = n * width / 1e9
    raise ConfigError("random_init_arch", name,
                      f"refused at full size on the CPU: {n / 1e9:.1f} billion parameters in "
                      f"{'float32' if width == 4 else dtype} need ~{gb:.0f} GB of RAM and ~{gb:.0f} GB of disk, and a "
                      f"bench run takes hours. Scale it down (e.g. `arch_layers=2` `arch_vision_depth=2` "
                      f"`arch_width_divisor={divisor}`), run where a GPU is visible (`device=cuda`), or set "
                      "`allow_full_size_on_cpu`")


def count_parameters(config: Any) -> int:
    """Parameters of the model ``config`` describes, counted on the meta device (no memory used)."""
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    with torch.device("meta"):
        model = Qwen2_5_VLForConditionalGeneration(config)
    return sum(p.numel() for p in model.parameters())


def _processor(tokenizer: Any):
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    from aigve.testing.tiny import QWEN_VL_CHAT_TEMPLATE

    # Qwen2.5-VL's released limits: images 4..16384 merged tokens; videos 128..768 per frame. Set explicitly:
    # the video processor's default size changed across transformers 5.x (5.17: 784..50176 pixels, which
    # would cap every frame at 224x224 and make the timed prompt far smaller than the real model's).
    image = Qwen2VLImageProcessor(min_pixels=4 * 28 * 28, max_pixels=16384 * 28 * 28)
    video = Qwen2VLVideoProcessor(size={"shortest_edge": 128 * 28 * 28, "longest_edge": 768 * 28 * 28})
    return Qwen2_5_VLProcessor(image_processor=image, tokenizer=tokenizer, video_processor=video,
                               chat_template=QWEN_VL_CHAT_TEMPLATE)


def build_random_checkpoint(name: str, out_dir: str | os.PathLike, *, dtype: str = "bfloat16", device: str = "cpu",
                            seed: int = 0, layers: int | None = None, vision_depth: int | None = None,
                            width_divisor: int = 1, vocab_size: int | None = None) -> Path:
    """Write a random-weight checkpoint of architecture ``name`` to ``out_dir`` (reused when already built).

    Weights are initialised on ``device`` (a GPU makes the 7B build take seconds) in ``dtype`` and saved
    as safetensors (about 16 GB for the 7B in bfloat16). ``vocab_size`` overrides the vocabulary (tests only:
    the real one makes even a one-layer model ~1 GB).
    """
    import torch
    from transformers import GenerationConfig, Qwen2_5_VLForConditionalGeneration

    from aigve.backends.hf_checkpoint import resolve_dtype
    from aigve.testing.tiny import build_tiny_tokenizer, staging_folder

    out = Path(out_dir).expanduser().resolve()
    params = {"arch": name, "seed": seed, "layers": layers, "vision_depth": vision_depth,
              "width_divisor": width_divisor, "dtype": dtype, "vocab_size": vocab_size}
    marker = out / MARKER
    if marker.is_file() and (out / provenance.STAMP_FILE).is_file() \
            and json.loads(marker.read_text()).get("params") == params:
        return out  # (a build from before the provenance stamp is rebuilt, so it is never read as real)
    tokenizer = build_tiny_tokenizer()
    config = arch_config(name, tokenizer, layers=layers, vision_depth=vision_depth, width_divisor=width_divisor,
                         vocab_size=vocab_size)
    with staging_folder(out) as tmp:
        state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        try:
            with torch.device(device):
                model = Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=resolve_dtype(dtype, device))
        finally:
            torch.random.set_rng_state(state)
        eos = [tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.convert_tokens_to_ids("<|endoftext|>")]
        model.generation_config = GenerationConfig(bos_token_id=eos[1], eos_token_id=eos, pad_token_id=eos[1])
        stamp = provenance.random_arch(name)
        model.config.aigve_provenance = stamp.to_dict()  # read by every backend that loads it: never a real judge
        model.save_pretrained(tmp, safe_serialization=True)
        _processor(tokenizer).save_pretrained(tmp)
        n = sum(p.numel() for p in model.parameters())
        (tmp / MARKER).write_text(json.dumps({"params": params, "num_parameters": n,
                                              "warning": "random weights: outputs are noise, not an evaluation"}))
        provenance.write_stamp(tmp, stamp)
        del model
    log.info("built random %s (%d parameters) at %s", name, n, out)
    return out
