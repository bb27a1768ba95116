"""Randomized smoothing (Cohen, Rosenfeld & Kolter, ICML 2019) for the Bi-Level paper's Tables 5 and 7.

The smoothed classifier g(x) = argmax_c P(f(x + n) = c), n ~ N(0, sigma^2 I), is predicted by a majority
vote over noise samples (:func:`smoothed_predict`), certified by Cohen et al.'s CERTIFY
(:func:`certify`: n0 samples choose the class, n samples bound its probability from below with a
one-sided Clopper-Pearson interval; radius sigma * Phi^-1(p_A_lower); abstain when p_A_lower <= 1/2;
:func:`smoothed_predict` never abstains: it is a plain majority vote),
and attacked with randomized PGD on the smoothed soft classifier (Salman et al. 2019,
:func:`randomized_pgd_l2`; the Bi-Level paper's Sec. 3.6 and eq. 3). No package on PyPI implements
these for current torch (checked 2026-12-02), so they are written here from their definitions.
Every noise draw comes from a seeded generator; the N noisy copies of a batch go through f in
passes of at most ``pass_images`` images.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from scipy.stats import beta, norm
from torch import Tensor, nn

from .tensors import check_count, check_images, check_labels, check_positive, generator_for

#: Abstention in :func:`certify` (counted as wrong, never dropped).
ABSTAIN = -1


def noise_counts(model: nn.Module, x: Tensor, sigma: float, n: int, generator: torch.Generator,
                 pass_images: int = 1000) -> Tensor:
    """Class counts of f(x + n_i) over ``n`` Gaussian draws per image: (batch, classes) int64."""
    counts = None
    per_pass = max(1, pass_images // x.shape[0])
    done = 0
    with torch.no_grad():
        while done < n:
            k = min(per_pass, n - done)
            noise = torch.randn((k, *x.shape), generator=generator, device=x.device, dtype=x.dtype) * sigma
            logits = model((x.unsqueeze(0) + noise).flatten(0, 1))
            votes = F.one_hot(logits.argmax(1), logits.shape[1]).view(k, x.shape[0], -1).sum(0)
            counts = votes if counts is None else counts + votes
            done += k
    return counts


def smoothed_predict(model: nn.Module, x: Tensor, sigma: float, n: int = 50, seed: int | torch.Generator = 0) -> Tensor:
    """g(x) by majority vote over ``n`` noise samples (the Bi-Level paper takes 50; ties go to the lower class)."""
    check_images(x, "x")
    sigma = check_positive(sigma, "sigma")
    check_count(n, "n")
    return noise_counts(model, x, sigma, n, generator_for(seed, x.device)).argmax(1)


def lower_confidence_bound(k: Tensor, n: int, alpha: float) -> Tensor:
    """One-sided (1 - alpha) Clopper-Pearson lower bound on a binomial proportion with ``k`` successes of ``n``."""
    k = k.detach().cpu().double().numpy()
    lower = beta.ppf(alpha, k, n - k + 1)
    return torch.from_numpy(lower).nan_to_num(0.0)


def certify(model: nn.Module, x: Tensor, sigma: float, n0: int = 100, n: int = 100_000, alpha: float = 0.001,
            seed: int | torch.Generator = 0) -> tuple[Tensor, Tensor]:
    """Cohen et al.'s CERTIFY per image: (class, certified L2 radius); class :data:`ABSTAIN` and radius 0 when
    the lower bound of the top class's probability is <= 1/2."""
    check_images(x, "x")
    sigma = check_positive(sigma, "sigma")
    check_count(n0, "n0")
    check_count(n, "n")
    if n0 >= n:
        raise ValueError(f"this build's CERTIFY requires n0 < n (n0 draws only select the class, the n draws bound its "
                         f"probability; Cohen et al. use 100 and 100,000); got n0={n0}, n={n}")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    gen = generator_for(seed, x.device)
    guess = noise_counts(model, x, sigma, n0, gen).argmax(1)
    counts = noise_counts(model, x, sigma, n, gen)
    p_lower = lower_confidence_bound(counts.gather(1, guess[:, None]).squeeze(1), n, alpha)
    radius = sigma * torch.from_numpy(norm.ppf(p_lower.clamp(max=1 - 1e-16).numpy())).float()
    certified = p_lower > 0.5
    pred = torch.where(certified, guess.cpu(), torch.full_like(guess.cpu(), ABSTAIN))
    return pred, torch.where(certified, radius, torch.zeros_like(radius))


def max_certifiable_radius(sigma: float, n: int, alpha: float = 0.001) -> float:
    """The largest radius CERTIFY can return with ``n`` samples: sigma * Phi^-1(alpha^(1/n)) (all n draws agree)."""
    return cohen_radius(alpha ** (1 / n), sigma)


