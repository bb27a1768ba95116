"""Choose A5's RMSprop learning rate on validation images (never the book's evaluation images).

    .venv/bin/python scripts/a5_tuning.py [--n 200] [--steps 100]

A5 (NVlabs/A5 ``a5.py``) optimises z with RMSprop, lr 1e-3 by default, divided by 10 after epochs 25 and 42, for
its trained robustifier and prototypes on MNIST-scale inputs; the CIFAR-10 learning rate of its per-image
("offline") variant is not in the released code. This script runs :func:`mspd_core.defenses.a5` on the zoo's 500
validation images (disjoint from every evaluation sample) for each learning rate on a grid and each bound method,
and prints what A5 optimises: the share of releases whose margin is certified by IBP at the attack radius on
``a5-cnn-ibp``, with the seconds per image. The book's default is the grid point with the most certified releases.
"""
from __future__ import annotations

import argparse
import time

import pandas as pd
import torch

from mspd_core.bounds import certified_margin
from mspd_core.defenses import a5
from mspd_core.zoo import load
from mspd_core.zoo.recipes import A5_CERTIFIED_MODEL
from mspd_core.zoo.train import zoo_validation_set

EPS = 8 / 255


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200, help="validation images (of 500)")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--lrs", type=float, nargs="+", default=[1e-3, 1e-2, 1e-1, 1.0])
    parser.add_argument("--methods", nargs="+", default=["crown-ibp", "ibp"])
    args = parser.parse_args()
    model = load(A5_CERTIFIED_MODEL)
    x, y = zoo_validation_set()
    x, y = x[: args.n], y[: args.n]
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
