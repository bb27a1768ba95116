"""What every notebook does first: validate the papermill parameters and say what is run."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .profiles import Profile, get_profile


@dataclass(frozen=True)
class Session:
    profile: Profile
    seed: int
    device: torch.device

    def describe(self) -> str:
        p = self.profile
        return (f"profile **{p.name}** ({p.description}): {p.n_images} evaluation images, zoo `{p.zoo}`, "
                f"seed {self.seed}, device `{self.device}`, torch {torch.__version__}")


def resolve_device(device: str) -> torch.device:
    """'auto' -> CUDA when present, else CPU; otherwise the named device (clear error if unusable)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available here; use 'cpu' or 'auto'")
    return dev


def start(profile: str, seed: int = 0, device: str = "auto") -> Session:
    """Validate parameters (unknown profile -> ValueError naming the valid ones), seed torch, style plots."""
    prof = get_profile(profile)
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
    return Session(prof, int(seed), resolve_device(device))
