"""Bi-Level preemptive robustification and the UnAdv baseline (Bi-Level paper, Alg. 1; SPEC "Bi-Level").

x' lives in the box [max(x - eps, 0), min(x + eps, 1)] through a tanh parametrisation and
is optimised with RMSProp (lr 0.1) from x' = clip01(x + U(-eps, eps)):
  Bi-Level:  each outer iteration runs PGD-20 (step 2/255, random start, eps around x')
             against f, and descends CE(f(x_adv), y) with the first-order gradient (the
             inner perturbation x_adv - x' is a constant);
  UnAdv:     the same optimiser on CE(f(x'), y), no inner attack.
The cascade UnAdv + Bi-Level runs one UnAdv stage, then a Bi-Level stage from its output.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..attacks import pgd_linf
from ..tensors import check_count, check_images, check_labels, check_positive, generator_for, uniform_noise

TANH_LIMIT = 1 - 1e-6


def box_bounds(x: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    """The feasible box [max(x - eps, 0), min(x + eps, 1)]."""
    return (x - eps).clamp(min=0.0), (x + eps).clamp(max=1.0)


def to_tanh_space(x_prime: Tensor, low: Tensor, high: Tensor) -> Tensor:
    """w with x' = low + (high - low) * (tanh(w) + 1) / 2 (inverse of :func:`from_tanh_space`)."""
    unit = (2 * (x_prime - low) / (high - low) - 1).clamp(-TANH_LIMIT, TANH_LIMIT)
    return torch.atanh(unit)


def from_tanh_space(w: Tensor, low: Tensor, high: Tensor) -> Tensor:
    """x' = low + (high - low) * (tanh(w) + 1) / 2, always inside the box."""
    return low + (high - low) * (torch.tanh(w) + 1) / 2


def first_order_outer_loss(model: nn.Module, x_prime: Tensor, x_adv: Tensor, y: Tensor) -> Tensor:
    """CE(f(x' + delta), y) with delta = x_adv - x' held constant (the first-order outer gradient)."""
    delta = (x_adv - x_prime).detach()
    return F.cross_entropy(model(x_prime + delta), y, reduction="sum")


def inner_attack(model: nn.Module, x_prime: Tensor, y: Tensor, eps: float, steps: int, alpha: float, seed: int) -> Tensor:
    """The inner maximisation: PGD-``steps`` around x' (ART, :func:`~mspd_core.attacks.pgd_linf`), random start."""
    return pgd_linf(model, x_prime.detach(), y, eps=eps, steps=steps, alpha=alpha, seed=seed)


def _optimise(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    eps: float,
    epochs: int,
    lr: float,
    with_inner_attack: bool,
    inner_steps: int,
    inner_alpha: float,
    init: Tensor | None,
    seed: int | torch.Generator | None,
    progress: bool,
) -> Tensor:
    check_images(x, "x")
    y = check_labels(y, x)
    eps = check_positive(eps, "eps")
    lr = check_positive(lr, "lr")
    check_count(epochs, "epochs")
    gen = generator_for(seed, x.device)
    low, high = box_bounds(x, eps)
    if init is None:
        x_prime = (x + uniform_noise(x, eps, gen)).clamp(0, 1)
    else:
        check_images(init, "init")
        x_prime = torch.minimum(torch.maximum(init, low), high)
    w = to_tanh_space(x_prime, low, high).requires_grad_(True)
    opt = torch.optim.RMSprop([w], lr=lr)
    iterations = range(epochs)
    if progress:
        from tqdm.auto import tqdm

        iterations = tqdm(iterations, desc="Bi-Level" if with_inner_attack else "UnAdv", leave=False)
    for _ in iterations:
        with torch.enable_grad():
            _outer_step(model, w, low, high, y, eps, with_inner_attack, inner_steps, inner_alpha, gen, opt)
    return from_tanh_space(w, low, high).detach()


def _outer_step(model: nn.Module, w: Tensor, low: Tensor, high: Tensor, y: Tensor, eps: float,
                with_inner_attack: bool, inner_steps: int, inner_alpha: float,
                gen: torch.Generator, opt: torch.optim.Optimizer) -> None:
    """One RMSProp step on w: Bi-Level (with the inner attack) or UnAdv (without)."""
    x_prime = from_tanh_space(w, low, high)
    if with_inner_attack:
        attack_seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen, device=gen.device))
        x_adv = inner_attack(model, x_prime, y, eps, inner_steps, inner_alpha, attack_seed)
        loss = first_order_outer_loss(model, x_prime, x_adv, y)
    else:
        loss = F.cross_entropy(model(x_prime), y, reduction="sum")
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def bilevel(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    eps: float = 8 / 255,
    epochs: int = 100,
    lr: float = 0.1,
    inner_steps: int = 20,
    inner_alpha: float = 2 / 255,
    init: Tensor | None = None,
    seed: int | torch.Generator | None = 0,
    progress: bool = False,
) -> Tensor:
    """Bi-Level preemptive robustification: ``epochs`` outer RMSProp steps against PGD-``inner_steps``."""
    return _optimise(model, x, y, eps, epochs, lr, True, inner_steps, inner_alpha, init, seed, progress)


def unadv(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    eps: float = 8 / 255,
    epochs: int = 100,
    lr: float = 0.1,
    init: Tensor | None = None,
    seed: int | torch.Generator | None = 0,
    progress: bool = False,
) -> Tensor:
    """UnAdv (forward-only baseline): the same optimiser on CE(f(x'), y), no inner attack."""
    return _optimise(model, x, y, eps, epochs, lr, False, 0, 0.0, init, seed, progress)


def unadv_bilevel_cascade(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    eps: float = 8 / 255,
    unadv_epochs: int = 1,
    bilevel_epochs: int = 1,
    lr: float = 0.1,
    seed: int | torch.Generator | None = 0,
) -> Tensor:
    """Cascade UnAdv + Bi-Level (Table V's 2-epoch cascade): UnAdv, then Bi-Level started from its output."""
    gen = generator_for(seed, x.device)
    x_unadv = unadv(model, x, y, eps=eps, epochs=unadv_epochs, lr=lr, seed=gen)
    return bilevel(model, x, y, eps=eps, epochs=bilevel_epochs, lr=lr, init=x_unadv, seed=gen)
