"""Attacks as thin adapters over the field's libraries: one signature
``attack(model, x, y, eps, *, seed, ...) -> x_adv``.

The attack budget is measured around the image it is given (the released image x_p), as
in the paper (SPEC, "The preemptive setting"). AutoAttack comes from the official
``pyautoattack``; PGD, EOT-PGD and Square from torchattacks. CW-L-inf (PGD on the
Carlini-Wagner margin loss) is written here because neither library has an L-inf version.
"""
from __future__ import annotations

import logging

import torch
from torch import Tensor, nn

LINF_EPS = 8 / 255
#: ImageNet's defense and attack budget (SPEC).
IMAGENET_EPS = 4 / 255
L2_EPS = 0.5


def seeded_rng(seed: int, device: torch.device | str):
    """A context in which torch's global RNG (CPU, and CUDA when ``device`` is CUDA) is seeded
    with ``seed`` and restored afterwards: library attacks draw from the global RNG."""
    device = torch.device(device)
    devices = [device] if device.type == "cuda" else []

    class _Ctx:
        def __enter__(self):
            self._fork = torch.random.fork_rng(devices=devices)
            self._fork.__enter__()
            torch.manual_seed(seed)
            return self

        def __exit__(self, *exc):
            return self._fork.__exit__(*exc)

    return _Ctx()


def _run_seeded(atk, x: Tensor, y: Tensor, seed: int | None) -> Tensor:
    if seed is None:
        return atk(x, y).detach()
    with seeded_rng(seed, x.device):
        return atk(x, y).detach()


def pgd_linf(model: nn.Module, x: Tensor, y: Tensor, eps: float = LINF_EPS, steps: int = 20,
             alpha: float = 2 / 255, seed: int | None = 0) -> Tensor:
    """PGD-``steps`` L-inf attack with random start (Madry et al. 2018), via torchattacks."""
    import torchattacks

    return _run_seeded(torchattacks.PGD(model, eps=eps, alpha=alpha, steps=steps, random_start=True), x, y, seed)


def pgd_l2(model: nn.Module, x: Tensor, y: Tensor, eps: float = L2_EPS, steps: int = 20,
           alpha: float | None = None, seed: int | None = 0) -> Tensor:
    """PGD-``steps`` L2 attack (torchattacks.PGDL2), step 2.5 eps / steps unless given."""
    import torchattacks

    alpha = 2.5 * eps / steps if alpha is None else alpha
    return _run_seeded(torchattacks.PGDL2(model, eps=eps, alpha=alpha, steps=steps, random_start=True), x, y, seed)


def eot_pgd(model: nn.Module, x: Tensor, y: Tensor, eps: float = LINF_EPS, steps: int = 20,
            alpha: float = 2 / 255, eot_iter: int = 20, seed: int | None = 0) -> Tensor:
    """EOT-PGD (torchattacks.EOTPGD): gradients averaged over ``eot_iter`` samples per step.

    Not used for the book's BPDA+EOT row: on a deterministic, differentiable target EOT-PGD is PGD."""
    import torchattacks

    atk = torchattacks.EOTPGD(model, eps=eps, alpha=alpha, steps=steps, eot_iter=eot_iter, random_start=True)
    return _run_seeded(atk, x, y, seed)


def square(model: nn.Module, x: Tensor, y: Tensor, eps: float = LINF_EPS, n_queries: int = 5000,
           seed: int | None = 0) -> Tensor:
    """Square attack (Andriushchenko et al. 2020), score-based, L-inf, via torchattacks."""
    import torchattacks

    atk = torchattacks.Square(model, norm="Linf", eps=eps, n_queries=n_queries, n_restarts=1, seed=seed or 0)
    return _run_seeded(atk, x, y, seed)


