#!/usr/bin/env bash
# Create/refresh the project's virtual environment (.venv) from the lock, requirements/lock.txt: every
# package at the locked version, each file checked against its SHA-256 (pip --require-hashes), then the
# companion itself (editable, no dependencies: the lock holds them). Idempotent: a stamp file skips the
# install when the lock and this script have not changed. On this project's CPU machines torch and
# torchvision come from the local wheel store (same files, same hashes), the rest from the package registry.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.mspd-setup-$(sha256sum requirements/lock.txt scripts/setup.sh | sha256sum | cut -c1-16)
# Reinstall when the lock or this script changed (the stamp) or when the environment drifted from the lock (a
# package installed or changed by hand: mspd_core.dependencies compares every installed version with its pin).
if [ ! -f "$stamp" ] || ! .venv/bin/python -m mspd_core.dependencies >/dev/null 2>&1; then
  .venv/bin/pip install -q "pip==26.3"   # the installer itself: one version, not "whatever is newest"
  .venv/bin/pip install -q --require-hashes -r requirements/lock.txt
  .venv/bin/pip install -q --no-deps --no-build-isolation -e .
  .venv/bin/pip check
  rm -f .venv/.mspd-setup-*
  touch "$stamp"
fi
