"""The training recipe: one validated dataclass, read from YAML and overridden from the command line.

Kept free of torch/transformers imports so ``aigve train --help`` and config validation stay instant.
A recipe file is a flat YAML mapping of :class:`TrainRecipe` fields; ``sampling`` is a nested mapping of
:class:`aigve.config.SamplingConfig` fields. Every field can be overridden on the command line with
``--field-name VALUE`` (short aliases such as ``--lr``) or ``--set field=value`` /
``--set sampling.max_frames=8`` (values parsed as YAML scalars).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from aigve.config import SamplingConfig
from aigve.core import validate
from aigve.errors import ConfigError

VISION_MODES = ("frozen", "lora", "full")
PRECISIONS = ("auto", "bf16", "fp16", "fp32")
VAL_METHODS = ("teacher_forced", "none")
# Short command-line aliases for the fields people change most.
ALIASES = {"lr": "learning_rate", "epochs": "num_train_epochs", "bs": "per_device_batch_size",
           "grad_accum": "gradient_accumulation_steps"}


def _lora_targets() -> list[str]:
    return ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class TrainRecipe:
    """Every knob of a LoRA fine-tuning run. Defaults are the ``default`` recipe.

    Data: ``data`` (AIGVE-Bench JSON, JSONL or CSV; see :func:`aigve.annotations.load_annotations`),
    ``video_dir`` (default: the data file's folder), ``val_fraction``/``test_fraction`` (share of
    *prompts* per split), ``split_salt`` (changes the split without changing fractions),
    ``skip_bad`` (skip entries with missing videos/fields instead of stopping),
    ``require_all_aspects`` (an entry must rate all nine aspects).
    Judge profile: ``profile`` (:mod:`aigve.judges.profiles`; None = the one recorded with ``model`` /
    ``init_adapter``, else ``macs-card``) decides the prompt, the frames and the target serialisation, and is
    recorded beside the adapter (``aigve_profile.json``) so scoring with the adapter uses it.
    Loss: ``weight_*`` per token role (see :mod:`aigve.training.roles`), normalised by the weight sum.
    Model: ``lora_*``; ``vision`` = ``frozen`` | ``lora`` | ``full``; ``train_merger`` trains the
    vision-language merger fully (saved with the adapter). ``precision`` ``auto`` = bf16 where the GPU
    supports it, else fp32.
    Output: ``output_dir`` receives the adapter (top level, loadable by ``aigve score --adapter``),
    ``train_recipe.yaml``, ``data_splits.json``, ``train_summary.json``, ``checkpoint-*`` and, with
    ``merge``, a merged model in ``merged/``.
    """

    model: str | None = None
    data: str | None = None
    video_dir: str | None = None
    output_dir: str = "runs/aigve-lora"
    val_fraction: float = 0.05
    test_fraction: float = 0.05
    split_salt: str = "aigve-v1"
    skip_bad: bool = False
    require_all_aspects: bool = True
    released_keys: bool = True
    profile: str | None = None
    sampling: dict[str, Any] = field(default_factory=dict)

    weight_score: float = 2.0
    weight_comment: float = 1.0
    weight_key: float = 0.5
    weight_structure: float = 0.5
    weight_end: float = 1.0

    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_targets: list[str] = field(default_factory=_lora_targets)
    vision: str = "frozen"
    train_merger: bool = False
    init_adapter: str | None = None

    learning_rate: float = 1e-4
    num_train_epochs: float = 1.0
    max_steps: int = -1
    per_device_batch_size: int = 1
    gradient_accumulation_steps: int = 8
    warmup_ratio: float = 0.03
    lr_scheduler: str = "cosine"
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    precision: str = "auto"
    gradient_checkpointing: bool = True
    attn_implementation: str | None = "sdpa"
    seed: int = 42
    num_workers: int = 2

    logging_steps: int = 10
    save_steps: int = 200
    save_total_limit: int | None = 3
    eval_steps: int | None = 200
    val_method: str = "teacher_forced"
    val_max_examples: int | None = 256
    resume_from_checkpoint: str | None = None
    deepspeed: str | None = None
    report_to: str = "none"
    merge: bool = False
    progress_bar: bool = True

    def __post_init__(self) -> None:
        for name in ("val_fraction", "test_fraction"):
            validate.fraction(name, getattr(self, name), open_high=True)
        if self.val_fraction + self.test_fraction >= 1:
            raise ConfigError("val_fraction", self.val_fraction,
                              f"val_fraction + test_fraction must leave prompts for training (test_fraction={self.test_fraction})")
        for name in ("weight_score", "weight_comment", "weight_key", "weight_structure", "weight_end",
                     "weight_decay", "max_grad_norm"):
            validate.non_negative(name, getattr(self, name))
        validate.fraction("lora_dropout", self.lora_dropout, open_high=True)
        validate.fraction("warmup_ratio", self.warmup_ratio, open_high=True)
        if not self.weight_score + self.weight_comment + self.weight_key + self.weight_structure + self.weight_end > 0:
            raise ConfigError("weight_score", self.weight_score, "at least one loss weight must be > 0")
        validate.positive("learning_rate", self.learning_rate, high=1.0)  # beyond 1 no optimiser converges
        validate.positive("num_train_epochs", self.num_train_epochs, high=1e6)
        for name in ("lora_r", "lora_alpha", "per_device_batch_size", "gradient_accumulation_steps", "logging_steps",
                     "save_steps"):
            validate.positive_int(name, getattr(self, name))
        validate.integer("max_steps", self.max_steps, low=-1)
        validate.non_negative_int("num_workers", self.num_workers, high=4096)
        validate.non_negative_int("seed", self.seed, high=2**32 - 1)
        for name in ("save_total_limit", "eval_steps", "val_max_examples"):
            validate.optional(validate.positive_int, name, getattr(self, name))
        if self.max_steps == 0:
            raise ConfigError("max_steps", 0, "use -1 (train for num_train_epochs) or a positive step count")
        validate.choice("vision", self.vision, VISION_MODES)
        validate.choice("precision", self.precision, PRECISIONS)
        validate.choice("val_method", self.val_method, VAL_METHODS)
        if not isinstance(self.lora_targets, list) or not self.lora_targets or \
                not all(isinstance(t, str) and t for t in self.lora_targets):
            raise ConfigError("lora_targets", self.lora_targets, "must be a non-empty list of module names, e.g. [q_proj, v_proj]")
        if self.profile is not None:
            from aigve.registry import PROFILES

            PROFILES.get(self.profile)  # unknown names: "did you mean"
        if not isinstance(self.sampling, dict):
            raise ConfigError("sampling", self.sampling, "must be a mapping of SamplingConfig fields")
        self.sampling_config()  # validates the nested fields now, not an hour into training
        if self.deepspeed and not Path(self.deepspeed).is_file():
            raise ConfigError("deepspeed", self.deepspeed, "DeepSpeed JSON not found; see train/configs/ds_zero2.json")

    def sampling_config(self) -> SamplingConfig:
        """The evaluator's sampler settings for training (same defaults as scoring, plus ``jitter``)."""
        return SamplingConfig.from_dict(self.sampling)

    def role_weights(self) -> dict[str, float]:
        """Loss weight of each token role (keys of :data:`aigve.training.roles.ROLES`)."""
        return {"structure": self.weight_structure, "key": self.weight_key, "comment": self.weight_comment,
                "score": self.weight_score, "end": self.weight_end}

    def require_paths(self) -> None:
        """Raise ConfigError when the fields a run cannot start without are unset."""
        for name in ("model", "data"):
            if not getattr(self, name):
                raise ConfigError(name, None, f"required: pass --{name.replace('_', '-')} or set it in the recipe YAML")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def replace(self, **changes: Any) -> TrainRecipe:
        return dataclasses.replace(self, **changes)


