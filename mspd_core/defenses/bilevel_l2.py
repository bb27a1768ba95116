"""Bi-Level preemptive robustification in the L2 ball, for a base or a smoothed classifier (Bi-Level paper,
Alg. 1 with its Supplementary C: "under L2 perturbations we use projected gradient descent"; Sec. 3.6 for
smoothed classifiers).

Each outer iteration finds the inner adversarial point of x' (PGD-L2 against f, or randomized PGD
against the smoothed soft classifier G of eq. 3 when ``sigma`` is given), then moves x' by a normalised
descent step of the first-order outer loss CE(f(x' + delta), y) (delta held constant; with ``sigma``,
the cross-entropy of G) and projects onto the L2 ball of radius ``eps`` around x and [0, 1].
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..attacks import pgd_l2
from ..smoothed_classifier import l2_normalise, project_l2, randomized_pgd_l2, soft_smoothed_log_probs
from ..tensors import check_count, check_images, check_labels, check_positive, generator_for


def random_start_l2(x: Tensor, eps: float, generator: torch.Generator) -> Tensor:
    """x' = x + r eps u, u a uniformly random unit direction and r ~ U(0, 1) per image, in [0, 1]: the random start of
    Algorithm 1 (the L-inf Bi-Level starts at x + U(-eps, eps)); the paper's Sec. 3.7 credits it for white-box
    reconstruction failing."""
    direction = l2_normalise(torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype))
    radius = torch.rand(x.shape[0], generator=generator, device=x.device, dtype=x.dtype).view(-1, *([1] * (x.dim() - 1)))
    return project_l2(x + radius * eps * direction, x, eps)


def inner_adversary_l2(model: nn.Module, x_prime: Tensor, y: Tensor, eps: float, steps: int, sigma: float | None,
                       noise_samples: int, seed: int) -> Tensor:
    """The inner maximisation around x': PGD-L2 on f, or randomized PGD-L2 on G when ``sigma`` is set."""
    if sigma is None:
        return pgd_l2(model, x_prime.detach(), y, eps=eps, steps=steps, seed=seed)
    return randomized_pgd_l2(model, x_prime.detach(), y, eps=eps, sigma=sigma, m=noise_samples, steps=steps, seed=seed)


def outer_loss_l2(model: nn.Module, x_prime: Tensor, x_adv: Tensor, y: Tensor, sigma: float | None, noise_samples: int,
                  generator: torch.Generator) -> Tensor:
    """The first-order outer loss at x' + delta, delta = x_adv - x' constant: CE of f, or of G (eq. 3)."""
    point = x_prime + (x_adv - x_prime).detach()
    if sigma is None:
        return F.cross_entropy(model(point), y, reduction="sum")
    return F.nll_loss(soft_smoothed_log_probs(model, point, sigma, noise_samples, generator), y, reduction="sum")


def bilevel_l2(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    eps: float = 0.5,
    epochs: int = 20,
    step: float | None = None,
    inner_steps: int = 10,
    sigma: float | None = None,
    noise_samples: int = 5,
    seed: int | torch.Generator | None = 0,
) -> Tensor:
    """Robustify ``x`` inside the L2 ball of radius ``eps``: from a random start (:func:`random_start_l2`), ``epochs``
    projected normalised descent steps of size
    ``step`` (default 2.5 eps / epochs) against the inner adversary (``inner_steps`` L2 PGD steps; on the smoothed
    classifier with noise ``sigma`` and ``noise_samples`` draws per step, as the paper's 5)."""
    check_images(x, "x")
    y = check_labels(y, x)
    eps = check_positive(eps, "eps")
    check_count(epochs, "epochs")
    check_count(inner_steps, "inner_steps")
    if sigma is not None:
        sigma = check_positive(sigma, "sigma")
        check_count(noise_samples, "noise_samples")
    step = 2.5 * eps / epochs if step is None else check_positive(step, "step")
    gen = generator_for(seed, x.device)
    return outer_steps_l2(model, random_start_l2(x, eps, gen), x, y, eps, epochs, step, inner_steps, sigma,
                          noise_samples, gen)


def outer_steps_l2(model: nn.Module, start: Tensor, center: Tensor, y: Tensor, eps: float, epochs: int, step: float,
                   inner_steps: int, sigma: float | None, noise_samples: int, generator: torch.Generator,
                   ascend: bool = False) -> Tensor:
    """The outer loop: ``epochs`` normalised steps of the first-order outer loss against the inner adversary,
    projected onto the L2 ball of radius ``eps`` around ``center``; descending (the defense) or, with ``ascend``,
    ascending (the white-box adversary's reconstruction, Algorithm 3)."""
    sign = 1.0 if ascend else -1.0
    x_prime = start
    for _ in range(epochs):
        attack_seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator, device=generator.device))
        x_adv = inner_adversary_l2(model, x_prime, y, eps, inner_steps, sigma, noise_samples, attack_seed)
        x_prime = x_prime.detach().requires_grad_(True)
        with torch.enable_grad():
            loss = outer_loss_l2(model, x_prime, x_adv, y, sigma, noise_samples, generator)
            (grad,) = torch.autograd.grad(loss, x_prime)
        x_prime = project_l2(x_prime.detach() + sign * step * l2_normalise(grad), center, eps)
    return x_prime.detach()