def votes_needed(radius: float, sigma: float, n: int, alpha: float = 0.001) -> int:
    """The fewest votes k of ``n`` for the top class with which CERTIFY certifies ``radius``: the smallest k whose
    one-sided Clopper-Pearson lower bound exceeds Phi(radius / sigma) (radius = sigma Phi^-1(p_lower) >= radius).
    ``n + 1`` when even n of n votes do not (the radius is beyond :func:`max_certifiable_radius`)."""
    check_count(n, "n")
    target = float(norm.cdf(check_positive(radius, "radius") / check_positive(sigma, "sigma")))
    low, high = 0, n + 1  # invariant: k = high certifies (or high = n + 1), k = low does not
    while high - low > 1:
        mid = (low + high) // 2
        if float(beta.ppf(alpha, mid, n - mid + 1)) >= target:
            high = mid
        else:
            low = mid
    return high


def certified_outcomes(pred: Tensor, radius: Tensor, y: Tensor, r: float) -> Tensor:
    """Per image: certified correct at L2 radius ``r`` (prediction == y and radius >= r; abstentions are wrong)."""
    return (pred == y.cpu()) & (radius >= r)


def soft_smoothed_log_probs(model: nn.Module, x: Tensor, sigma: float, m: int, generator: torch.Generator) -> Tensor:
    """log of the smoothed soft classifier G(x) = E_n softmax(f(x + n)) (Bi-Level eq. 3), by ``m`` noise samples
    (one batch of m x B copies; differentiable in x)."""
    noise = torch.randn((m, *x.shape), generator=generator, device=x.device, dtype=x.dtype) * sigma
    probs = F.softmax(model((x.unsqueeze(0) + noise).flatten(0, 1)), dim=1).view(m, x.shape[0], -1).mean(0)
    return probs.clamp_min(1e-12).log()


def l2_normalise(g: Tensor) -> Tensor:
    return g / g.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *([1] * (g.dim() - 1)))


def project_l2(v: Tensor, center: Tensor, eps: float) -> Tensor:
    """Projection onto the L2 ball of radius ``eps`` around ``center``, then onto [0, 1]."""
    delta = v - center
    norms = delta.flatten(1).norm(dim=1).clamp_min(1e-12)
    factor = torch.clamp(eps / norms, max=1.0).view(-1, *([1] * (v.dim() - 1)))
    return (center + delta * factor).clamp(0.0, 1.0)


def randomized_pgd_l2(model: nn.Module, x: Tensor, y: Tensor, eps: float = 0.5, sigma: float = 0.1, m: int = 5,
                      steps: int = 20, restarts: int = 1, step: float | None = None, seed: int = 0,
                      n_predict: int = 50) -> Tensor:
    """Randomized PGD (Salman et al. 2019) in the L2 ball: ``steps`` normalised ascent steps on the cross-entropy
    of the smoothed soft classifier (``m`` noise samples per step); with ``restarts`` > 1 random starts, per
    image the first start whose result the smoothed classifier (``n_predict`` votes) gets wrong is kept."""
    check_images(x, "x")
    y = check_labels(y, x)
    eps, sigma = check_positive(eps, "eps"), check_positive(sigma, "sigma")
    for value, name in ((steps, "steps"), (restarts, "restarts"), (m, "m"), (n_predict, "n_predict")):
        check_count(value, name)
    step = 2.5 * eps / steps if step is None else check_positive(step, "step")
    gen = generator_for(seed, x.device)
    best = x.clone()
    fooled = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
    for r in range(restarts):
        start = torch.randn(x.shape, generator=gen, device=x.device, dtype=x.dtype) if r > 0 else torch.zeros_like(x)
        x_adv = project_l2(x + l2_normalise(start) * eps * 0.5, x, eps) if r > 0 else x.clone()
        for _ in range(steps):
            x_adv = x_adv.detach().requires_grad_(True)
            loss = F.nll_loss(soft_smoothed_log_probs(model, x_adv, sigma, m, gen), y, reduction="sum")
            (grad,) = torch.autograd.grad(loss, x_adv)
            x_adv = project_l2(x_adv.detach() + step * l2_normalise(grad), x, eps)
        take = ~fooled  # images no earlier start has fooled take this start's result
        best = torch.where(take.view(-1, 1, 1, 1), x_adv, best)
        if restarts > 1:
            fooled |= smoothed_predict(model, x_adv, sigma, n_predict, gen) != y
    return best.detach()


def cohen_radius(p_lower: float, sigma: float) -> float:
    """sigma * Phi^-1(p) (Cohen et al. Theorem 1 with p_B = 1 - p_A): the formula :func:`certify` applies."""
    return sigma * float(norm.ppf(p_lower)) if p_lower > 0.5 else 0.0


__all__ = ["ABSTAIN", "certify", "certified_outcomes", "cohen_radius", "lower_confidence_bound", "max_certifiable_radius",
           "noise_counts", "votes_needed",
           "project_l2", "randomized_pgd_l2", "smoothed_predict", "soft_smoothed_log_probs"]
