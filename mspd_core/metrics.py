"""Metrics: accuracy with 95% Wilson intervals, exact McNemar tests, distances, SSIM, LPIPS,
and the gradient diagnostics of the lemma notebooks (MSPD paper, Lemmas 1-3, Table XI)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .smoothing import input_gradient  # grad_x CE(f(x), y) per image (Lemma 1 and 3)


@dataclass(frozen=True)
class Proportion:
    k: int
    n: int
    low: float
    high: float

    @property
    def value(self) -> float:
        return self.k / self.n if self.n else float("nan")

    def __str__(self) -> str:
        return f"{100 * self.value:.1f}% [{100 * self.low:.1f}, {100 * self.high:.1f}]"


def wilson(k: int, n: int, confidence: float = 0.95) -> Proportion:
    """k/n with its Wilson score interval (scipy.stats.binomtest)."""
    from scipy.stats import binomtest

    if n == 0:
        return Proportion(0, 0, float("nan"), float("nan"))
    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return Proportion(int(k), int(n), float(ci.low), float(ci.high))


def accuracy(correct: np.ndarray | Tensor) -> Proportion:
    """Accuracy of a boolean per-image vector, with its 95% Wilson interval."""
    c = np.asarray(correct, dtype=bool)
    return wilson(int(c.sum()), int(c.size))


def mcnemar_exact(correct_a: np.ndarray, correct_b: np.ndarray) -> float:
    """Two-sided exact McNemar p-value for paired per-image outcomes of the same images."""
    from scipy.stats import binomtest

    a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    if a.shape != b.shape:
        raise ValueError("paired outcomes must cover the same images")
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    if only_a + only_b == 0:
        return 1.0
    return float(binomtest(only_a, only_a + only_b, 0.5).pvalue)


def linf_distance(a: Tensor, b: Tensor) -> Tensor:
    """Per-image L-inf distance."""
    return (a - b).flatten(1).abs().amax(1)


def l2_distance(a: Tensor, b: Tensor) -> Tensor:
    """Per-image L2 distance."""
    return (a - b).flatten(1).norm(dim=1)


def ssim(a: Tensor, b: Tensor) -> np.ndarray:
    """Per-image SSIM (scikit-image, data_range 1, channel axis last)."""
    from skimage.metrics import structural_similarity

    a_np = a.detach().cpu().permute(0, 2, 3, 1).numpy().astype(np.float64)
    b_np = b.detach().cpu().permute(0, 2, 3, 1).numpy().astype(np.float64)
    return np.array([structural_similarity(p, q, data_range=1.0, channel_axis=-1) for p, q in zip(a_np, b_np)])


@lru_cache(maxsize=1)
def _lpips_model() -> tuple[nn.Module | None, str]:
    try:
        import contextlib
        import io

        import lpips

        with contextlib.redirect_stdout(io.StringIO()):
            model = lpips.LPIPS(net="alex", verbose=False).eval()
        return model, ""
    except Exception as err:  # AlexNet weights need a download
        return None, f"LPIPS unavailable: its AlexNet backbone weights could not be loaded ({type(err).__name__}: {str(err)[:120]})"


def lpips_status() -> str:
    """'' when LPIPS works here, else the reason it is unavailable."""
    return _lpips_model()[1]


def lpips_distance(a: Tensor, b: Tensor) -> np.ndarray | None:
    """Per-image LPIPS (AlexNet); ``None`` when unavailable (see :func:`lpips_status`), never a made-up number."""
    model, _ = _lpips_model()
    if model is None:
        return None
    model = model.to(a.device)
    with torch.no_grad():
        return model(a * 2 - 1, b * 2 - 1).flatten().cpu().numpy()


def gradient_cosine(backbone: nn.Module, target: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """Per-image cosine similarity of backbone and target input gradients (Lemma 1; Table XI "grad sim")."""
    gb, gt = input_gradient(backbone, x, y).flatten(1), input_gradient(target, x, y).flatten(1)
    return F.cosine_similarity(gb, gt, dim=1, eps=1e-20)


@torch.no_grad()
def ce_loss(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """Per-image cross-entropy loss."""
    return F.cross_entropy(model(x), y, reduction="none")


def effective_rank(vectors: Tensor) -> float:
    """exp(entropy of the normalised singular values) of the rows of ``vectors`` (Lemma 3's spread of directions)."""
    s = torch.linalg.svdvals(vectors.flatten(1).double())
    p = s / s.sum().clamp_min(1e-30)
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum()))


def subspace_energy(vectors: Tensor, bases: Tensor) -> Tensor:
    """Per image, the fraction of ``vectors[i]``'s squared norm inside the span of the k rows
    of ``bases[i]`` (Lemma 3's shared subspace). vectors: (n, ...); bases: (n, k, ...)."""
    v = vectors.flatten(1).double()
    b = bases.flatten(2).double().transpose(1, 2)  # (n, d, k)
    q, _ = torch.linalg.qr(b)  # orthonormal basis of each image's span
    inside = torch.einsum("nd,ndk->nk", v, q).pow(2).sum(1)
    return (inside / v.pow(2).sum(1).clamp_min(1e-30)).float()


def effective_ranks(directions: Tensor) -> Tensor:
    """Per image, the effective rank of its N per-copy update directions (Lemma 3); directions: (N, n, ...)."""
    s = torch.linalg.svdvals(directions.flatten(2).transpose(0, 1).double())  # (n, min(N, d)), batched
    p = s / s.sum(dim=1, keepdim=True).clamp_min(1e-30)
    entropy = -(p * p.clamp_min(1e-300).log()).sum(dim=1)
    return torch.exp(entropy).float()


def mean_effective_rank(directions: Tensor) -> float:
    """Mean over images of the effective rank of the N per-copy update directions; directions: (N, n, ...)."""
    return float(effective_ranks(directions).mean())
