#!/usr/bin/env bash
# Create/refresh the project's virtual environment (.venv). Idempotent: a stamp file
# skips the install when pyproject.toml has not changed. Offline-safe on this machine:
# torch/torchvision come from the local wheel store, the rest from the package registry.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.mspd-setup-$(sha256sum pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/pip install -q --upgrade "pip>=24" "setuptools<81" wheel
  .venv/bin/python -c "import torch, torchvision" 2>/dev/null \
    || .venv/bin/pip install -q "torch==2.14.1" "torchvision==0.29.1"
  .venv/bin/pip install -q -e ".[book,dev,course]"
  rm -f .venv/.mspd-setup-*
  touch "$stamp"
fi
