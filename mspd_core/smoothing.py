"""SPEC's Smooth: the one primitive every cascade defense shares.

Smooth(f, c, y, e, a, K, N, descend): draw N copies z_n = clip01(c + U(-e, e)); K times
z_n <- Proj(z_n -/+ a * sign(grad_z CE(f(z_n), y)), c, e); return mean_n z_n.
(MSPD paper, Sec. "Minimal Cascade Gradient Smoothing"; Fast Preemption Alg. 1 lines 4-8.)
All N copies of the batch go through ``f`` as ONE batch (on CPU cut into cache-sized passes
of :data:`CPU_PASS_SIZE` images, the same arithmetic per image; see :func:`pass_size`).
Averaged points, not gradients.
"""
from __future__ import annotations

import weakref

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .tensors import check_count, check_images, check_labels, check_positive, generator_for, project, uniform_noise


#: Images per forward/backward pass on CPU. The N x B copies are independent (eval-mode model,
#: summed per-image losses), so cutting them into passes changes no image's gradient; on a
#: 2-core CPU passes of this size keep activations in cache and run faster per image than
#: one N x B batch (``python -m mspd_core.bench --pass-sizes``). On CUDA one batch is fastest.
CPU_PASS_SIZE = 64


#: Pass sizes learned after an out-of-memory error, per model and device (the next call starts there).
_LEARNED_PASS: "weakref.WeakKeyDictionary[nn.Module, dict[str, int]]" = weakref.WeakKeyDictionary()
#: Share of the free CUDA memory a pass may plan to use (activations and gradients of its images).
CUDA_MEMORY_SHARE = 0.7


def _learned_pass(model) -> dict[str, int]:
    """This model's learned pass sizes by device (a throw-away dict for a callable that takes no weak reference)."""
    try:
        return _LEARNED_PASS.setdefault(model, {})
    except TypeError:
        return {}


def is_out_of_memory(err: BaseException) -> bool:
    """A CUDA (or other device) out-of-memory error, whatever torch version raised it."""
    return isinstance(err, torch.cuda.OutOfMemoryError) or "out of memory" in str(err).lower()


def _cuda_pass_size(model: nn.Module, z: Tensor, y: Tensor) -> int:
    """Images per pass that fit in :data:`CUDA_MEMORY_SHARE` of the free device memory, from the peak memory
    of a one-image forward+backward pass (all images when they fit)."""
    torch.cuda.synchronize(z.device)
    base = torch.cuda.memory_allocated(z.device)
    torch.cuda.reset_peak_memory_stats(z.device)
    _gradient_in_passes(model, z[:1], y[:1], 1)
    per_image = max(1, torch.cuda.max_memory_allocated(z.device) - base)
    free, _ = torch.cuda.mem_get_info(z.device)
    return max(1, min(len(z), int(CUDA_MEMORY_SHARE * free / per_image)))


def pass_size(n_images: int, device: torch.device, max_batch: int | None = None) -> int:
    """Images per forward/backward pass: ``max_batch`` if given, else all on CUDA (then bounded by the free
    memory, :func:`input_gradient`), :data:`CPU_PASS_SIZE` on CPU."""
    if max_batch is not None:
        return check_count(max_batch, "max_batch")
    return n_images if device.type != "cpu" else min(n_images, CPU_PASS_SIZE)


def _gradient_in_passes(model: nn.Module, z: Tensor, y: Tensor, size: int) -> Tensor:
    grads = []
    with torch.enable_grad():  # works inside a caller's no_grad block too
        for z_part, y_part in zip(z.detach().split(size), y.split(size)):
            z_part = z_part.requires_grad_(True)
            (grad,) = torch.autograd.grad(F.cross_entropy(model(z_part), y_part, reduction="sum"), z_part)
            grads.append(grad)
    return grads[0] if len(grads) == 1 else torch.cat(grads)


