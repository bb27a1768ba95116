"""Benchmark: seconds per image of MCGS, Fast Preemption, UnAdv(100) and Bi-Level(100) on the
current device, against the floor of 2N forward+backward passes of the backbone.

    python -m mspd_core.bench [--device cpu|cuda] [--batch 16] [--bilevel-iters 3]
    python -m mspd_core.bench --pass-sizes        # seconds per image-gradient by pass size

Two backbones: a small CNN and RobustBench's PreActResNet-18 with random weights (timing
does not depend on weights). UnAdv and Bi-Level cost exactly the same per outer iteration,
so on slow devices they are timed for ``--bilevel-iters`` iterations and scaled to 100;
the table says so. Prints the ratios MCGS/floor and Bi-Level(100)/MCGS.

The floor is the bare work of two MCGS epochs: input gradients of the N x B noisy copies,
twice, computed the way the library computes any batched gradient on this device (one pass
on CUDA; passes of ``smoothing.CPU_PASS_SIZE`` images on CPU, see ``--pass-sizes``).
Bi-Level runs its own B-image passes (PGD-20 through ART), as in the book.
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import torch
from torch import nn

from .defenses import bilevel, fast_preemption, mcgs, unadv
from .smoothing import CPU_PASS_SIZE, input_gradient, pass_size

N_SAMPLES = 20


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_call(fn: Callable[[], object], device: torch.device, repeats: int = 3) -> float:
    """Median wall time of ``fn`` over ``repeats`` runs after one warm-up."""
    fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def floor_passes(model: nn.Module, x: torch.Tensor, y: torch.Tensor, n_samples: int) -> None:
    """The floor: the input gradients of the N copies of the batch, twice (one per MCGS epoch): 2N forward+backward passes' work."""
    xs = x.repeat(n_samples, 1, 1, 1)
    ys = y.repeat(n_samples)
    for _ in range(2):
        input_gradient(model, xs, ys)


def pass_size_table(model: nn.Module, device: torch.device, sizes: tuple[int, ...] = (16, 32, 64, 128, 320)) -> dict[int, float]:
    """Seconds per image of one forward+backward input gradient, by images per pass (320 = N x B in one pass)."""
    model = model.to(device).eval()
    g = torch.Generator().manual_seed(0)
    x = torch.rand(320, 3, 32, 32, generator=g).to(device)
    y = torch.randint(0, 10, (320,), generator=g).to(device)
    return {size: time_call(lambda: input_gradient(model, x, y, max_batch=size), device) / len(x) for size in sizes}


def benchmark_backbone(name: str, model: nn.Module, device: torch.device, batch: int, bilevel_iters: int) -> list[dict]:
    model = model.to(device).eval()
    g = torch.Generator().manual_seed(0)
    x = torch.rand(batch, 3, 32, 32, generator=g).to(device)
    y = torch.randint(0, 10, (batch,), generator=g).to(device)
    rows = []

    def add(method: str, seconds: float, note: str = "") -> None:
        rows.append({"backbone": name, "method": method, "sec_per_image": seconds / batch, "note": note})

    add(f"floor (2N = {2 * N_SAMPLES} fwd+bwd)", time_call(lambda: floor_passes(model, x, y, N_SAMPLES), device))
    add("MCGS (FB, N=20)", time_call(lambda: mcgs(model, x, y, n_samples=N_SAMPLES), device))
    add("Fast Preemption (1F+2B, N=20)", time_call(lambda: fast_preemption(model, x, y, n_samples=N_SAMPLES), device))
    scale = 100 / bilevel_iters
    note = "" if bilevel_iters == 100 else f"timed {bilevel_iters} iterations x {scale:g}"
    add("UnAdv (100)", scale * time_call(lambda: unadv(model, x, y, epochs=bilevel_iters), device, repeats=1), note)
    add("Bi-Level (100)", scale * time_call(lambda: bilevel(model, x, y, epochs=bilevel_iters), device, repeats=1), note)
    return rows


