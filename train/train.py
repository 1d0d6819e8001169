"""Training entry point, the same as ``aigve train`` (works under ``accelerate launch`` and ``torchrun``).

    python train/train.py --config train/configs/aigve_bench_7b_lora.yaml --model DIR --data FILE --lr 5e-5
    accelerate launch --num_processes 8 train/train.py --config train/configs/aigve_bench_7b_lora.yaml ...
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
    from aigve.cli import main

    args = sys.argv[1:]
    verbose = [a for a in args if a in ("-v", "-vv")]  # global flags go before the subcommand
    raise SystemExit(main([*verbose, "train", *[a for a in args if a not in verbose]]))
