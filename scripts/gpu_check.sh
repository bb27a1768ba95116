#!/usr/bin/env bash
# For a session lent a GPU (<= 8 minutes): MCGS timing and memory at CIFAR-10 and ImageNet sizes on the
# paper's architectures (random weights), then three paper-dry chapters on CUDA. Results under $OUT (or _build/gpu).
# DEVICE=cpu runs the same steps on the CPU (a check of the script). PY names the Python (default: .venv's, else
# python3 with the project importable). Each step's failure is logged in $OUT/status.txt and the next step runs.
# A bare machine (Python and torch, no network, no ../shared): `make gpu-bundle` here first, carry _build/gpu-bundle;
# its wheels are installed into $PY offline (what the machine lacks) and its CIFAR-10 test subset is used unless
# MSPD_CIFAR10 is set (JPEG, as the pages say: for timing and the code path only). GPU_BUNDLE names another folder.
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
BUNDLE=${GPU_BUNDLE:-_build/gpu-bundle}
if [ -d "$BUNDLE/wheels" ]; then
  BUNDLE=$(cd "$BUNDLE" && pwd)
  step bundle "$PY" -m pip install --no-index --find-links "$BUNDLE/wheels" --disable-pip-version-check \
    mspd-core papermill jupytext ipykernel myst-nb
  if [ -z "${MSPD_CIFAR10:-}" ]; then export MSPD_CIFAR10="$BUNDLE/cifar10-test-subset.zip"; fi
fi
echo "python: $PY; CIFAR-10: ${MSPD_CIFAR10:-unset}" | tee -a "$OUT/status.txt"
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
