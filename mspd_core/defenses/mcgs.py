"""MCGS / MSPD: Minimal Cascade Gradient Smoothing (MSPD paper, Sec. IV, Alg. 1; SPEC "MCGS / MSPD").

x_F = Proj(x + eta * (Smooth(f, x, y, descend) - x), x, eps)          # forward epoch
x_B = Proj(x_F - eta * (Smooth(f, x_F, y, ascend) - x_F), x, eps)    # backward epoch

generalised to a schedule string over {F, B} (Table IX: "F", "B", "FB", "FBFB"). Table
IX's "no smoothing" is ``n_samples=1, noise=False``; Table XIII's PGD-20 inner walks are
``steps=20, step=2/255``.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ..smoothing import smooth
from ..tensors import check_images, check_labels, check_positive, generator_for, project

SCHEDULE_LETTERS = frozenset("FB")
DEFAULT_EPS = 8 / 255


def check_schedule(schedule: str) -> str:
    """Raise unless ``schedule`` is a non-empty string over {F, B}."""
    if not isinstance(schedule, str) or not schedule or set(schedule) - SCHEDULE_LETTERS:
        raise ValueError(f"schedule must be a non-empty string of 'F' (forward) and 'B' (backward), got {schedule!r}")
    return schedule


def forward_epoch(model: nn.Module, x: Tensor, x_t: Tensor, y: Tensor, eps: float, eta: float, **smooth_kwargs) -> Tensor:
    """x_{t+1} = Proj(x_t + eta * (Smooth(f, x_t, y, descend) - x_t), x, eps): move toward lower backbone loss."""
    mean_point = smooth(model, x_t, y, eps, descend=True, **smooth_kwargs)
    return project(x_t + eta * (mean_point - x_t), x, eps)


def backward_epoch(model: nn.Module, x: Tensor, x_t: Tensor, y: Tensor, eps: float, eta: float, **smooth_kwargs) -> Tensor:
    """x_{t+1} = Proj(x_t - eta * (Smooth(f, x_t, y, ascend) - x_t), x, eps): reverse a smoothed attack."""
    mean_point = smooth(model, x_t, y, eps, descend=False, **smooth_kwargs)
    return project(x_t - eta * (mean_point - x_t), x, eps)


def mcgs(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    eps: float = DEFAULT_EPS,
    step: float | None = None,
    steps: int = 1,
    n_samples: int = 20,
    eta: float = 1.0,
    schedule: str = "FB",
    noise: bool = True,
    seed: int | torch.Generator | None = 0,
    max_batch: int | None = None,
) -> Tensor:
    """Protect ``x`` (labels ``y``) with MCGS against backbone ``model``; returns x_p in the eps-ball of x and [0, 1].

    Defaults are the paper's: eps = 8/255, a = eps, K = 1, N = 20, eta = 1.0, schedule "FB".
    ``max_batch`` caps the images per forward/backward pass (e.g. large ImageNet batches on a
    small GPU); the default is :func:`mspd_core.smoothing.pass_size`, and the result does not
    depend on it.
    """
    check_images(x, "x")
    y = check_labels(y, x)
    eps = check_positive(eps, "eps")
    eta = check_positive(eta, "eta")
    check_schedule(schedule)
    step = eps if step is None else step
    gen = generator_for(seed, x.device)
    epoch = {"F": forward_epoch, "B": backward_epoch}
    x_t = x
    for letter in schedule:
        x_t = epoch[letter](model, x, x_t, y, eps, eta, step=step, steps=steps, n_samples=n_samples, noise=noise, seed=gen,
                            max_batch=max_batch)
    return x_t.detach()
