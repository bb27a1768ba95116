"""What every notebook does first: validate the papermill parameters and say what is run."""
from __future__ import annotations

import platform
from dataclasses import dataclass

import torch

from .cells import code_fingerprint_cached
from .defenses.mcgs import DEFAULT_EPS  # the defense budget when a chapter's ``eps`` is None (SPEC: 8/255)
from .dependencies import lock_fingerprint
from .profiles import Profile, get_profile

#: CIFAR-10's test split: the most images a sample can hold.
MAX_IMAGES = 10_000


@dataclass(frozen=True)
class Session:
    profile: Profile
    seed: int
    device: torch.device
    eps: float = DEFAULT_EPS
    target: str | None = None  # overrides the zoo's main target
    backbone: str | None = None  # overrides the zoo's backbone

    def describe(self) -> str:
        p = self.profile
        chosen = "".join(f", {k} `{v}`" for k, v in (("target", self.target), ("backbone", self.backbone)) if v)
        return (f"profile **{p.name}** ({p.description}): {p.n_images} / {p.n_large} evaluation images, zoo `{p.zoo}`, "
                f"eps {self.eps * 255:.3g}/255{chosen}, seed {self.seed}, device `{self.device}`, torch {torch.__version__}, "
                f"Python {platform.python_version()}, code `{code_fingerprint_cached()[:12]}`, lock `{lock_fingerprint()}` "
                "(the lock's versions for this Python)")


def _check_count(name: str, value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 2 <= value <= MAX_IMAGES:
        raise ValueError(f"{name} must be an integer between 2 and {MAX_IMAGES} (or None for the profile's), got {value!r}")
    return value


def check_eps(eps) -> float:
    """None -> the default 8/255; otherwise a number in (0, 1) (e.g. 8/255 = 0.0314)."""
    if eps is None:
        return DEFAULT_EPS
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < float(eps) < 1:
        raise ValueError(f"eps must be a number in (0, 1), e.g. 8/255 = 0.0314 (images are in [0, 1]), got {eps!r}")
    return float(eps)


def cuda_diagnosis() -> str:
    """Why CUDA is not usable here, in words: a CPU-only torch build, no NVIDIA driver, or a driver that does not
    match torch's CUDA build (torch's own initialisation warning, and the driver nvidia-smi reports)."""
    import os
    import shutil
    import subprocess
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        available = torch.cuda.is_available()
    if available:
        return f"CUDA is available ({torch.cuda.get_device_name(0)})"
    built = torch.version.cuda
    found = [f"torch {torch.__version__} " + (f"built for CUDA {built}" if built else "is a CPU-only build (no CUDA)")]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        found.append(f"CUDA_VISIBLE_DEVICES={visible!r} hides every GPU")
    driver = None
    if shutil.which("nvidia-smi"):
        try:
            run = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=20)
            driver = (run.stdout.strip() if run.returncode == 0 else f"failed ({run.stderr.strip() or run.returncode})")
        except (OSError, subprocess.SubprocessError) as err:
            driver = f"failed ({err})"
    found.append(f"nvidia-smi: {driver}" if driver else "no nvidia-smi on PATH (no NVIDIA driver installed?)")
    reasons = [str(w.message).strip() for w in caught if "cuda" in str(w.message).lower()]
    if built and not reasons:  # torch warns once per process: ask its initialisation for the reason instead
        try:
            torch.cuda.init()
        except Exception as err:  # noqa: BLE001 - any reason torch gives is the diagnosis
            reasons.append(str(err).strip().splitlines()[0])
    found += [f"torch says: {r}" for r in reasons]
    return "; ".join(found)


def resolve_device(device: str, needs_gpu: bool = False, profile: str = "") -> torch.device:
    """'auto' -> CUDA when present, else CPU; otherwise the named device (clear error if unusable).

    With ``needs_gpu`` (a profile such as ``paper`` whose scale takes days on a CPU), 'auto' without a usable GPU is
    refused with what was found (:func:`cuda_diagnosis`) instead of silently running on the CPU; ``device="cpu"``
    runs it on the CPU anyway."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if needs_gpu:
            raise RuntimeError(
                f"profile {profile or '(this profile)'!r} needs a GPU, and none is usable here: {cuda_diagnosis()}. "
                "Fix the CUDA set-up (a torch build that matches the driver), or pass device='cpu' (papermill "
                "-p device cpu; scripts/run_notebooks.py --device cpu) to run it on the CPU knowingly: at this scale "
                "that takes days")
        return torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available here ({cuda_diagnosis()}); "
                         "use 'cpu' or 'auto'")
    return dev


def start(profile: str, seed: int = 0, device: str = "auto", *, n_images: int | None = None, n_large: int | None = None,
          eps: float | None = None, target: str | None = None, backbone: str | None = None) -> Session:
    """Validate a chapter's papermill parameters, seed torch, style plots.

    ``n_images`` / ``n_large`` override the profile's paired subset and large sample, ``eps`` the
    defense budget, ``target`` / ``backbone`` the zoo's main target and backbone (names are checked
    against the zoo in :func:`mspd_core.experiments.setup`). Bad values raise ``ValueError``
    saying what is valid (unknown profile -> the valid profiles)."""
    overrides = {k: v for k, v in (("n_images", _check_count("n_images", n_images)),
                                   ("n_large", _check_count("n_large", n_large))) if v is not None}
    prof = get_profile(profile, **overrides)
    if prof.n_images > prof.n_large:
        prof = get_profile(profile, **{**overrides, "n_large": prof.n_images})
    smallest = min(prof.n_images, prof.n_large)
    if smallest < 2 * prof.batch_size:  # time-ratio claims need two per-batch timings or more on every sample
        prof = get_profile(profile, **{**overrides, "n_large": prof.n_large, "batch_size": max(1, smallest // 2)})
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    for name, value in (("target", target), ("backbone", backbone)):
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{name} must be a model name (or None for the zoo's), got {value!r}")
    torch.manual_seed(seed)
    import warnings

    # Book pages show results, not library chatter: torchvision's deprecation notes (LPIPS's
    # AlexNet constructor).
    warnings.filterwarnings("ignore", category=UserWarning, module=r"torchvision\..*")

    try:
        import matplotlib
        import seaborn as sns

        sns.set_theme(context="notebook", style="whitegrid")
        matplotlib.rcParams["figure.dpi"] = 90
    except ImportError:  # plotting libraries are optional for library use
        pass
    return Session(prof, int(seed), resolve_device(device, prof.needs_gpu, prof.name), check_eps(eps), target, backbone)
