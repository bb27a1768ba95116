"""Benchmark: the smoke grid with the local engine and with a local Ray (the numbers README quotes).

    python -m mspd_core.ray_bench --n 20 --cpus 2
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from . import experiments as ex
from .cells import Attack, ResultCache
from .data import evaluation_subset
from .grid import run_grid
from .paths import absolutize_user_paths
from .profiles import get_profile
from .zoo.registry import zoo_for


def compare_engines(argv: list[str] | None = None) -> int:
    """`python -m mspd_core.ray_bench`: time a small grid with the local engine and with a local Ray."""

    parser = argparse.ArgumentParser(description=compare_engines.__doc__)
    parser.add_argument("--n", type=int, default=20, help="images")
    parser.add_argument("--cpus", type=int, default=2, help="Ray CPUs (the local engine uses as many torch threads)")
    args = parser.parse_args(argv)
    absolutize_user_paths()
    profile = get_profile("smoke")
    data, zoo = evaluation_subset(args.n), zoo_for("embedded", 2)
    defenses = ex.main_defenses(profile)
    attacks = [Attack("clean"), ex.pgd(profile)]
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        torch.set_num_threads(args.cpus)
        start = time.perf_counter()
        run_grid(defenses, attacks, list(zoo.targets), data, zoo, batch_size=profile.batch_size, progress=False,
                 cache=ResultCache(Path(tmp) / "local"))
        times["local"] = time.perf_counter() - start
        import ray

        ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
        start = time.perf_counter()
        run_grid(defenses, attacks, list(zoo.targets), data, zoo, batch_size=profile.batch_size, progress=False,
                 cache=ResultCache(Path(tmp) / "ray"), engine="ray")
        times["ray"] = time.perf_counter() - start
        ray.shutdown()
    cells = len(defenses) * (1 + len(attacks) * len(zoo.targets))
    print(f"smoke grid: {len(defenses)} defenses x {len(attacks)} attacks x {len(zoo.targets)} targets, {args.n} images "
          f"({cells} tasks); local engine ({args.cpus} torch threads) {times['local']:.1f} s; "
          f"Ray ({args.cpus} CPUs, 1 thread per task, start-up and pre-flight included) {times['ray']:.1f} s; "
          f"speed-up {times['local'] / times['ray']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(compare_engines())
