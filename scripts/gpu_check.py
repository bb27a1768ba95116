"""The paper's architectures on CUDA: MCGS seconds per image and peak memory at CIFAR-10 and ImageNet
sizes, beside the paper's 0.02 s and 0.26 s (A100). Random weights (timing and memory do not depend on
them). Prepared for a session that is lent a GPU (scripts/gpu_check.sh runs it with the paper-dry
chapters); on CPU it runs on 2 images as a check of the script itself.

    python scripts/gpu_check.py [--device cuda] [--images 64] [--repeats 5] [--json out.json]

Each measurement is repeated (median, with min and max); on CUDA both fp32 and TF32 matmuls/convolutions are
timed; the peak memory is over the whole MCGS call (the library's memory-sized passes reset torch's peak counter
inside the call: :func:`whole_call_peak` folds each reset's peak into the total).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PAPER_SECONDS = {"cifar10": 0.02, "imagenet": 0.26}  # MSPD paper, Table IV (A100)
MODELS = {"cifar10": ("Gowal2021Improving_R18_ddpm_100m", 32), "imagenet": ("Singh2023Revisiting_ViT-S-ConvStem", 224)}


@contextlib.contextmanager
def whole_call_peak(device: torch.device):
    """Yield a dict whose "gib" is, on exit, the peak allocated CUDA memory over the whole block, even where code
    inside resets torch's peak counter (the peak before each reset is kept)."""
    result = {"gib": float("nan")}
    if device.type != "cuda":
        yield result
        return
    original = torch.cuda.reset_peak_memory_stats
    seen = [0]

    def keep_then_reset(dev=None):
        seen[0] = max(seen[0], torch.cuda.max_memory_allocated(dev if dev is not None else device))
        original(dev)

    torch.cuda.synchronize(device)
    original(device)
    torch.cuda.reset_peak_memory_stats = keep_then_reset
    try:
        yield result
    finally:
        torch.cuda.reset_peak_memory_stats = original
        torch.cuda.synchronize(device)
        result["gib"] = max(seen[0], torch.cuda.max_memory_allocated(device)) / 2**30


def measure(dataset: str, device: torch.device, n_images: int, repeats: int, tf32: bool = False) -> dict:
    from mspd_core.defenses import mcgs
    from mspd_core.zoo.registry import robustbench_architecture

    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
    name, size = MODELS[dataset]
    torch.manual_seed(0)
    model = robustbench_architecture(name).to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    x = torch.rand(n_images, 3, size, size, device=device)
    y = torch.randint(0, 1000 if dataset == "imagenet" else 10, (n_images,), device=device)
    eps = 4 / 255 if dataset == "imagenet" else 8 / 255
    mcgs(model, x[:1], y[:1], eps=eps)  # warm-up (kernels, the memory-sized pass)
    times, peaks = [], []
    for _ in range(repeats):
        with whole_call_peak(device) as peak:
            start = time.perf_counter()
            mcgs(model, x, y, eps=eps)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            times.append((time.perf_counter() - start) / n_images)
        peaks.append(peak["gib"])
    seconds = statistics.median(times)
    return {"dataset": dataset, "model": name, "images": n_images, "repeats": repeats,
            "precision": "tf32" if tf32 else "fp32", "sec_per_image": round(seconds, 4),
            "sec_per_image_min": round(min(times), 4), "sec_per_image_max": round(max(times), 4),
            "paper_sec_per_image": PAPER_SECONDS[dataset], "ratio_to_paper": round(seconds / PAPER_SECONDS[dataset], 2),
            "peak_memory_gib": round(max(peaks), 2),
            "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--images", type=int, default=None, help="images per measurement (default 64 on CUDA, 2 on CPU)")
    parser.add_argument("--repeats", type=int, default=None, help="timed repetitions (default 5 on CUDA, 2 on CPU)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    n = args.images or (64 if device.type == "cuda" else 2)
    repeats = args.repeats or (5 if device.type == "cuda" else 2)
    precisions = (False, True) if device.type == "cuda" else (False,)
    rows = [measure(d, device, n, repeats, tf32) for d in MODELS for tf32 in precisions]
    for r in rows:
        print(f"{r['dataset']:8s} {r['model']:36s} {r['precision']}: {r['sec_per_image']:.4f} s/image median of "
              f"{r['repeats']} [{r['sec_per_image_min']:.4f}, {r['sec_per_image_max']:.4f}] (paper "
              f"{r['paper_sec_per_image']} s on an A100, x{r['ratio_to_paper']}), peak {r['peak_memory_gib']} GiB over "
              f"the whole call, {r['device']}, {r['images']} images")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
