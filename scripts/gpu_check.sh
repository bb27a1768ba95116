#!/usr/bin/env bash
# For a session lent a GPU (<= 8 minutes): MCGS timing and memory at CIFAR-10 and ImageNet sizes on the
# paper's architectures (random weights), then three paper-dry chapters on CUDA. Results under $OUT (or _build/gpu).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-_build/gpu}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$OUT/gpu.txt"
.venv/bin/python scripts/gpu_check.py --device cuda --json "$OUT/mcgs.json" | tee "$OUT/mcgs.txt"
DRY=_build/paper-dry
MSPD_ROBUSTBENCH_DIR=$DRY/robustbench .venv/bin/python -m mspd_core.zoo.dry --imagenet-folder $DRY/imagenet
for chapter in mcgs_walkthrough table04_main table07_targets; do
  MSPD_ROBUSTBENCH_DIR=$DRY/robustbench MSPD_IMAGENET=$DRY/imagenet \
    timeout 150 .venv/bin/mspd notebook "$chapter" -p profile paper-dry -p device cuda -o "$OUT/$chapter.ipynb" \
    2>&1 | tail -n 2 | tee -a "$OUT/chapters.txt"
done
