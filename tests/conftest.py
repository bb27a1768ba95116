"""Shared fixtures: tiny models that run in milliseconds, and small random batches."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch import nn

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

def tiny_cnn(seed: int = 0, num_classes: int = 10) -> nn.Module:
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AvgPool2d(4),
        nn.Flatten(), nn.Linear(8 * 8 * 8, num_classes),
    )
    return model.eval()


def linear_model(seed: int = 0, size: int = 8, num_classes: int = 10) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * size * size, num_classes)).double().eval()


@pytest.fixture
def model() -> nn.Module:
    return tiny_cnn(0)


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 3, 32, 32, generator=g)
    y = torch.randint(0, 10, (4,), generator=g)
    return x, y


@pytest.fixture(scope="session")
def cifar_root() -> str:
    """A local CIFAR-10 copy for tests that need real data ($MSPD_CIFAR10; the README's test command sets it)."""
    root = os.environ.get("MSPD_CIFAR10")
    if not root:
        pytest.skip("no local CIFAR-10 copy (set MSPD_CIFAR10)")
    return str(Path(root).resolve())
