"""Fast Preemption (Fast Preemption paper, Alg. 1; SPEC "Fast Preemption").

Each step averages N FGSM points (step eps) started from x_t + U(-eps, eps) and projected
around the ORIGINAL x; forward steps add eta * (mean - x_t), backward steps subtract it;
the result is projected around x. Defaults T_F = 1, T_B = 2, N = 20, eta = 0.7.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ..smoothing import smooth
from ..tensors import check_count, check_images, check_labels, check_positive, generator_for, project


def fast_preemption_step(model: nn.Module, x: Tensor, x_t: Tensor, y: Tensor, eps: float, eta: float,
                         n_samples: int, forward: bool, generator: torch.Generator,
                         step: float | None = None, steps: int = 1) -> Tensor:
    """One step of Alg. 1: x_{t+1} = Proj(x_t +/- eta * (mean_n FGSM_n - x_t), x, eps).

    ``steps > 1`` replaces each FGSM point by a PGD walk (the paper's Table 7 "PGD" rows)."""
    mean_point = smooth(model, x_t, y, eps, step=eps if step is None else step, steps=steps, n_samples=n_samples,
                        descend=forward, ball_center=x, seed=generator)
    sign = 1.0 if forward else -1.0
    return project(x_t + sign * eta * (mean_point - x_t), x, eps)


def fast_preemption(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    eps: float = 8 / 255,
    forward_steps: int = 1,
    backward_steps: int = 2,
    n_samples: int = 20,
    eta: float = 0.7,
    step: float | None = None,
    steps: int = 1,
    seed: int | torch.Generator | None = 0,
) -> Tensor:
    """Protect ``x`` with Fast Preemption: T_F forward steps, then T_B backward steps (FGSM points of step
    ``eps`` by default; ``steps``/``step`` give PGD points instead)."""
    check_images(x, "x")
    y = check_labels(y, x)
    eps = check_positive(eps, "eps")
    eta = check_positive(eta, "eta")
    if forward_steps < 0 or backward_steps < 0 or forward_steps + backward_steps == 0:
        raise ValueError("forward_steps and backward_steps must be >= 0 and not both 0")
    check_count(n_samples, "n_samples")
    gen = generator_for(seed, x.device)
    x_t = x
    for forward in [True] * forward_steps + [False] * backward_steps:
        x_t = fast_preemption_step(model, x, x_t, y, eps, eta, n_samples, forward, gen, step, steps)
    return x_t.detach()
