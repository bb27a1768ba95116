"""Attacks as thin adapters over the field's libraries: one signature ``attack(model, x, y, eps) -> x_adv``.

The attack budget is measured around the image it is given (the released image x_p), as
in the paper (SPEC, "The preemptive setting").
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


def pgd_linf(model: nn.Module, x: Tensor, y: Tensor, eps: float = 8 / 255, steps: int = 20,
             alpha: float = 2 / 255, seed: int | None = 0) -> Tensor:
    """PGD-``steps`` L-inf attack with random start (Madry et al. 2018), via torchattacks."""
    import torchattacks

    atk = torchattacks.PGD(model, eps=eps, alpha=alpha, steps=steps, random_start=True)
    if seed is None:
        return atk(x, y).detach()
    with seeded_rng(seed, x.device):
        return atk(x, y).detach()


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
