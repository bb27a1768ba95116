"""The evaluation grid on Ray: each cell a task, results in the same content-addressed cache.

    run_grid(defenses, attacks, targets, data, zoo, engine="ray", address="auto")

Two waves of Ray tasks: one per defense (its released images: :func:`~mspd_core.evaluate.released_images`),
then one per (defense, attack, target) (:func:`~mspd_core.evaluate.attack_outcomes`), each
started as soon as its defense is done. Every task writes its result into the cache folder
(keys as in :mod:`mspd_core.evaluate`), so a re-run after a node failure recomputes only the
missing cells and a notebook reading the grid is unchanged. On a cluster the cache folder must
be shared (e.g. NFS) and the workers need the same ``mspd_core`` and zoo. Failed tasks are
retried by Ray (``max_retries``); cells that still fail are reported by name at the end, after
every other cell has been computed and cached.
"""
from __future__ import annotations

from pathlib import Path

import torch

from .data import ImageSet
from .evaluate import Attack, Defense, ResultCache, attack_outcomes, release_key, released_images
from .zoo.registry import Zoo


class GridCellsFailed(RuntimeError):
    """Some cells failed after Ray's retries; all other cells are computed and cached."""

    def __init__(self, failed: dict[str, str]):
        self.failed = failed
        lines = "\n".join(f"  {cell}: {why}" for cell, why in failed.items())
        super().__init__(f"{len(failed)} grid cell(s) failed after retries (every other cell is cached; "
                         f"re-running recomputes only these):\n{lines}")


def _release_task(defense: Defense, data: ImageSet, zoo: Zoo, eps: float, seed: int, device: str, batch_size: int,
                  quantize: bool, cache_folder: str) -> str:
    released_images(defense, data, zoo, eps, seed, device, batch_size, quantize, ResultCache(Path(cache_folder)))
    return release_key(defense, data, zoo, eps, seed, quantize, batch_size, device)


def _attack_task(defense: Defense, attack: Attack, target: str, data: ImageSet, zoo: Zoo, eps: float, seed: int,
                 device: str, batch_size: int, quantize: bool, cache_folder: str) -> None:
    store = ResultCache(Path(cache_folder))
    rel = released_images(defense, data, zoo, eps, seed, device, batch_size, quantize, store)  # a cache hit
    rkey = release_key(defense, data, zoo, eps, seed, quantize, batch_size, device)
    attack_outcomes(attack, target, rel["x_eval"], data.y, rkey, zoo, seed, device, batch_size, store)


def cell_name(defense: Defense, attack: Attack | None = None, target: str | None = None) -> str:
    return defense.name if attack is None else f"{defense.name} | {attack.name} | {target}"


def compute_cells_on_ray(defenses: list[Defense], attacks: list[Attack], targets: list[str], data: ImageSet, zoo: Zoo,
                         eps: float, seed: int, device: str | torch.device, batch_size: int, quantize: bool,
                         cache: ResultCache, address: str | None = None, max_retries: int = 2,
                         resources: dict | None = None, progress: bool = True) -> None:
    """Compute every release and every (defense, attack, target) cell as Ray tasks into ``cache``.

    Starts a local Ray (all cores) unless one is running or ``address`` names a cluster.
    Raises :class:`GridCellsFailed` naming the cells that failed after ``max_retries``."""
    try:
        import ray
    except ImportError as err:
        raise ImportError("engine='ray' needs Ray: pip install -e .[ray]") from err
    from tqdm.auto import tqdm

    if not ray.is_initialized():
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False, include_dashboard=False)
    device = str(torch.device(device))
    opts = {"num_cpus": 1, "num_gpus": 1 if device.startswith("cuda") else 0, **(resources or {}),
            "max_retries": max_retries, "retry_exceptions": True}
    release = ray.remote(_release_task).options(**opts)
    attack = ray.remote(_attack_task).options(**opts)
    folder = str(cache.folder.resolve())
    data_ref = ray.put(data)
    pending = {release.remote(d, data_ref, zoo, eps, seed, device, batch_size, quantize, folder): (d, None, None)
               for d in defenses}
    failed: dict[str, str] = {}
    total = len(defenses) * (1 + len(attacks) * len(targets))
    bar = tqdm(total=total, desc="grid (ray)", disable=not progress)
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        d, a, t = pending.pop(done[0])
        try:
            ray.get(done[0])
        except Exception as err:  # after Ray's retries
            failed[cell_name(d, a, t)] = f"{type(err).__name__}: {str(err).strip().splitlines()[-1][:200]}"
            if a is None:  # the release failed: its attack cells cannot run
                for aa in attacks:
                    for tt in targets:
                        failed[cell_name(d, aa, tt)] = f"its release ({d.name}) failed"
                bar.update(len(attacks) * len(targets))
        else:
            if a is None:
                for aa in attacks:
                    for tt in targets:
                        ref = attack.remote(d, aa, tt, data_ref, zoo, eps, seed, device, batch_size, quantize, folder)
                        pending[ref] = (d, aa, tt)
        bar.update()
    bar.close()
    if failed:
        raise GridCellsFailed(failed)


def main(argv: list[str] | None = None) -> int:
    """`python -m mspd_core.distributed`: time a small grid with the local engine and with a local Ray."""
    import argparse
    import tempfile
    import time

    from . import experiments as ex
    from .data import evaluation_subset
    from .evaluate import run_grid
    from .paths import absolutize_user_paths
    from .profiles import get_profile
    from .zoo.registry import zoo_for

    parser = argparse.ArgumentParser(description=main.__doc__)
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
          f"Ray ({args.cpus} CPUs, 1 thread per task, start-up included) {times['ray']:.1f} s; "
          f"speed-up {times['local'] / times['ray']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
