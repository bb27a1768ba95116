"""The Bi-Level paper's adaptive white-box adversary (its Algorithms 3 and 4).

The adversary knows the released image x' was robustified and how. Algorithm 3 *reconstructs* the
unknown original: it runs the robustification's dynamics from x' with the update direction reversed
(ascending the first-order outer loss, against the same inner adversary) inside the defender's ball
around x'. Algorithm 4 attacks the reconstruction x_hat with a final budget eps_f and keeps the result
inside the adversary's ball around x' (the threat model: |x_adv - x'| <= eps) by projection, where
the paper counts a result outside the ball as a failed attack: this adversary is at least as strong.
The paper sweeps eps_f and reports the lowest accuracy; here every image keeps the first eps_f of the
sweep whose result the classifier gets wrong (per image, again at least as strong). The
reconstruction labels are the classifier's own predictions on x' (the adversary does not know y).
With ``sigma`` the classifier is the smoothed one (randomized PGD on the smoothed soft classifier,
majority-vote predictions; L2 only).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .attacks import pgd_l2, pgd_linf
from .defenses.bilevel import box_bounds, first_order_outer_loss, from_tanh_space, inner_attack, to_tanh_space
from .defenses.bilevel_l2 import outer_steps_l2
from .defenses.labels import predict
from .smoothed_classifier import project_l2, randomized_pgd_l2, smoothed_predict
from .tensors import check_count, check_images, check_labels, check_positive, generator_for, project

NORMS = ("Linf", "L2")
#: Final budgets eps_f tried, as multiples of eps (the paper's sweep values were lost in extraction).
DEFAULT_SWEEP = (0.25, 0.5, 1.0, 2.0)


def project_norm(v: Tensor, center: Tensor, eps: float, norm: str) -> Tensor:
    """Projection onto the ``norm`` ball of radius ``eps`` around ``center``, then [0, 1]."""
    return project(v, center, eps) if norm == "Linf" else project_l2(v, center, eps)


def reconstruct(model: nn.Module, x_rel: Tensor, y: Tensor, eps: float, norm: str = "Linf", epochs: int = 20,
                inner_steps: int = 10, sigma: float | None = None, noise_samples: int = 5,
                seed: int | torch.Generator = 0, inner_alpha: float | None = None, lr: float = 0.1) -> Tensor:
    """Algorithm 3: x_hat from x' by the robustification's own dynamics with the update direction reversed and x'
    as the start: ``epochs`` ASCENT steps of the first-order outer loss against the inner adversary (the
    robustification's: ``inner_steps`` PGD steps of ``inner_alpha``, default 2.5 eps / inner_steps). L-inf: RMSProp
    (``lr``) in the tanh parametrisation of the box around x', as :func:`~mspd_core.defenses.bilevel.bilevel`;
    L2: projected normalised steps of 2.5 eps / epochs, as :func:`~mspd_core.defenses.bilevel_l2.bilevel_l2`."""
    gen = generator_for(seed, x_rel.device)
    if norm == "Linf":
        low, high = box_bounds(x_rel, eps)
        w = to_tanh_space(x_rel, low, high).requires_grad_(True)
        opt = torch.optim.RMSprop([w], lr=lr, maximize=True)
        alpha = 2.5 * eps / inner_steps if inner_alpha is None else inner_alpha
        for _ in range(epochs):
            attack_seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen, device=gen.device))
            with torch.enable_grad():
                x_hat = from_tanh_space(w, low, high)
                x_adv = inner_attack(model, x_hat, y, eps, inner_steps, alpha, attack_seed)
                loss = first_order_outer_loss(model, x_hat, x_adv, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        return from_tanh_space(w, low, high).detach()
    return outer_steps_l2(model, x_rel, x_rel, y, eps, epochs, 2.5 * eps / epochs, inner_steps, sigma, noise_samples,
                          gen, ascend=True)


def final_attack(model: nn.Module, x_hat: Tensor, y: Tensor, eps_f: float, norm: str, steps: int, sigma: float | None,
                 noise_samples: int, seed: int) -> Tensor:
    """Algorithm 4's attack of the reconstruction with budget ``eps_f``: PGD (or randomized PGD on the smoothed
    classifier) around x_hat."""
    if sigma is not None:
        return randomized_pgd_l2(model, x_hat, y, eps=eps_f, sigma=sigma, m=noise_samples, steps=steps, seed=seed)
    if norm == "Linf":
        return pgd_linf(model, x_hat, y, eps=eps_f, steps=steps, alpha=2.5 * eps_f / steps, seed=seed)
    return pgd_l2(model, x_hat, y, eps=eps_f, steps=steps, seed=seed)


def bilevel_whitebox(model: nn.Module, x: Tensor, y: Tensor, eps: float = 8 / 255, norm: str = "Linf",
                     epochs: int = 20, inner_steps: int = 10, steps: int = 20, sweep: tuple[float, ...] = DEFAULT_SWEEP,
                     sigma: float | None = None, noise_samples: int = 5, votes: int = 50, seed: int = 0,
                     inner_alpha: float | None = None) -> Tensor:
    """Algorithms 3-4 on released images ``x``: reconstruct with the classifier's own labels for the release (the
    adversary does not know y; the majority vote with ``sigma``), attack with each eps_f = s * eps of ``sweep``
    (labels ``y``, as every attack of the book is scored), project into the ``eps`` ball around ``x``; per image the
    first result the classifier gets wrong (else the last)."""
    check_images(x, "x")
    y = check_labels(y, x)
    eps = check_positive(eps, "eps")
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r}; known: {', '.join(NORMS)}")
    if sigma is not None and norm != "L2":
        raise ValueError("the smoothed classifier's white-box adversary is L2 (randomized PGD); got norm " + repr(norm))
    for value, name in ((epochs, "epochs"), (inner_steps, "inner_steps"), (steps, "steps"), (votes, "votes"),
                        (noise_samples, "noise_samples")):
        check_count(value, name)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    if not sweep or any(not s > 0 for s in sweep):
        raise ValueError(f"sweep must be a non-empty list of positive multiples of eps, got {sweep!r}")
    guess = predict(model, x) if sigma is None else smoothed_predict(model, x, sigma, votes, seed)
    x_hat = reconstruct(model, x, guess, eps, norm, epochs, inner_steps, sigma, noise_samples, seed, inner_alpha)
    best = x.clone()
    fooled = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
    for k, s in enumerate(sweep):
        x_adv = project_norm(final_attack(model, x_hat, y, s * eps, norm, steps, sigma, noise_samples, seed + k), x, eps, norm)
        best = torch.where((~fooled).view(-1, 1, 1, 1), x_adv, best)
        pred = predict(model, x_adv) if sigma is None else smoothed_predict(model, x_adv, sigma, votes, seed + k)
        fooled |= pred != y
    return best.detach()
