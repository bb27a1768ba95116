"""DiffPure (Nie et al. 2022): purify an image by diffusing it to time t* and running the reverse
diffusion back to t = 0 with a pretrained score (noise-prediction) model.

    purifier = load_ddpm_purifier()            # diffusers' DDPM for CIFAR-10, from the local cache
    x_pure = diffpure(x, purifier, t_star=0.1, seed=0)

Discretised as DDPM: with T training steps, k = round(t* T); x_k = sqrt(abar_k) x0 + sqrt(1 - abar_k) e
(x0 = 2x - 1), then k ancestral steps x_{t-1} ~ p(x_{t-1} | x_t) with the model's noise
prediction. SPEC: t* = 0.1 for CIFAR-10, 0.15 for ImageNet. The score model is any
``diffusers`` ``UNet2DModel`` with its ``DDPMScheduler`` (tests use a tiny random one); the
pretrained CIFAR-10 model needs a download, so offline :func:`diffpure_status` says so and
nothing is purified.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import Tensor, nn

from .tensors import check_images

#: diffusers' pretrained DDPM for CIFAR-10 (Ho et al. 2020), the score model DiffPure's CIFAR-10 setting uses.
CIFAR10_DDPM = "google/ddpm-cifar10-32"
T_STAR = {"cifar10": 0.1, "imagenet": 0.15}


@dataclass(frozen=True)
class Purifier:
    """A noise-prediction model ``unet(x_t, t).sample`` and its DDPM noise schedule."""

    unet: nn.Module
    scheduler: object  # diffusers.DDPMScheduler


def diffuse(x0: Tensor, purifier: Purifier, k: int, generator: torch.Generator) -> Tensor:
    """Forward diffusion of x0 (in [-1, 1]) to step k: sqrt(abar_k) x0 + sqrt(1 - abar_k) noise."""
    noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    t = torch.full((x0.shape[0],), k - 1, dtype=torch.long, device=x0.device)
    return purifier.scheduler.add_noise(x0, noise, t)


@torch.no_grad()
def reverse(x_t: Tensor, purifier: Purifier, k: int, generator: torch.Generator) -> Tensor:
    """k ancestral DDPM steps from step k back to 0 with the model's noise prediction."""
    scheduler = purifier.scheduler
    scheduler.set_timesteps(scheduler.config.num_train_timesteps)
    for t in scheduler.timesteps[scheduler.timesteps < k]:
        eps = purifier.unet(x_t, t).sample
        x_t = scheduler.step(eps, t, x_t, generator=generator).prev_sample
    return x_t


def diffpure(x: Tensor, purifier: Purifier, t_star: float = T_STAR["cifar10"], seed: int = 0) -> Tensor:
    """DiffPure: diffuse ``x`` (in [0, 1]) to t* and reverse the diffusion; returns images in [0, 1]."""
    check_images(x, "x")
    if not 0 < t_star <= 1:
        raise ValueError(f"t_star must be in (0, 1], got {t_star!r}")
    k = max(1, round(t_star * purifier.scheduler.config.num_train_timesteps))
    generator = torch.Generator(device=x.device).manual_seed(seed)
    x_k = diffuse(x * 2 - 1, purifier, k, generator)
    return ((reverse(x_k, purifier, k, generator) + 1) / 2).clamp(0, 1)


@lru_cache(maxsize=2)
def _load(model_id: str) -> tuple[Purifier | None, str]:
    try:
        from diffusers import DDPMPipeline
    except ImportError as err:
        return None, f"DiffPure unavailable: the diffusers package is not installed ({err})"
    try:
        pipe = DDPMPipeline.from_pretrained(model_id, local_files_only=True)
    except Exception as err:  # not in the local Hugging Face cache and no network
        return None, (f"DiffPure unavailable: the pretrained diffusion model {model_id!r} is not in the local cache "
                      f"(download it once online with diffusers.DDPMPipeline.from_pretrained({model_id!r})); "
                      f"{type(err).__name__}")
    return Purifier(pipe.unet.eval(), pipe.scheduler), ""


def load_ddpm_purifier(model_id: str = CIFAR10_DDPM) -> Purifier:
    """The pretrained DDPM from the local Hugging Face cache; raises with the reason when it is not there."""
    from .zoo.registry import ModelUnavailableError

    purifier, why = _load(model_id)
    if purifier is None:
        raise ModelUnavailableError(why)
    return purifier


def diffpure_status(model_id: str = CIFAR10_DDPM) -> str:
    """'' when DiffPure can run here, else why not (never a made-up number)."""
    return _load(model_id)[1]
