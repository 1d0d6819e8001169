"""Run any external text-to-video generator through a command template."""

from __future__ import annotations

import logging
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

from aigve.errors import ConfigError
from aigve.refine.roles import GenerationError

log = logging.getLogger(__name__)

_FIELD = re.compile(r"\{(prompt|seed|out)\}")


def render_command(template: str, prompt: str, seed: int, out: Path) -> list[str]:
    """Fill ``{prompt}``, ``{seed}`` and ``{out}`` (each shlex-quoted, so a prompt with quotes, ``;`` or ``$``
    stays one argument) and split into argv. Other braces in the template are left alone."""
    values = {"prompt": shlex.quote(prompt), "seed": str(int(seed)), "out": shlex.quote(str(out))}
    return shlex.split(_FIELD.sub(lambda m: values[m.group(1)], template))


class CommandGenerator:
    """``template`` e.g. ``"python gen.py --prompt {prompt} --seed {seed} --out {out}"``; run without a shell
    in ``cwd``, killed after ``timeout`` seconds. The command must write the video to ``{out}``."""

    name = "command"

    def __init__(self, template: str, timeout: float = 1800.0, cwd: str | None = None):
        if not isinstance(template, str) or "{out}" not in template or "{prompt}" not in template:
            raise ConfigError("template", template, "the command template must contain {prompt} and {out} "
                              "(and may contain {seed}), e.g. 'python gen.py --prompt {prompt} --out {out}'")
        if not timeout or float(timeout) <= 0:
            raise ConfigError("timeout", timeout, "must be a positive number of seconds")
        self.template, self.timeout, self.cwd = template, float(timeout), cwd

    def generate(self, prompt: str, seed: int, out_path: Path) -> Path:
        out_path = Path(out_path)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        argv = render_command(self.template, prompt, seed, out_path)
        log.info("running %s", shlex.join(argv))
        try:
            proc = subprocess.run(argv, cwd=self.cwd, capture_output=True, text=True, timeout=self.timeout,
                                  check=False)
        except FileNotFoundError as exc:
            raise GenerationError(self.name, f"program {argv[0]!r} not found", "check the command template") from exc
        except subprocess.TimeoutExpired as exc:
            raise GenerationError(self.name, f"{argv[0]} ran past {self.timeout:g} s",
                                  "raise timeout via `generator_option=timeout=SECONDS`") from exc
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout or "").strip()[-500:]
            raise GenerationError(self.name, f"{argv[0]} exited with {proc.returncode}: {tail}")
        if not out_path.is_file() or out_path.stat().st_size == 0:
            raise GenerationError(self.name, f"{argv[0]} exited 0 but wrote nothing to {out_path}",
                                  "the template must pass {out} as the output path")
        return out_path

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "template": self.template, "timeout": self.timeout}
