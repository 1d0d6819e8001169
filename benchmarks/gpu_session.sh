#!/usr/bin/env bash
# The GPU measurements of the speed issue (#8) as one prepared command, for a session lent a GPU machine.
#
# On the development machine, once (network to the package registry needed):
#     bash benchmarks/gpu_session.sh --prepare
#   downloads the wheels the GPU image lacks (decord, av, qwen-vl-utils; Python 3.12, x86-64) into .whl/
#   (git-ignored; the machine receives only the working tree, which holds the clips in data/clips, and what
#   is carried).
# On the GPU machine (device tool):
#     run(command="bash benchmarks/gpu_session.sh", carry=[".whl"], timeout_s=560)
#   installs the wheels into /tmp/site, runs the CUDA test (pytest -m gpu), builds a random-weight model with
#   the real Qwen2.5-VL-7B architecture in bf16 and runs `aigve bench` with ~700 forced tokens. Results land
#   in $OUT: bench.json, bench.md, gpu-tests.log, env.txt. Paste bench.md into README "Speed". Exit 0: done;
#   1: a path failed; 3: the bench hit its inner time limit (the finished paths are still in $OUT).
# Locally, to check the script itself on a CPU with a scaled-down architecture:
#     OUT=/tmp/gpu-out GPU_CHECK_SCALE="--arch-layers 1 --arch-vision-depth 1 --arch-width-divisor 4" \
#         GPU_CHECK_TOKENS=4 GPU_CHECK_LIMIT=2 PYTHON=.venv/bin/python bash benchmarks/gpu_session.sh
#
# Budget: the device time of a session is 15 minutes including the machine's start, so the defaults keep the
# bench to 8 clips and the paths that answer the issue's targets: reference (batch 1, the 1x baseline),
# batched (8 per call) and score-only. Path (e) vLLM is skipped there: its wheels (~400 MB with their CUDA
# dependencies) exceed what a call may carry; measure it on a machine with vLLM installed.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--prepare" ]]; then
  mkdir -p .whl
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux1_x86_64 -d .whl decord==0.6.0 av qwen-vl-utils
  du -sh .whl
  exit 0
fi

OUT="${OUT:-benchmarks/out/gpu}"
PYTHON="${PYTHON:-python3}"
LIMIT="${GPU_CHECK_LIMIT:-8}"
TOKENS="${GPU_CHECK_TOKENS:-700}"
SCALE="${GPU_CHECK_SCALE:-}"
BENCH_S="${GPU_CHECK_BENCH_S:-400}"
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
if compgen -G ".whl/*.whl" >/dev/null; then
  if "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  then export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
  else echo "WARNING: the carried wheels did not install (built for Python 3.12); using what $PYTHON has" >&2
  fi
fi
export PYTHONPATH="$PWD:${PYTHONPATH:-}"   # the checkout itself, no install needed
VIDEOS="data/clips/manifest.csv"   # carried in the repository, as the tests' clips are

{
  date -u
  git log -1 --format='commit %h %s' 2>/dev/null || true
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no nvidia-smi"
  "$PYTHON" -c "import torch, transformers; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(),
torch.cuda.get_device_name(0) if torch.cuda.is_available() else ''); print('transformers', transformers.__version__)
from packaging.version import Version
if Version(transformers.__version__) < Version('5.17'): print('WARNING: aigve needs transformers>=5.17')"
} 2>&1 | tee "$OUT/env.txt"

# From here each step's status is recorded instead of stopping the script, so whatever finished comes back.
# Inner limits (60 s + 400 s + 20 s grace) stay well under the call's timeout_s=560.
set +e
# The CUDA test (bf16 bench on the tiny model); skipped without a GPU.
timeout 60 "$PYTHON" -m pytest -q -m gpu -p no:cacheprovider tests/test_bench.py > "$OUT/gpu-tests.log" 2>&1
echo "pytest -m gpu: exit $?" | tee -a "$OUT/env.txt"

rm -f "$OUT/bench.json" "$OUT/bench.md"  # never report an earlier run's figures as this one's
# SIGINT first: bench stops as on Ctrl-C, and bench.json already holds every path that finished.
# shellcheck disable=SC2086  # SCALE holds several options on purpose
timeout -s INT -k 20 "$BENCH_S" "$PYTHON" -m aigve bench "$VIDEOS" --random-init-arch qwen2.5-vl-7b \
  --arch-dir /tmp/random-7b $SCALE --paths reference,batched,scores-only --batch-size 8 --limit "$LIMIT" \
  --warmup 1 --force-new-tokens "$TOKENS" --json "$OUT/bench.json" > "$OUT/bench.log" 2>&1
rc=$?
echo "aigve bench: exit $rc (124 or 130: stopped by the time limit; 1: a path failed)" | tee -a "$OUT/env.txt"
tail -n 20 "$OUT/bench.log"
if [[ -f "$OUT/bench.json" ]]; then
  "$PYTHON" - "$OUT/bench.json" "$OUT/bench.md" <<'EOF'
import json, sys
from aigve.bench.table import render_markdown
report = json.load(open(sys.argv[1]))
text = render_markdown(report) + "\n"
if not report.get("complete", True):
    text += "\n(incomplete: the run stopped after the paths above)\n"
open(sys.argv[2], "w").write(text)
print(text)
EOF
fi
# 124 would read as the device call's own time limit: the inner one exits 3 (partial figures in $OUT).
[[ $rc -eq 124 || $rc -eq 130 ]] && exit 3
exit "$rc"
