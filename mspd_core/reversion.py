"""Preemptive Reversion (MSPD paper, Lemma 4 and Table X) and JPEG compression.

x_r = x_p - (D'(x_p) - x_p) = 2 x_p - D'(x_p), clipped to [0, 1]. White, gray and black
reversion differ only in which defense D' is passed (same backbone and settings; same
architecture, other weights; other architecture).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from .tensors import check_images, check_positive

Defense = Callable[[Tensor], Tensor]


def preemptive_reversion(defense: Defense, x_p: Tensor) -> Tensor:
    """x_r = clip01(2 x_p - D'(x_p)): undo a preemptive perturbation by re-running a defense D' on the release."""
    check_images(x_p, "x_p")
    return (2 * x_p - defense(x_p)).clamp(0.0, 1.0).detach()


def jpeg(x: Tensor, quality: int = 50) -> Tensor:
    """Encode and decode each image with libjpeg (Pillow) at ``quality`` (Table X's JPEG row uses 50)."""
    import io

    import numpy as np
    from PIL import Image

    check_images(x, "x")
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
        raise ValueError(f"quality must be an integer in [1, 100], got {quality!r}")
    pixels = torch.round(x.detach().cpu() * 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    decoded = []
    for image in pixels:  # a codec call per image: JPEG has no batched encoder
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
        decoded.append(np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")))
    return torch.from_numpy(np.stack(decoded)).permute(0, 3, 1, 2).to(x.device, torch.float32) / 255.0


def reversion_error(x: Tensor, x_p: Tensor, x_r: Tensor) -> Tensor:
    """Per-image ||x_r - x||_2 / ||x_p - x||_2 (Lemma 4's reversion error; 0 = perfectly reverted)."""
    num = (x_r - x).flatten(1).norm(dim=1)
    den = (x_p - x).flatten(1).norm(dim=1).clamp_min(1e-12)
    return num / den
