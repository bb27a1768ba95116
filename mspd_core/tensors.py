"""Ground layer: input validation, the eps-ball projection and 8-bit release.

``project`` is SPEC's Proj(v, c, e) = clip(v, c - e, c + e) then clip to [0, 1].
"""
from __future__ import annotations

import math

import torch
from torch import Tensor


def check_images(x: Tensor, name: str = "x") -> Tensor:
    """Raise a clear ``ValueError`` unless ``x`` is a finite float NCHW RGB batch in [0, 1]."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(f"{name} must be NCHW (4 dimensions), got shape {tuple(x.shape)}")
    if x.shape[1] != 3:
        raise ValueError(f"{name} must have 3 channels (RGB) in dim 1, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a float tensor in [0, 1], got dtype {x.dtype}")
    if x.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(x.shape)})")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    lo, hi = float(x.min()), float(x.max())
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"{name} must lie in [0, 1]; got values in [{lo:.4g}, {hi:.4g}]")
    return x


def check_labels(y: Tensor, x: Tensor, name: str = "y") -> Tensor:
    """Raise unless ``y`` is an integer vector with one label per image of ``x``."""
    if not isinstance(y, Tensor) or y.dim() != 1 or y.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"{name} must be a 1-D integer tensor of labels")
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"{name} has {y.shape[0]} labels for {x.shape[0]} images")
    return y.long()


def check_positive(value: float, name: str) -> float:
    """Raise unless ``value`` is a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_count(value: int, name: str) -> int:
    """Raise unless ``value`` is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return value


def project(v: Tensor, center: Tensor, eps: float) -> Tensor:
    """SPEC Proj(v, c, e): clip ``v`` to the L-inf ball of radius ``eps`` around ``center``, then to [0, 1]."""
    return torch.minimum(torch.maximum(v, center - eps), center + eps).clamp(0.0, 1.0)


def generator_for(seed: int | torch.Generator | None, device: torch.device | str) -> torch.Generator:
    """A torch Generator on ``device``: pass one through, or seed a new one (``None`` -> 0)."""
    if isinstance(seed, torch.Generator):
        return seed
    gen = torch.Generator(device=torch.device(device))
    gen.manual_seed(0 if seed is None else int(seed))
    return gen


def uniform_noise(like: Tensor, eps: float, generator: torch.Generator) -> Tensor:
    """U(-eps, eps) noise shaped like ``like``, drawn from ``generator``."""
    u = torch.rand(like.shape, generator=generator, device=like.device, dtype=like.dtype)
    return (2.0 * u - 1.0) * eps


def to_uint8_release(x_p: Tensor, x: Tensor, eps: float) -> Tensor:
    """Quantize a protected batch to 8-bit so it stays inside the eps-ball of ``x`` and [0, 1].

    Each pixel is rounded to the nearest level k/255; if rounding leaves the ball
    (|k/255 - x| > eps), the nearest level inside the ball is taken instead. Returns uint8 NCHW.
    The ball is non-empty in 8-bit whenever ``eps >= 0.5/255`` or ``x`` is itself 8-bit.
    """
    check_images(x_p, "x_p")
    check_images(x, "x")
    eps = check_positive(eps, "eps")
    levels = torch.round(x_p * 255.0)
    lo = torch.ceil((x - eps) * 255.0 - 1e-4).clamp(0, 255)
    hi = torch.floor((x + eps) * 255.0 + 1e-4).clamp(0, 255)
    if bool((lo > hi).any()):
        raise ValueError("eps is too small for an 8-bit release of a non-8-bit original")
    return torch.minimum(torch.maximum(levels, lo), hi).to(torch.uint8)


def from_uint8(x8: Tensor) -> Tensor:
    """uint8 NCHW -> float in [0, 1]."""
    return x8.to(torch.float32) / 255.0
