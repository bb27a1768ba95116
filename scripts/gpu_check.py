"""The paper's architectures on CUDA: MCGS seconds per image and peak memory at CIFAR-10 and ImageNet
sizes, beside the paper's 0.02 s and 0.26 s (A100). Random weights (timing and memory do not depend on
them). Prepared for a session that is lent a GPU (scripts/gpu_check.sh runs it with the paper-dry
chapters); on CPU it runs on 2 images as a check of the script itself.

    python scripts/gpu_check.py [--device cuda] [--images 16] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PAPER_SECONDS = {"cifar10": 0.02, "imagenet": 0.26}  # MSPD paper, Table IV (A100)
MODELS = {"cifar10": ("Gowal2021Improving_R18_ddpm_100m", 32), "imagenet": ("Singh2023Revisiting_ViT-S-ConvStem", 224)}


def measure(dataset: str, device: torch.device, n_images: int) -> dict:
    from mspd_core.defenses import mcgs
    from mspd_core.zoo.registry import robustbench_architecture

    name, size = MODELS[dataset]
    torch.manual_seed(0)
    model = robustbench_architecture(name).to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    x = torch.rand(n_images, 3, size, size, device=device)
    y = torch.randint(0, 1000 if dataset == "imagenet" else 10, (n_images,), device=device)
    eps = 4 / 255 if dataset == "imagenet" else 8 / 255
    mcgs(model, x[:1], y[:1], eps=eps)  # warm-up (kernels, the memory-sized pass)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    mcgs(model, x, y, eps=eps)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = (time.perf_counter() - start) / n_images
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
    return {"dataset": dataset, "model": name, "images": n_images, "sec_per_image": round(seconds, 4),
            "paper_sec_per_image": PAPER_SECONDS[dataset], "ratio_to_paper": round(seconds / PAPER_SECONDS[dataset], 2),
            "peak_memory_gib": round(peak, 2),
            "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--images", type=int, default=None, help="images per measurement (default 64 on CUDA, 2 on CPU)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    n = args.images or (64 if device.type == "cuda" else 2)
    rows = [measure(d, device, n) for d in MODELS]
    for r in rows:
        print(f"{r['dataset']:8s} {r['model']:36s} {r['sec_per_image']:.4f} s/image (paper {r['paper_sec_per_image']} s, "
              f"x{r['ratio_to_paper']}), peak {r['peak_memory_gib']} GiB, {r['device']}, {r['images']} images")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