def cw_margin_loss(logits: Tensor, y: Tensor) -> Tensor:
    """Carlini-Wagner margin: max_{j != y} z_j - z_y (summed over the batch; larger = more wrong)."""
    true = logits.gather(1, y[:, None]).squeeze(1)
    other = logits.masked_fill(torch.nn.functional.one_hot(y, logits.shape[1]).bool(), float("-inf")).amax(1)
    return (other - true).sum()


def cw_linf(model: nn.Module, x: Tensor, y: Tensor, eps: float = LINF_EPS, steps: int = 20,
            alpha: float = 2 / 255, seed: int | None = 0) -> Tensor:
    """CW-L-inf: PGD on the CW margin loss with random start (the "CW" row of the paper's Table VI)."""
    gen = torch.Generator(device=x.device).manual_seed(seed or 0)
    x_adv = (x + (torch.rand(x.shape, generator=gen, device=x.device) * 2 - 1) * eps).clamp(0, 1)
    for _ in range(steps):
        with torch.enable_grad():
            x_adv = x_adv.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(cw_margin_loss(model(x_adv), y), x_adv)
        x_adv = torch.min(torch.max(x_adv.detach() + alpha * grad.sign(), x - eps), x + eps).clamp(0, 1)
    return x_adv.detach()


def autoattack(model: nn.Module, x: Tensor, y: Tensor, eps: float = LINF_EPS, norm: str = "Linf",
               version: str = "standard", attacks: tuple[str, ...] | None = None, seed: int | None = 0,
               batch_size: int = 250, eot_iter: int | None = None, n_queries: int | None = None,
               n_iter: int | None = None, n_target_classes: int | None = None) -> Tensor:
    """Official AutoAttack (``pyautoattack``): ``version`` "standard", "rand" or "custom" with ``attacks``
    (custom runs each listed attack with the standard version's settings: one restart, 100 iterations).

    ``eot_iter`` (rand), ``n_queries`` (Square), ``n_iter`` (APGD, APGD-T, FAB) and ``n_target_classes``
    (APGD-T, FAB-T) override the library's
    values for cheaper profiles; the result is then no longer the standard configuration, and callers say so.
    """
    from pyautoattack import AutoAttack

    logging.getLogger("auto-attack").setLevel(logging.WARNING)
    kwargs = {"attacks": list(attacks)} if version == "custom" else {}
    adversary = AutoAttack(model, norm=norm, eps=eps, version=version, device=x.device, seed=seed or 0, **kwargs)
    if version == "custom":  # the per-attack settings of the standard version (one restart each)
        for attack in (adversary.apgd, adversary.apgd_targeted, adversary.fab):
            attack.n_restarts = 1
    if eot_iter is not None:
        adversary.apgd.eot_iter = eot_iter
    if n_queries is not None:
        adversary.square.n_queries = n_queries
    if n_iter is not None:
        for attack in (adversary.apgd, adversary.apgd_targeted, adversary.fab):
            attack.n_iter = n_iter
    if n_target_classes is not None:
        adversary.apgd_targeted.n_target_classes = adversary.fab.n_target_classes = n_target_classes
    with torch.enable_grad():
        # contiguous: pyautoattack 0.2.0 calls grad.view(n, -1), which fails on channels-last gradients
        out = adversary.run_standard_evaluation(x.contiguous(), y, batch_size=batch_size)
    x_adv = out[0] if isinstance(out, tuple) else out
    return x_adv.detach().to(x.device)


def transfer(model: nn.Module, x: Tensor, y: Tensor, eps: float = LINF_EPS, surrogate: nn.Module | None = None,
             steps: int = 20, alpha: float = 2 / 255, seed: int | None = 0) -> Tensor:
    """Transfer attack: PGD-``steps`` crafted on ``surrogate``, to be evaluated on ``model`` (the target)."""
    if surrogate is None:
        raise ValueError("transfer attack needs a surrogate model")
    return pgd_linf(surrogate, x, y, eps=eps, steps=steps, alpha=alpha, seed=seed)
