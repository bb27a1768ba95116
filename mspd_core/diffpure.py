"""DiffPure (Nie et al. 2022): purify an image by diffusing it to time t* and running the reverse
diffusion back to t = 0 with a pretrained score (noise-prediction) model.

    purifier = load_ddpm_purifier()            # diffusers' DDPM for CIFAR-10, from the local cache
    x_pure = diffpure(x, purifier, t_star=0.1, seed=0)

Discretised as DDPM: with T training steps, k = round(t* T); x_k = sqrt(abar_k) x0 + sqrt(1 - abar_k) e
(x0 = 2x - 1), then k ancestral steps x_{t-1} ~ p(x_{t-1} | x_t) with the model's noise
prediction. SPEC: t* = 0.1 for CIFAR-10, 0.15 for ImageNet. The score model is any
``diffusers`` ``UNet2DModel`` with its ``DDPMScheduler`` (tests use a tiny random one and an
oracle noise predictor); the pretrained model needs a download, so offline :func:`diffpure_status`
says so and nothing is purified.

**Which model.** DiffPure's own CIFAR-10 setting uses Score SDE's VP "DDPM++ (continuous)" checkpoint
and, for ImageNet, guided-diffusion's 256x256 unconditional model, each through its authors' code; no
installable package of either architecture exists in the package registries (they are research
repositories), so this module uses a **substitute**, named wherever DiffPure appears
(:data:`SUBSTITUTE_NOTE`): ``google/ddpm-cifar10-32``, Ho et al.'s discrete-time DDPM for CIFAR-10
in ``diffusers``, sampled with ancestral DDPM steps. There is no ImageNet model here.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import Tensor, nn

from .tensors import check_images

#: diffusers' pretrained DDPM for CIFAR-10 (Ho et al. 2020): a substitute for DiffPure's Score SDE VP model.
CIFAR10_DDPM = "google/ddpm-cifar10-32"
#: What every page and claim says about the diffusion model.
SUBSTITUTE_NOTE = (f"DiffPure here uses `{CIFAR10_DDPM}` (Ho et al.'s DDPM, discrete ancestral sampling), a substitute "
                   "for the paper's Score SDE VP DDPM++ (continuous) model, which no installable package provides")
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


def diffpure(x: Tensor, purifier: Purifier, t_star: float = T_STAR["cifar10"], seed: int = 0,
             batch_size: int = 64) -> Tensor:
    """DiffPure: diffuse ``x`` (in [0, 1]) to t* and reverse the diffusion; returns images in [0, 1].

    Images go through in batches of ``batch_size``; batch i draws its noise from ``seed + i``."""
    check_images(x, "x")
    if not 0 < t_star <= 1:
        raise ValueError(f"t_star must be in (0, 1], got {t_star!r}")
    k = max(1, round(t_star * purifier.scheduler.config.num_train_timesteps))
    out = []
    for i, part in enumerate(x.split(batch_size)):
        generator = torch.Generator(device=x.device).manual_seed(seed + i)
        x_k = diffuse(part * 2 - 1, purifier, k, generator)
        out.append(((reverse(x_k, purifier, k, generator) + 1) / 2).clamp(0, 1))
    return torch.cat(out)


@lru_cache(maxsize=2)
def _load(model_id: str) -> tuple[Purifier | None, str]:
    try:
        from diffusers import DDPMPipeline
    except ImportError as err:
        return None, f"DiffPure unavailable: the diffusers package is not installed ({err})"
    try:
        # low_cpu_mem_usage=False: what diffusers falls back to without `accelerate` (not a dependency), said
        # explicitly so the page does not print its "accelerate was not found" warning
        pipe = DDPMPipeline.from_pretrained(model_id, local_files_only=True, low_cpu_mem_usage=False)
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


def weights_fingerprint(model_id: str = CIFAR10_DDPM) -> str:
    """SHA-256 over the diffusion model's weights (cache keys), or ``unavailable:<id>`` when it is not here."""
    import hashlib

    purifier, _ = _load(model_id)
    if purifier is None:
        return f"unavailable:{model_id}"
    h = hashlib.sha256()
    for name, tensor in sorted(purifier.unet.state_dict().items()):
        h.update(name.encode() + b"\0" + tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def diffpure_status(model_id: str = CIFAR10_DDPM) -> str:
    """'' when DiffPure can run here, else why not (never a made-up number)."""
    return _load(model_id)[1]
