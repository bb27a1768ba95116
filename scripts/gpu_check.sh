#!/usr/bin/env bash
# For a session lent a GPU (<= 8 minutes): MCGS timing and memory at CIFAR-10 and ImageNet sizes on the
# paper's architectures (random weights), then three paper-dry chapters on CUDA. Results under $OUT (or _build/gpu).
# DEVICE=cpu runs the same steps on the CPU (a check of the script). PY names the Python (default: .venv's, else
# python3 with the project importable). Each step's failure is logged in $OUT/status.txt and the next step runs.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-_build/gpu}
DEVICE=${DEVICE:-cuda}
PY=${PY:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
export PYTHONPATH="$(pwd)${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$OUT"
: > "$OUT/status.txt"
step() {  # step NAME COMMAND...: run, log the exit status, never stop the script
  local name=$1; shift
  "$@" > "$OUT/$name.log" 2>&1; local rc=$?
  echo "$name: exit $rc" | tee -a "$OUT/status.txt"; tail -n 3 "$OUT/$name.log"
}
if [ "$DEVICE" = cuda ]; then
  step gpu nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
fi
step mcgs "$PY" scripts/gpu_check.py --device "$DEVICE" --json "$OUT/mcgs.json"
DRY=_build/paper-dry
step dry-weights env MSPD_ROBUSTBENCH_DIR=$DRY/robustbench "$PY" -m mspd_core.zoo.dry --imagenet-folder $DRY/imagenet
for chapter in mcgs_walkthrough table04_main table07_targets; do
  step "$chapter" env MSPD_ROBUSTBENCH_DIR=$DRY/robustbench MSPD_IMAGENET=$DRY/imagenet \
    timeout 300 "$PY" -m mspd_core.cli notebook "$chapter" -p profile paper-dry -p device "$DEVICE" -o "$OUT/$chapter.ipynb"
done
echo "statuses in $OUT/status.txt"
