#!/usr/bin/env bash
# Create/refresh the project's virtual environment (.venv) from the lock, requirements/lock.txt: every
# package at the locked version, each file checked against its SHA-256 (pip --require-hashes), then the
# companion itself (editable, no dependencies: the lock holds them), then every package the lock does not name
# is removed (one an older lock installed, or one installed by hand), so the environment IS the lock.
# Idempotent: a stamp file skips the install when the lock, pyproject.toml and this script have not changed and
# the environment has not drifted. On this project's CPU machines torch and torchvision come from the local
# wheel store (same files, same hashes), the rest from the package registry.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.mspd-setup-$(sha256sum requirements/lock.txt requirements/installer.txt pyproject.toml scripts/setup.sh \
  | sha256sum | cut -c1-16)
# Reinstall when the lock, pyproject.toml or this script changed (the stamp) or when the environment drifted from
# the lock (mspd_core.dependencies compares every installed version with its pin and names unlocked packages).
if [ ! -f "$stamp" ] || ! .venv/bin/python -m mspd_core.dependencies >/dev/null 2>&1; then
  echo "[setup] installing the locked set (requirements/lock.txt) into .venv"
  .venv/bin/python -m pip install -q --require-hashes -r requirements/installer.txt
  .venv/bin/pip install -q --require-hashes -r requirements/lock.txt
  .venv/bin/pip install -q --no-deps --no-build-isolation -e .
  unlocked=$(.venv/bin/python -m mspd_core.dependencies --unlocked)   # minus MSPD_SETUP_KEEP's names
  if [ -n "$unlocked" ]; then
    echo "[setup] removing packages the lock does not name: $(echo $unlocked)" \
         "(keep your own tools with MSPD_SETUP_KEEP=\"name ...\"; README, \"Dependencies\")"
    .venv/bin/pip uninstall -q -y $unlocked
  fi
  # Files another package's uninstall deleted (torchattacks 3.5.1 shipped an old copy of robustbench/): reinstall the
  # owners, from the lock's own hashed lines.
  .venv/bin/python -m mspd_core.dependencies --damaged-requirements > .venv/damaged-requirements.txt
  if [ -s .venv/damaged-requirements.txt ]; then
    echo "[setup] reinstalling packages whose files are missing: $(cut -d= -f1 .venv/damaged-requirements.txt | tr '\n' ' ')"
    .venv/bin/pip install -q --require-hashes --no-deps --force-reinstall -r .venv/damaged-requirements.txt
  fi
  .venv/bin/pip check
  .venv/bin/python -m mspd_core.dependencies   # exit 1, saying what, if the environment still differs from the lock
  rm -f .venv/.mspd-setup-*
  touch "$stamp"
fi
