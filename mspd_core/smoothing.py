"""SPEC's Smooth: the one primitive every cascade defense shares.

Smooth(f, c, y, e, a, K, N, descend): draw N copies z_n = clip01(c + U(-e, e)); K times
z_n <- Proj(z_n -/+ a * sign(grad_z CE(f(z_n), y)), c, e); return mean_n z_n.
(MSPD paper, Sec. "Minimal Cascade Gradient Smoothing"; Fast Preemption Alg. 1 lines 4-8.)
All N copies of the batch go through ``f`` as ONE batch. Averaged points, not gradients.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .tensors import check_count, check_images, check_labels, check_positive, generator_for, project, uniform_noise


def draw_smoothing_noise(x: Tensor, eps: float, n_samples: int, generator: torch.Generator) -> Tensor:
    """U(-eps, eps) noise for N copies of the batch ``x``: shape (N, *x.shape)."""
    return uniform_noise(x.new_empty((n_samples, *x.shape)), eps, generator)


def signed_gradient_step(model: nn.Module, z: Tensor, y: Tensor, step: float, descend: bool) -> Tensor:
    """z -/+ step * sign(grad_z CE(f(z), y)) (minus when ``descend``). One forward+backward for the whole batch."""
    with torch.enable_grad():  # works inside a caller's no_grad block too
        z = z.detach().requires_grad_(True)
        loss = F.cross_entropy(model(z), y, reduction="sum")
        (grad,) = torch.autograd.grad(loss, z)
    direction = -1.0 if descend else 1.0
    return z.detach() + direction * step * grad.sign()


def smoothing_points(
    model: nn.Module,
    center: Tensor,
    y: Tensor,
    eps: float,
    step: float,
    steps: int = 1,
    n_samples: int = 20,
    descend: bool = True,
    noise: bool | Tensor = True,
    ball_center: Tensor | None = None,
    seed: int | torch.Generator | None = 0,
) -> Tensor:
    """The N walked points z_n of SPEC's Smooth, shape (N, *center.shape); :func:`smooth` is their mean.

    Args:
        model: backbone f (eval mode; gradients come from it).
        center: c, the input of this call (noise is drawn around it).
        y: labels for the CE loss.
        eps: e, radius of the noise and of the projection ball.
        step: a, the signed-gradient step size.
        steps: K inner steps (K=1: single-step smoothing; K=20: PGD-20 walks, Table XIII).
        n_samples: N copies.
        descend: minus the gradient (forward epoch) or plus (backward epoch).
        noise: True draws U(-e, e) from ``seed``; False starts every copy at c
            (N=1 without noise = a plain FGSM step, "no smoothing"); a tensor of shape
            (N, *center.shape) is used as the noise itself.
        ball_center: centre of the projection ball; defaults to ``center`` (MCGS). Fast
            Preemption projects around the original image instead.
        seed: int or torch.Generator for the noise.
    """
    check_images(center, "center")
    y = check_labels(y, center)
    eps = check_positive(eps, "eps")
    step = check_positive(step, "step")
    check_count(steps, "steps")
    check_count(n_samples, "n_samples")
    ball = center if ball_center is None else ball_center
    copies = center.unsqueeze(0).expand(n_samples, *center.shape)
    if isinstance(noise, Tensor):
        if noise.shape != copies.shape:
            raise ValueError(f"noise must have shape {tuple(copies.shape)}, got {tuple(noise.shape)}")
        z = (copies + noise).clamp(0.0, 1.0)
    elif noise:
        z = (copies + draw_smoothing_noise(center, eps, n_samples, generator_for(seed, center.device))).clamp(0.0, 1.0)
    else:
        z = copies.clone()
    flat = z.reshape(-1, *center.shape[1:])  # all N copies of the batch: ONE forward/backward per step
    ball_flat = ball.unsqueeze(0).expand(n_samples, *ball.shape).reshape(-1, *center.shape[1:])
    y_flat = y.repeat(n_samples)
    for _ in range(steps):
        flat = project(signed_gradient_step(model, flat, y_flat, step, descend), ball_flat, eps)
    return flat.reshape(n_samples, *center.shape)


def smooth(model: nn.Module, center: Tensor, y: Tensor, eps: float, step: float, **options) -> Tensor:
    """SPEC Smooth(f, c, y, e, a, K, N, descend): the mean of the N walked points.

    ``options`` are those of :func:`smoothing_points` (steps K, n_samples N, descend, noise,
    ball_center, seed), with the same defaults.
    """
    return smoothing_points(model, center, y, eps, step, **options).mean(dim=0)
