"""The small fixed model and images on which torchattacks' outputs were recorded (scripts/torchattacks_reference.py)."""
from __future__ import annotations

import torch
from torch import nn

EPS_LINF = 8 / 255
EPS_L2 = 0.5


def reference_model() -> nn.Module:
    """A 2-layer CNN with weights from seed 0 (eval mode): small enough to record, deep enough to have curvature."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
                          nn.Linear(8 * 6 * 6, 10))
    return model.eval()


def reference_inputs(n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images of 3x12x12 in [0, 1] (some at the box's edges), from seed 1, labelled by the reference model
    (all correctly classified before the attack)."""
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(n, 3, 12, 12, generator=gen)
    x[:, :, :2] = x[:, :, :2].round()  # pixels at 0 and 1, where clipping matters
    with torch.no_grad():
        y = reference_model()(x).argmax(1)
    return x, y
