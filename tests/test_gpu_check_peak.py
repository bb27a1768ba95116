"""scripts/gpu_check.py's whole_call_peak, without a GPU: torch.cuda's counters replaced by a fake allocator, so the
peak over a block that resets torch's peak counter inside (as the library's MCGS does) is checked (issue 37)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "gpu_check.py"


@pytest.fixture()
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeAllocator:
    """torch.cuda's peak counter: ``allocate`` raises the peak, ``reset`` drops it to what is held now."""

    def __init__(self):
        self.held, self.peak = 0, 0

    def allocate(self, gib: float):
        self.held += int(gib * 2**30)
        self.peak = max(self.peak, self.held)

    def free(self, gib: float):
        self.held -= int(gib * 2**30)

    def max_memory_allocated(self, device=None):
        return self.peak

    def reset_peak_memory_stats(self, device=None):
        self.peak = self.held


def test_the_peak_survives_a_reset_inside_the_block(gpu_check, monkeypatch):
    fake = FakeAllocator()
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", fake.max_memory_allocated)
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", fake.reset_peak_memory_stats)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
    fake.allocate(3)  # before the block: not counted
    fake.free(3)
    with gpu_check.whole_call_peak(torch.device("cuda")) as peak:
        fake.allocate(5)
        fake.free(5)
        torch.cuda.reset_peak_memory_stats()  # what the library does inside the call
        fake.allocate(2)
        fake.free(2)
    assert peak["gib"] == pytest.approx(5.0)
    assert torch.cuda.reset_peak_memory_stats == fake.reset_peak_memory_stats  # restored after the block


def test_the_peak_after_the_last_reset_counts_too(gpu_check, monkeypatch):
    fake = FakeAllocator()
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", fake.max_memory_allocated)
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", fake.reset_peak_memory_stats)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
    with gpu_check.whole_call_peak(torch.device("cuda")) as peak:
        fake.allocate(1)
        torch.cuda.reset_peak_memory_stats()
        fake.allocate(6)
    assert peak["gib"] == pytest.approx(7.0)


def test_on_cpu_there_is_no_peak(gpu_check):
    with gpu_check.whole_call_peak(torch.device("cpu")) as peak:
        pass
    assert peak["gib"] != peak["gib"]  # NaN: no CUDA memory to measure