def input_gradient(model: nn.Module, z: Tensor, y: Tensor, max_batch: int | None = None) -> Tensor:
    """grad_z of the summed CE(f(z_i), y_i), in passes of :func:`pass_size` images.

    The images are independent (eval-mode model, summed per-image losses), so the pass size changes
    no gradient. On CUDA the pass is sized from the free memory; when a pass still runs out of memory
    it is halved and retried (down to one image), and the size that worked is kept for this model and
    device. ``max_batch`` fixes the size (no retry)."""
    size = pass_size(len(z), z.device, max_batch)
    if max_batch is None:
        learned = _learned_pass(model).get(str(z.device))
        if learned is not None:
            size = min(size, learned)
        elif z.device.type == "cuda" and len(z) > 1:
            size = min(size, _cuda_pass_size(model, z, y))
    while True:
        try:
            return _gradient_in_passes(model, z, y, size)
        except RuntimeError as err:
            if max_batch is not None or size == 1 or not is_out_of_memory(err):
                raise
            size = max(1, size // 2)
            _learned_pass(model)[str(z.device)] = size
            if z.device.type == "cuda":
                torch.cuda.empty_cache()


def draw_smoothing_noise(x: Tensor, eps: float, n_samples: int, generator: torch.Generator) -> Tensor:
    """U(-eps, eps) noise for N copies of the batch ``x``: shape (N, *x.shape)."""
    return uniform_noise(x.new_empty((n_samples, *x.shape)), eps, generator)


def signed_gradient_step(model: nn.Module, z: Tensor, y: Tensor, step: float, descend: bool, max_batch: int | None = None) -> Tensor:
    """z -/+ step * sign(grad_z CE(f(z), y)) (minus when ``descend``). One forward+backward over the whole batch."""
    direction = -1.0 if descend else 1.0
    return z.detach() + direction * step * input_gradient(model, z, y, max_batch).sign()


def smoothing_points(
    model: nn.Module,
    center: Tensor,
    y: Tensor,
    eps: float,
    step: float,
    steps: int = 1,
    n_samples: int = 20,
    descend: bool = True,
    noise: bool | Tensor = True,
    ball_center: Tensor | None = None,
    seed: int | torch.Generator | None = 0,
    max_batch: int | None = None,
) -> Tensor:
    """The N walked points z_n of SPEC's Smooth, shape (N, *center.shape); :func:`smooth` is their mean.

    Args:
        model: backbone f (eval mode; gradients come from it).
        center: c, the input of this call (noise is drawn around it).
        y: labels for the CE loss.
        eps: e, radius of the noise and of the projection ball.
        step: a, the signed-gradient step size.
        steps: K inner steps (K=1: single-step smoothing; K=20: PGD-20 walks, Table XIII).
        n_samples: N copies.
        descend: minus the gradient (forward epoch) or plus (backward epoch).
        noise: True draws U(-e, e) from ``seed``; False starts every copy at c
            (N=1 without noise = a plain FGSM step, "no smoothing"); a tensor of shape
            (N, *center.shape) is used as the noise itself.
        ball_center: centre of the projection ball; defaults to ``center`` (MCGS). Fast
            Preemption projects around the original image instead.
        seed: int or torch.Generator for the noise.
        max_batch: images per forward/backward pass (default :func:`pass_size`: all on
            CUDA, :data:`CPU_PASS_SIZE` on CPU); the result does not depend on it.
    """
    check_images(center, "center")
    y = check_labels(y, center)
    eps = check_positive(eps, "eps")
    step = check_positive(step, "step")
    check_count(steps, "steps")
    check_count(n_samples, "n_samples")
    ball = center if ball_center is None else ball_center
    copies = center.unsqueeze(0).expand(n_samples, *center.shape)
    if isinstance(noise, Tensor):
        if noise.shape != copies.shape:
            raise ValueError(f"noise must have shape {tuple(copies.shape)}, got {tuple(noise.shape)}")
        z = (copies + noise).clamp(0.0, 1.0)
    elif noise:
        z = (copies + draw_smoothing_noise(center, eps, n_samples, generator_for(seed, center.device))).clamp(0.0, 1.0)
    else:
        z = copies.clone()
    flat = z.reshape(-1, *center.shape[1:])  # all N copies of the batch: ONE forward/backward per step
    ball_flat = ball.unsqueeze(0).expand(n_samples, *ball.shape).reshape(-1, *center.shape[1:])
    y_flat = y.repeat(n_samples)
    for _ in range(steps):
        flat = project(signed_gradient_step(model, flat, y_flat, step, descend, max_batch), ball_flat, eps)
    return flat.reshape(n_samples, *center.shape)


def smooth(model: nn.Module, center: Tensor, y: Tensor, eps: float, step: float, **options) -> Tensor:
    """SPEC Smooth(f, c, y, e, a, K, N, descend): the mean of the N walked points.

    ``options`` are those of :func:`smoothing_points` (steps K, n_samples N, descend, noise,
    ball_center, seed, max_batch), with the same defaults.
    """
    return smoothing_points(model, center, y, eps, step, **options).mean(dim=0)
