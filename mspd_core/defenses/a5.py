"""A5 (Frosio & Kautz, "The Best Defense is a Good Offense: Adversarial Augmentation against Adversarial Attacks",
CVPR 2023), the robustification baseline of MSPD Table VIII and Fast Preemption Table 1.

A5 releases x_p = clip(x + delta, 0, 1) with delta = eps (2 sigmoid(z) - 1) (|delta|_inf < eps by construction)
and chooses z per image to make the *certified* prediction of class y as safe as possible: it minimises the
worst-case cross-entropy of the lower bounds of the margins z_y - z_j over every attack of radius ``attack_eps``
around x_p, computed by bound propagation through a certifiably trained classifier (A5 paper, Sec. 3; NVlabs/A5
``a5.py``: RMSprop on z, the attack radius ramped up, the loss mixing the clean cross-entropy with weight
f = (eps_max - eps_t) / eps_max while it ramps, and its default bound the mix f CROWN-IBP + (1 - f) IBP). Here
the bound is that mix on the margin specification (:mod:`mspd_core.bounds`; ``method="ibp"`` for IBP alone) and the classifier the zoo's certified CNN ``a5-cnn-ibp``; A5's "offline" variant (one
z per image; its trained robustifier network is not built here).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..bounds import METHODS, bound_network, margin_bounds, verified_cross_entropy
from ..tensors import check_count, check_images, check_labels, check_positive


def a5_perturbation(z: Tensor, eps: float) -> Tensor:
    """A5's parametrisation of the defensive perturbation: delta = eps (2 sigmoid(z) - 1), strictly inside the ball."""
    return eps * (2 * torch.sigmoid(z) - 1)


def a5_release(x: Tensor, z: Tensor, eps: float) -> Tensor:
    """x_p = clip(x + delta(z), 0, 1) (NVlabs/A5 ``zx2x_rob``)."""
    return (x + a5_perturbation(z, eps)).clamp(0.0, 1.0)


def ramped_attack_eps(step: int, attack_eps: float, start: int, length: int) -> float:
    """The attack radius at ``step``: 0 before ``start``, then linearly up to ``attack_eps`` over ``length`` steps
    (A5 ramps it with auto_LiRPA's SmoothedScheduler, start=3, length=18 epochs)."""
    return attack_eps * min(1.0, max(0.0, (step - start + 1) / length))


def a5_margin_lower(model: nn.Module, x_p: Tensor, y: Tensor, eps_t: float, f: float, method: str) -> Tensor:
    """The margin lower bounds A5 trains on at radius ``eps_t``: IBP's, or with ``method="crown-ibp"`` A5's mix
    f * CROWN-IBP + (1 - f) * IBP (its ``compute_predictions_and_loss``: CROWN-IBP weighs less as the radius grows)."""
    if method == "crown-ibp" and f >= 1e-5:
        return f * margin_bounds(model, x_p, y, eps_t, "crown-ibp") + (1.0 - f) * margin_bounds(model, x_p, y, eps_t, "ibp")
    return margin_bounds(model, x_p, y, eps_t, "ibp" if method == "crown-ibp" else method)


def a5_loss(model: nn.Module, x_p: Tensor, y: Tensor, eps_t: float, attack_eps: float, method: str) -> Tensor:
    """f CE(model(x_p), y) + (1 - f) verified CE of the margin bounds at radius ``eps_t``, f = 1 - eps_t / attack_eps
    (A5's ``compute_predictions_and_loss``), summed over images (each image's z gets its own gradient)."""
    f = 1.0 - eps_t / attack_eps
    if f >= 1.0:  # radius 0: the clean cross-entropy alone (A5's "easy case")
        return F.cross_entropy(model(x_p), y, reduction="sum")
    loss = (1.0 - f) * verified_cross_entropy(a5_margin_lower(model, x_p, y, eps_t, f, method), reduction="sum")
    if f > 0:
        loss = loss + f * F.cross_entropy(model(x_p), y, reduction="sum")
    return loss


def a5(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    eps: float = 8 / 255,
    attack_eps: float | None = None,
    steps: int = 100,
    lr: float = 0.1,
    ramp_start: int = 3,
    ramp_length: int = 18,
    lr_milestones: tuple[int, ...] = (25, 42),
    method: str = "crown-ibp",
    seed: int | torch.Generator | None = 0,
) -> Tensor:
    """Protect ``x`` with A5 on the certified classifier ``model`` (Conv2d/ReLU/Linear, e.g. ``a5-cnn-ibp``).

    ``steps`` RMSprop steps on z from 0 (delta = 0), learning rate ``lr`` divided by 10 at each of ``lr_milestones``
    (A5's MultiStepLR; one step here is one of A5's epochs, in which each image's z is updated once); the bound
    (``method``: A5's default CROWN-IBP mix, or "ibp") is over the box of radius ``attack_eps`` (default ``eps``:
    the attacker's budget) around the current release, ramped from 0.
    Deterministic (``seed`` is accepted for the common defense signature)."""
    check_images(x, "x")
    y = check_labels(y, x)
    eps = check_positive(eps, "eps")
    attack_eps = eps if attack_eps is None else check_positive(attack_eps, "attack_eps")
    check_count(steps, "steps")
    lr = check_positive(lr, "lr")
    if method not in METHODS:
        raise ValueError(f"unknown bound method {method!r}; known: {', '.join(METHODS)}")
    bound_network(model)  # a clear error naming the layer before any work
    z = torch.zeros_like(x, requires_grad=True)
    optimizer = torch.optim.RMSprop([z], lr=lr)
    schedule = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(lr_milestones), gamma=0.1)
    for step in range(steps):
        eps_t = ramped_attack_eps(step, attack_eps, ramp_start, ramp_length)
        loss = a5_loss(model, a5_release(x, z, eps), y, eps_t, attack_eps, method)
        (z.grad,) = torch.autograd.grad(loss, z)  # z only: the classifier's weights get no gradient
        optimizer.step()
        schedule.step()
    return a5_release(x, z.detach(), eps)