def field_names() -> list[str]:
    return [f.name for f in fields(TrainRecipe)]


def load_recipe(path: str | os.PathLike | None = None, overrides: dict[str, Any] | None = None) -> TrainRecipe:
    """Read a recipe YAML (or the defaults when ``path`` is None) and apply ``overrides``.

    ``overrides`` maps field names (or ``sampling.<field>``) to values. Unknown names raise
    ConfigError with a suggestion; a bad value raises ConfigError naming the field.
    """
    data: dict[str, Any] = {}
    if path is not None:
        data = read_yaml(path)
        ds = data.get("deepspeed")
        if isinstance(ds, str) and not Path(ds).is_file() and (Path(path).parent / ds).is_file():
            data["deepspeed"] = str(Path(path).parent / ds)  # a recipe may name its json relative to itself
    for key, value in (overrides or {}).items():
        set_path(data, key, value)
    return recipe_from_dict(data)


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError("config", str(path), "recipe file not found; see train/configs/*.yaml")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError("config", str(path), f"not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError("config", str(path), "a recipe must be a YAML mapping of field: value")
    return data


def recipe_from_dict(data: dict[str, Any]) -> TrainRecipe:
    """Build a TrainRecipe; unknown keys raise ConfigError with a close match and the known names."""
    from aigve.config import from_dict

    data = {k: _coerce(TrainRecipe, k, v) for k, v in data.items()}
    if isinstance(data.get("sampling"), dict):
        data["sampling"] = {k: _coerce(SamplingConfig, k, v) for k, v in data["sampling"].items()}
    return from_dict(TrainRecipe, data)


def _coerce(cls: type, name: str, value: Any) -> Any:
    """Turn command-line/YAML strings into the field's type.

    PyYAML reads ``1e-4`` (no dot) as a string and argparse gives strings, so numbers, booleans,
    ``none`` and comma-separated lists are converted here by the field's annotation.
    """
    kinds = {f.name: str(f.type) for f in fields(cls)}
    kind = kinds.get(name)
    if kind is None or not isinstance(value, str):
        return value
    text = value.strip()
    if "None" in kind and text.lower() in ("none", "null", ""):
        return None
    try:
        if kind.startswith("bool"):
            if text.lower() in ("true", "yes", "1", "on"):
                return True
            if text.lower() in ("false", "no", "0", "off"):
                return False
            return value
        if kind.startswith("int"):
            return int(text)
        if kind.startswith("float"):
            return float(text)
    except ValueError:
        return value  # validation then names the field and the bad value
    if kind.startswith("list"):
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


def set_path(data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` (``field``, an alias such as ``lr``, or ``sampling.<field>``) in a recipe mapping."""
    head, _, rest = key.replace("-", "_").partition(".")
    head = ALIASES.get(head, head)
    if rest:
        if head != "sampling":
            raise ConfigError(key, value, "only 'sampling.<field>' takes a dotted name")
        nested = dict(data.get("sampling") or {})
        nested[rest] = value
        data["sampling"] = nested
    else:
        data[head] = value


def parse_set(items: list[str] | None) -> dict[str, Any]:
    """``["lr=1e-4", "sampling.jitter=0.5"]`` -> {name: YAML-parsed value}."""
    import yaml

    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError("override", item, "expected key=value, e.g. lr=1e-4 or sampling.max_frames=8")
        out[key.strip()] = yaml.safe_load(raw) if raw.strip() else None
    return out
