# Every target does its own set-up (scripts/setup.sh is idempotent and fast when done).
# Offline data: export MSPD_CIFAR10=/path/to/cifar10-jpeg.zip (see README).
PROFILE ?= cpu
PY := .venv/bin/python
JB := .venv/bin/jupyter-book

.PHONY: lock setup test notebooks notebooks-sync book course check-book paper-dry zoo zoo-check bench gpu-bundle clean

setup:
	@bash scripts/setup.sh

# Refresh requirements/lock.txt from pyproject.toml (needs the package registry; README, "Dependencies"). Keeps
# the versions already locked where they still fit; UPGRADE="requests urllib3" raises those packages to their newest
# release (what an advisory needs), UPGRADE=all raises everything. Needs pip and uv only, not a working environment
# (after a change to pyproject.toml the old one may not install): uv comes from the lock's own hashed entry.
UPGRADE ?=
lock:
	@[ -x .venv/bin/python ] || { py=$$(command -v python3.11 || command -v python3); $$py -m venv .venv; }
	@[ -x .venv/bin/uv ] || { awk '/^uv==/{keep=1; print; next} keep && /^ /{print; next} {keep=0}' requirements/lock.txt \
	  > .venv/uv-requirement.txt && .venv/bin/pip install -q --require-hashes --no-deps -r .venv/uv-requirement.txt; }
	.venv/bin/uv pip compile pyproject.toml --all-extras --universal --python-version 3.10 --generate-hashes \
	  --constraint requirements/constraints.txt --custom-compile-command "make lock" -o requirements/lock.txt \
	  $(if $(filter all,$(UPGRADE)),--upgrade,$(foreach p,$(UPGRADE),--upgrade-package $(p)))

test: setup
	$(PY) -m pytest -q

notebooks: setup
	$(PY) scripts/run_notebooks.py --profile $(PROFILE)

notebooks-sync: setup
	$(PY) scripts/sync_notebooks.py

book: notebooks
	rm -rf _build/html
	$(JB) build . -W -n --keep-going

course: setup
	$(PY) scripts/course.py --profile $(PROFILE)

check-book: setup
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
	$(PY) -m pytest -q book_tests

# The paper profile's code path offline: RobustBench architectures with RANDOM weights in RobustBench's
# layout (their own folder, never one with real weights), every chapter on 2 images (README, "paper-dry").
DRY_DIR ?= _build/paper-dry
paper-dry: setup
	MSPD_ROBUSTBENCH_DIR=$(DRY_DIR)/robustbench $(PY) -m mspd_core.zoo.dry --imagenet-folder $(DRY_DIR)/imagenet
	MSPD_ROBUSTBENCH_DIR=$(DRY_DIR)/robustbench MSPD_IMAGENET=$(DRY_DIR)/imagenet \
	  $(PY) scripts/run_notebooks.py --profile paper-dry --out $(DRY_DIR)/notebooks

gpu-bundle: setup
	$(PY) scripts/gpu_bundle.py

zoo: setup
	$(PY) -m mspd_core.zoo.train --all

zoo-check: setup
	$(PY) -m mspd_core.zoo.check

bench: setup
	$(PY) -m mspd_core.bench

clean:
	rm -rf _build notebooks/_executed
