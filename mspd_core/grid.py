"""The evaluation grid: defense x attack x target over the shared evaluation subset, as a tidy table.

    rows = run_grid(defenses, attacks, targets, data, zoo)                 # local engine
    rows = run_grid(..., engine="ray", address="auto")                     # the cells as Ray tasks

Protected images are computed once per defense configuration and reused across attacks and
targets; every cell comes from :mod:`mspd_core.cells` and its cache. An engine fills the cache: the
local one computes each missing cell in this process while the table is assembled; the Ray engine
(:mod:`mspd_core.distributed`) computes every cell on the cluster first, after which the driver only
reads: a cell the driver cannot find is an error naming it, never a silent recomputation.
``shard=(i, n)`` computes only every n-th defense so that several machines can fill one cache folder.
"""
from __future__ import annotations

import json
import os
import time

import pandas as pd
import torch
from tqdm.auto import tqdm

from .cells import (NO_DEFENSE, Attack, Defense, ResultCache, attack_key, attack_outcomes, cell_name, release_key,
                    released_images, timing_host, timing_provenance)
from .data import ImageSet
from .metrics import accuracy, lpips_status, mcnemar_exact
from .zoo.registry import Zoo

ENGINES = ("local", "ray")


class CellsNotVisible(RuntimeError):
    """Cells an engine reported as computed are not in the driver's cache folder."""

    def __init__(self, missing: list[str], folder) -> None:
        self.missing = missing
        shown = "\n".join(f"  {cell}" for cell in missing[:20]) + (f"\n  ... and {len(missing) - 20} more" if len(missing) > 20 else "")
        super().__init__(f"{len(missing)} cell(s) computed by the Ray workers are not in the driver's cache folder {folder} "
                         f"(do the workers write to the same, shared folder?); the driver does not recompute them:\n{shown}")


#: Environment variable naming a JSON-lines file: every cell run_grid assembles appends its wall-clock seconds
#: (a cache hit costs about nothing), with the chapter named by ``MSPD_NOTEBOOK``; scripts/run_notebooks.py sets both.
CELL_LOG_ENV = "MSPD_CELL_LOG"


def log_cell(name: str, n: int, seconds: float) -> None:
    """Append one cell's wall-clock seconds to the file ``MSPD_CELL_LOG`` names (nothing when unset)."""
    path = os.environ.get(CELL_LOG_ENV)
    if not path:
        return
    line = json.dumps({"notebook": os.environ.get("MSPD_NOTEBOOK", ""), "cell": name, "n": n, "seconds": round(seconds, 2)})
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def missing_cells(defenses: list[Defense], attacks: list[Attack], targets: list[str], data: ImageSet, zoo: Zoo,
                  eps: float, seed: int, device: str | torch.device, batch_size: int, quantize: bool,
                  cache: ResultCache) -> list[str]:
    """The cells (releases and attack outcomes) that ``cache`` does not hold, by name."""
    missing = []
    for d in defenses:
        rkey = release_key(d, data, zoo, eps, seed, quantize, batch_size, device)
        if not cache.has(rkey):
            missing.append(cell_name(d))
        missing += [cell_name(d, a, t) for a in attacks for t in targets
                    if not cache.has(attack_key(a, t, rkey, zoo, seed, batch_size, device))]
    return missing


