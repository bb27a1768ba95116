"""A profile that needs a GPU (``paper``) never falls back to the CPU silently (issue 37, item 1)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mspd_core.notebook import cuda_diagnosis, start
from mspd_core.profiles import PROFILES

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_only_the_paper_profile_needs_a_gpu():
    assert {n for n, p in PROFILES.items() if p.needs_gpu} == {"paper"}


def test_paper_on_auto_without_cuda_is_refused_with_what_was_found(no_cuda):
    with pytest.raises(RuntimeError) as err:
        start("paper")
    text = str(err.value)
    assert "needs a GPU" in text and f"torch {torch.__version__}" in text and "device='cpu'" in text


def test_paper_runs_on_the_cpu_when_asked_explicitly(no_cuda):
    assert start("paper", device="cpu").device.type == "cpu"


@pytest.mark.parametrize("profile", ["cpu", "smoke", "paper-dry"])
def test_cpu_profiles_still_fall_back_to_the_cpu(no_cuda, profile):
    assert start(profile).device.type == "cpu"


def test_the_diagnosis_says_when_cuda_visible_devices_hides_every_gpu(no_cuda, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert "hides every GPU" in cuda_diagnosis()
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert "hides every GPU" not in cuda_diagnosis()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a usable GPU")
def test_the_notebook_runner_refuses_before_any_chapter():
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "run_notebooks.py"), "--profile", "paper",
                          "--out", "/nonexistent/never-written"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and "needs a GPU" in run.stderr and "calibration" not in run.stdout
