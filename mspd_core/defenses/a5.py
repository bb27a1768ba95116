"""A5 (Frosio & Kautz, "A5: Adversarial Augmentation Against Adversarial Attacks", CVPR 2023), the
robustification baseline of MSPD Table VIII and Fast Preemption Table 1.

A5 releases x_p = x + delta with |delta|_inf <= eps chosen to make the *certified* prediction of the
true class as safe as possible: it maximises a lower bound, computed by bound propagation through a
certifiably trained model, of the class-y margin over every attack of radius ``attack_eps`` around
x_p (A5 paper, Sec. 3, "defensive augmentation"). Here the bound is IBP or CROWN from the
``bound-propagation`` package (:mod:`mspd_core.bounds`), the certified model the zoo's IBP-trained MLP
``a5-mlp-ibp``, and the ascent signed-gradient steps on the worst-case cross-entropy (the smooth
surrogate of the margin bound IBP training minimises) projected into the eps-ball and [0, 1].
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..bounds import METHODS, bound_network, logit_bounds, worst_case_logits
from ..tensors import check_count, check_images, check_labels, check_positive, project


def a5_step(model: nn.Module, x: Tensor, x_t: Tensor, y: Tensor, eps: float, attack_eps: float, step: float,
            method: str) -> Tensor:
    """One ascent step of the certified margin: x_{t+1} = Proj(x_t - step * sign(grad CE(worst-case bounds)), x, eps)."""
    x_t = x_t.detach().requires_grad_(True)
    lower, upper = logit_bounds(model, x_t, attack_eps, method)
    loss = F.cross_entropy(worst_case_logits(lower, upper, y), y, reduction="sum")
    (grad,) = torch.autograd.grad(loss, x_t)
    return project(x_t.detach() - step * grad.sign(), x, eps)


def a5(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    eps: float = 8 / 255,
    attack_eps: float | None = None,
    steps: int = 20,
    step: float | None = None,
    method: str = "ibp",
    seed: int | torch.Generator | None = 0,
) -> Tensor:
    """Protect ``x`` with A5 on the certified model ``model`` (a Linear/ReLU network, e.g. ``a5-mlp-ibp``).

    ``steps`` signed steps of size ``step`` (default 2.5 eps / steps) from x; the bound is over the box of
    radius ``attack_eps`` (default ``eps``: the attacker's budget) around the current point. Deterministic
    (``seed`` is accepted for the common defense signature)."""
    check_images(x, "x")
    y = check_labels(y, x)
    eps = check_positive(eps, "eps")
    attack_eps = eps if attack_eps is None else check_positive(attack_eps, "attack_eps")
    check_count(steps, "steps")
    if method not in METHODS:
        raise ValueError(f"unknown bound method {method!r}; known: {', '.join(METHODS)}")
    bound_network(model)  # a clear error naming the layer before any work
    step = 2.5 * eps / steps if step is None else check_positive(step, "step")
    x_t = x
    for _ in range(steps):
        x_t = a5_step(model, x, x_t, y, eps, attack_eps, step, method)
    return x_t.detach()