def run_grid(defenses: list[Defense], attacks: list[Attack], targets: list[str], data: ImageSet, zoo: Zoo,
             eps: float = 8 / 255, seed: int = 0, device: str | torch.device = "cpu", batch_size: int = 100,
             quantize: bool = True, cache: bool | ResultCache = True, shard: tuple[int, int] | None = None,
             baseline: str | None = NO_DEFENSE.name, reference: str | None = None, progress: bool = True,
             engine: str = "local", address: str | None = None, max_retries: int = 2,
             resources: dict | None = None, runtime_env: dict | None = None, preflight: bool = True) -> pd.DataFrame:
    """Evaluate every (defense, attack, target) cell; one tidy row per cell.

    Columns: defense, attack, target, n, correct, acc, ci_low, ci_high (95% Wilson, percent),
    p_vs_baseline / p_vs_reference (exact McNemar on the same images), l2, linf, ssim, lpips,
    sec_per_image (defense time), attack_seconds, ``per_image`` (boolean outcomes), and for an attack scored by the
    Bi-Level paper's Definition 3 ``by_budget`` (each final budget's outcomes) and ``chosen_budget`` (the lowest).

    ``engine="ray"`` computes the cells as Ray tasks (:mod:`mspd_core.distributed`; ``address``
    names a running cluster, ``resources`` the per-task ``num_cpus``/``num_gpus``, ``max_retries``
    Ray's retries of dead workers and transient errors, ``runtime_env`` what the tasks get beyond the
    driver's ``MSPD_*`` variables, ``preflight`` whether workers must first prove they share the cache)
    into the same content-addressed cache; the driver then reads every cell (a missing one raises
    :class:`CellsNotVisible`) and assembles the same table.
    """
    store = cache if isinstance(cache, ResultCache) else ResultCache(enabled=bool(cache))
    names = [d.name for d in defenses]
    if len(set(names)) != len(names):
        raise ValueError("defense names must be unique")
    chosen = defenses if shard is None else defenses[shard[0]::shard[1]]
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; valid: {', '.join(ENGINES)}")
    if engine == "ray":
        if not store.enabled:
            raise ValueError("engine='ray' passes results through the cache: it cannot be disabled")
        from .distributed import compute_cells_on_ray

        compute_cells_on_ray(chosen, attacks, targets, data, zoo, eps=eps, seed=seed, device=device,
                             batch_size=batch_size, quantize=quantize, cache=store, address=address,
                             max_retries=max_retries, resources=resources, progress=progress,
                             runtime_env=runtime_env, check=preflight)
        missing = missing_cells(chosen, attacks, targets, data, zoo, eps, seed, device, batch_size, quantize, store)
        if missing:
            raise CellsNotVisible(missing, store.folder)
        progress = False  # every cell is now a cache hit
    rows = []
    cells = [(d, a, t) for d in chosen for a in attacks for t in targets]
    bar = tqdm(total=len(cells), desc="grid", disable=not progress)
    for d in chosen:
        start = time.perf_counter()
        rel = released_images(d, data, zoo, eps, seed, device, batch_size, quantize, store)
        log_cell(cell_name(d), len(data), time.perf_counter() - start)
        rkey = release_key(d, data, zoo, eps, seed, quantize, batch_size, device)
        for a in attacks:
            for t in targets:
                bar.set_postfix_str(f"{d.name} | {a.name} | {t}")
                start = time.perf_counter()
                out = attack_outcomes(a, t, rel["x_eval"], data.y, rkey, zoo, seed, device, batch_size, store,
                                      x_orig=data.x)
                log_cell(cell_name(d, a, t), len(data), time.perf_counter() - start)
                c = out["correct"].numpy().astype(bool)
                acc = accuracy(c)
                rows.append({
                    "defense": d.name, "attack": a.name, "target": t, "n": acc.n, "correct": acc.k,
                    "acc": 100 * acc.value, "ci_low": 100 * acc.low, "ci_high": 100 * acc.high,
                    "l2": rel["l2"], "linf": rel["linf"], "ssim": rel["ssim"], "lpips": rel["lpips"],
                    "sec_per_image": rel["seconds_per_image"], "attack_seconds": out["seconds"], "per_image": c,
                    "batch_seconds": rel.get("batch_seconds", torch.tensor([])).numpy(),
                    "timed": timing_provenance(rel.get("timed")), "timed_on": timing_host(rel.get("timed")),
                    "release": rkey,
                    "by_budget": ({k: v.numpy().astype(bool) for k, v in out["by_budget"].items()}
                                  if "by_budget" in out else None),
                    "chosen_budget": out.get("chosen"),
                })
                bar.update()
    bar.close()
    table = pd.DataFrame(rows)
    for col, ref in (("p_vs_baseline", baseline), ("p_vs_reference", reference)):
        table[col] = _paired_p_values(table, ref)
    table.attrs["lpips"] = lpips_status() or "available"
    table.attrs["n_images"] = len(data)
    return table


def _paired_p_values(table: pd.DataFrame, ref: str | None) -> list[float]:
    if ref is None or table.empty or ref not in set(table["defense"]):
        return [float("nan")] * len(table)
    lookup = {(r.attack, r.target): r.per_image for r in table.itertuples() if r.defense == ref}
    return [float("nan") if r.defense == ref or (r.attack, r.target) not in lookup
            else mcnemar_exact(r.per_image, lookup[(r.attack, r.target)]) for r in table.itertuples()]


def format_table(table: pd.DataFrame) -> pd.DataFrame:
    """Human-readable view: 'acc [ci]' strings, p-values, quality metrics; drops per-image vectors."""
    view = table.drop(columns=["per_image", "batch_seconds", "by_budget"], errors="ignore").copy()
    view["accuracy (95% CI)"] = [f"{a:.1f} [{lo:.1f}, {hi:.1f}]" for a, lo, hi in zip(view.acc, view.ci_low, view.ci_high)]
    return view