#: The build-time calibration workload: input gradients of the default backbone's architecture (random
#: weights, same cost) in passes of smoothing.CPU_PASS_SIZE CIFAR-10 images. Its seconds are this host's
#: "calibration unit": a build's time in units compares across hosts of one kind that differ underneath.
CALIBRATION_PASSES = 30


def calibration_seconds(passes: int = CALIBRATION_PASSES, device: str = "cpu") -> dict:
    """Seconds for ``passes`` forward+backward passes of the default backbone at the library's CPU pass size."""
    from .zoo.architectures import build
    from .zoo.recipes import DEFAULT_BACKBONE, RECIPES

    torch.manual_seed(0)
    recipe = RECIPES[DEFAULT_BACKBONE]
    dev = torch.device(device)
    model = build(recipe.arch, **recipe.arch_kwargs).to(dev).eval()
    x = torch.rand(CPU_PASS_SIZE, 3, 32, 32, device=dev)
    y = torch.randint(0, 10, (CPU_PASS_SIZE,), device=dev)
    input_gradient(model, x, y)  # warm-up
    _sync(dev)
    start = time.perf_counter()
    for _ in range(passes):
        input_gradient(model, x, y)
    _sync(dev)
    seconds = time.perf_counter() - start
    return {"seconds": round(seconds, 3), "workload": f"{passes} forward+backward passes of {DEFAULT_BACKBONE}'s "
            f"architecture ({recipe.arch} {recipe.arch_kwargs}) on {CPU_PASS_SIZE} images, {device}",
            "threads": torch.get_num_threads()}


def small_cnn() -> nn.Module:
    from .zoo.architectures import PlainCNN

    return PlainCNN(width=32)


def preact_resnet18() -> nn.Module:
    from ._compat import import_robustbench

    import_robustbench()
    from robustbench.model_zoo.architectures.resnet import PreActResNet18

    return PreActResNet18()


def main(argv: list[str] | None = None) -> None:
    import pandas as pd

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--bilevel-iters", type=int, default=None, help="outer iterations timed (default 100 on CUDA, 3 on CPU)")
    parser.add_argument("--pass-sizes", action="store_true", help="only time input gradients of 320 images by images per pass")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    backbones = (("small CNN (PlainCNN-32, 0.29M)", small_cnn), ("PreActResNet-18 (RobustBench, 11.2M)", preact_resnet18))
    if args.pass_sizes:
        table = pd.DataFrame({name: pass_size_table(factory(), device) for name, factory in backbones})
        table.index.name = "images per pass"
        print(f"device: {device} ({torch.get_num_threads()} CPU threads); ms per image-gradient (forward+backward)\n")
        print((1000 * table).to_string(float_format="{:.3f}".format))
        print(f"\nlibrary default on this device: {pass_size(320, device)} images per pass")
        return
    iters = args.bilevel_iters or (100 if device.type == "cuda" else 3)
    rows = []
    for name, factory in backbones:
        rows += benchmark_backbone(name, factory(), device, args.batch, iters)
    table = pd.DataFrame(rows)
    print(f"device: {device} ({torch.get_num_threads()} CPU threads), batch {args.batch}, torch {torch.__version__}, "
          f"MCGS/floor passes of {pass_size(N_SAMPLES * args.batch, device)} images\n")
    print(table.to_string(index=False, formatters={"sec_per_image": "{:.4f}".format}))
    print()
    for name in table.backbone.unique():
        t = table[table.backbone == name].set_index("method").sec_per_image
        floor, mc, bl = t.iloc[0], t["MCGS (FB, N=20)"], t["Bi-Level (100)"]
        print(f"{name}: MCGS/floor = {mc / floor:.2f} (target <= 1.15)   Bi-Level(100)/MCGS = {bl / mc:.0f} (target >= 40)")


if __name__ == "__main__":
    main()
