"""Choose A5's RMSprop learning rate on tuning images that no evaluation uses.

    .venv/bin/python scripts/a5_tuning.py [--n 200] [--steps 100]

A5 (NVlabs/A5 ``a5.py``) optimises z with RMSprop, lr 1e-3 by default for every one of its tasks (prototypes,
robustifier, classifier), divided by 10 after epochs 25 and 42; the paper does not give the value it used for
CIFAR-10. This script runs :func:`mspd_core.defenses.a5` on class-balanced CIFAR-10 test images disjoint from the
zoo's 1,000 evaluation images AND from the book's evaluation draw (seed 0, every profile's sample: the largest,
1,000 images, holds the smaller ones), for each learning rate on a grid and each bound method, and prints what A5
optimises: the share of releases whose margin is certified by IBP at the attack radius on ``a5-cnn-ibp``, with the
seconds per image. The book's default is the grid point with the most certified releases.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch

from mspd_core.bounds import certified_margin
from mspd_core.defenses import a5
from mspd_core.zoo import load
from mspd_core.zoo.recipes import A5_CERTIFIED_MODEL
from mspd_core.data import EVAL_SEED_OFFSET, balanced_indices, load_cifar10_uint8, to_tensor_images
from mspd_core.zoo.train import ZOO_EVAL_N, ZOO_EVAL_SEED

EPS = 8 / 255
#: The book's evaluation draw at its largest (the paper profile's 1,000 images, seed 0): holds every smaller sample.
BOOK_DRAW_N = 1000


def tuning_images(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` class-balanced test images outside the zoo's evaluation images and the book's evaluation draw."""
    images, labels, _ = load_cifar10_uint8("test")
    used = np.union1d(balanced_indices(labels, ZOO_EVAL_N, ZOO_EVAL_SEED),
                      balanced_indices(labels, BOOK_DRAW_N, 0 + EVAL_SEED_OFFSET))
    rest = np.setdiff1d(np.arange(len(labels)), used)
    idx = rest[balanced_indices(labels[rest], n, ZOO_EVAL_SEED + 7)]
    return to_tensor_images(images[idx]), torch.from_numpy(labels[idx])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200, help="validation images (of 500)")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--lrs", type=float, nargs="+", default=[1e-3, 1e-2, 1e-1, 1.0])
    parser.add_argument("--methods", nargs="+", default=["crown-ibp", "ibp"])
    args = parser.parse_args()
    model = load(A5_CERTIFIED_MODEL)
    x, y = tuning_images(args.n)
    with torch.no_grad():
        base = certified_margin(model, x, y, EPS)
    rows = [{"method": "originals", "lr": float("nan"), "certified (%)": 100 * float((base > 0).float().mean()),
             "mean margin": float(base.mean()), "s / image": 0.0}]
    for method in args.methods:
        for lr in args.lrs:
            start = time.perf_counter()
            x_p = a5(model, x, y, EPS, steps=args.steps, lr=lr, method=method)
            seconds = time.perf_counter() - start
            with torch.no_grad():
                margin = certified_margin(model, x_p, y, EPS)
            rows.append({"method": method, "lr": lr, "certified (%)": 100 * float((margin > 0).float().mean()),
                         "mean margin": float(margin.mean()), "s / image": seconds / len(y)})
            print(rows[-1], flush=True)
    print(pd.DataFrame(rows).round(4).to_string(index=False))


if __name__ == "__main__":
    main()
