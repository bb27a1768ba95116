"""The evaluation engine: defense x attack x target over the shared evaluation subset, cached.

    rows = run_grid(defenses, attacks, targets, data, zoo)

Protected images are computed once per defense configuration and reused across attacks and
targets. Every computed piece (released images, per-image attack outcomes) is cached on
disk under a key derived from its full configuration, the models' SHA-256, the data indices,
a hash of the ``mspd_core`` sources that compute results, the torch version, the device type
and the default dtype: a rerun with the same parameters and code costs nothing; a changed
parameter, an edited algorithm or another device recomputes. Cached defense timings carry
where and when they were measured (:func:`timing_provenance`), so a page can say so. ``shard=(i, n)`` computes only every n-th defense so that several
machines can fill one cache folder.
"""
from __future__ import annotations

import datetime
import functools
import hashlib
import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from . import __version__, attacks as attack_lib
from .data import ImageSet
from .defenses import bilevel, defense_labels, fast_preemption, mcgs, predict, unadv, unadv_bilevel_cascade
from .metrics import accuracy, l2_distance, linf_distance, lpips_distance, lpips_status, mcnemar_exact, ssim
from .paths import cache_dir
from .reversion import jpeg, preemptive_reversion
from .tensors import check_images, from_uint8, to_uint8_release
from .zoo.registry import Zoo, load_cached, weights_fingerprint


def no_defense(model: nn.Module, x: Tensor, y: Tensor, eps: float = 8 / 255, seed: int = 0) -> Tensor:
    """The "No Pre." row: release the original image."""
    return x


#: Defense methods by name; each is ``method(backbone, x, y, eps=..., seed=..., **params) -> x_p``.
DEFENSE_METHODS: dict[str, Callable[..., Tensor]] = {
    "none": no_defense,
    "mcgs": mcgs,
    "fast_preemption": fast_preemption,
    "unadv": unadv,
    "bilevel": bilevel,
    "cascade": unadv_bilevel_cascade,
}

#: Attack methods by name; each is ``attack(target, x, y, eps=..., seed=..., **params) -> x_adv``.
ATTACK_METHODS: dict[str, Callable[..., Tensor]] = {
    "autoattack": attack_lib.autoattack,
    "pgd": attack_lib.pgd_linf,
    "pgd_l2": attack_lib.pgd_l2,
    "cw": attack_lib.cw_linf,
    "square": attack_lib.square,
    "eot_pgd": attack_lib.eot_pgd,
    "transfer": attack_lib.transfer,
}


def defense_method(name: str) -> Callable[..., Tensor]:
    """A defense method by name (:data:`DEFENSE_METHODS`), or your own as ``"package.module:function"``
    with the same signature ``method(backbone, x, y, eps=..., seed=..., **params) -> x_p``."""
    if name in DEFENSE_METHODS:
        return DEFENSE_METHODS[name]
    if ":" in name:
        import importlib

        module, _, attr = name.partition(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as err:
            raise ValueError(f"cannot import defense method {name!r}: {err}") from err
    raise ValueError(f"unknown defense method {name!r}; known: {', '.join(DEFENSE_METHODS)}, or 'module:function'")


@dataclass(frozen=True)
class Defense:
    """One defense configuration. ``post`` = "reversion" (Preemptive Reversion with the same
    method on ``post_backbone``; None = same backbone = white), "jpeg" (quality in params) or
    "diffpure" (diffusion purification, t_star in params; needs a pretrained diffusion model)."""

    name: str
    method: str = "none"
    params: dict = field(default_factory=dict)
    labels: str = "decouple"
    backbone: str | None = None
    post: str | None = None
    post_backbone: str | None = None
    post_params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Attack:
    """One attack configuration; ``method`` "none" measures clean accuracy on the released images."""

    name: str
    method: str = "none"
    params: dict = field(default_factory=dict)
    surrogate: str | None = None


#: The "No Pre." row of the paper's tables; run_grid's default baseline for paired tests.
NO_DEFENSE = Defense("No Pre.")
CLEAN = Attack("clean")


def model_fingerprint(name: str) -> str:
    """What identifies a model's weights in a cache key (:func:`zoo.registry.weights_fingerprint`)."""
    return weights_fingerprint(name)


def computation(config: Defense | Attack) -> dict:
    """What a configuration computes: everything but its display name (renaming never recomputes)."""
    return {k: v for k, v in asdict(config).items() if k != "name"}


#: Sources whose edits cannot change a computed result: presentation, claims, CLI, benchmark, the course and
#: its grading, the Ray engine (it runs this module's cells), and the offline zoo tools (training, the paper-dry
#: checkpoints: the weights they write are fingerprinted by their SHA-256 in every key).
_PRESENTATION = ("claims", "viz.py", "notebook.py", "cli.py", "bench.py", "experiments.py", "course.py", "grading.py",
                 "distributed.py", "zoo/card.py", "zoo/check.py", "zoo/dry.py", "zoo/train.py")


def code_fingerprint(package_dir: Path | None = None) -> str:
    """SHA-256 over the ``mspd_core`` sources that compute results (every ``.py`` but presentation)."""
    root = Path(package_dir) if package_dir else Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith(_PRESENTATION):
            continue
        h.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def _code_fingerprint_cached() -> str:
    return code_fingerprint()


def environment_fingerprint(device: str | torch.device) -> dict:
    """What else can change a result: code, torch version, device type, default dtype."""
    return {"code": _code_fingerprint_cached(), "torch": torch.__version__, "device": torch.device(device).type,
            "dtype": str(torch.get_default_dtype()), "version": __version__}


def cache_key(payload: dict) -> str:
    blob = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


#: Environment variable naming this build (set by scripts/run_notebooks.py): timings measured in
#: another build are labelled with where and when they were measured.
BUILD_ENV = "MSPD_BUILD_ID"


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def measurement_context(device: str | torch.device) -> dict:
    """Where and when a timing is taken: device, CPU model or GPU name, threads, date, build id."""
    dev = torch.device(device)
    where = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"{cpu_model()}, {torch.get_num_threads()} threads"
    return {"device": dev.type, "where": where, "when": datetime.datetime.now().isoformat(timespec="minutes"),
            "build": os.environ.get(BUILD_ENV, "")}


def timing_provenance(context: dict | None) -> str:
    """'this build' or 'cached: measured on <where>, <when>' for a timing's measurement context."""
    if not context:
        return "unknown (cached before timings were labelled)"
    build = os.environ.get(BUILD_ENV, "")
    if build and context.get("build") == build:
        return f"this build ({context['where']})"
    return f"cached: measured on {context['where']} ({context['device']}), {context['when']}"


def _data_fingerprint(data: ImageSet) -> str:
    return hashlib.sha256(data.indices.numpy().tobytes() + data.split.encode() + data.source.encode()).hexdigest()[:16]


class ResultCache:
    """A folder of ``<key>.pt`` files (tensors and numbers only; loaded with ``weights_only=True``)."""

    def __init__(self, folder: Path | None = None, enabled: bool = True) -> None:
        self.folder = Path(folder) if folder else cache_dir() / "results"
        self.enabled = enabled
        self.folder.mkdir(parents=True, exist_ok=True)

    def get(self, key: str) -> dict | None:
        path = self.folder / f"{key}.pt"
        if not self.enabled or not path.exists():
            return None
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # a damaged cache entry is recomputed, never trusted
            return None

    def put(self, key: str, value: dict) -> None:
        if not self.enabled:
            return
        path = self.folder / f"{key}.pt"
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        torch.save(value, tmp)
        os.replace(tmp, path)


def _batches(n: int, batch_size: int):
    for i, start in enumerate(range(0, n, batch_size)):
        yield i, slice(start, min(start + batch_size, n))


def protect(defense: Defense, x: Tensor, y_true: Tensor, zoo: Zoo, eps: float = 8 / 255, seed: int = 0,
            device: str | torch.device = "cpu", batch_size: int = 100, backbone: str | None = None,
            batch_seconds: list[float] | None = None) -> Tensor:
    """Run one defense configuration (labels, method) on ``x`` in batches; returns float x_p (not yet released).

    When ``batch_seconds`` is a list, each batch's seconds per image (labels + defense) are appended."""
    method = defense_method(defense.method)
    bb = load_cached(backbone or defense.backbone or zoo.backbone, device)
    clf = load_cached(zoo.classifier, device) if defense.labels == "decouple" else None
    out = []
    for i, sl in _batches(x.shape[0], batch_size):
        start = time.perf_counter()
        xb = x[sl].to(device)
        yb = defense_labels(xb, defense.labels, bb, clf, y_true[sl].to(device))
        out.append(method(bb, xb, yb, eps=eps, seed=seed + i, **defense.params).detach().cpu())
        if batch_seconds is not None:
            batch_seconds.append((time.perf_counter() - start) / xb.shape[0])
    return torch.cat(out)


def release(x_p: Tensor, x: Tensor, eps: float) -> Tensor:
    """8-bit release (PNG) of the protected images, kept inside the eps-ball of x."""
    return from_uint8(to_uint8_release(x_p, x, eps))


def post_process(defense: Defense, x_rel: Tensor, y_true: Tensor, zoo: Zoo, eps: float, seed: int,
                 device: str | torch.device, batch_size: int) -> Tensor:
    """What happens to the release before the attack: Preemptive Reversion (an adaptive attacker) or JPEG."""
    if defense.post is None:
        return x_rel
    if defense.post == "jpeg":
        return jpeg(x_rel, **{"quality": 50, **defense.post_params})
    if defense.post == "diffpure":
        from .diffpure import diffpure, load_ddpm_purifier

        purifier = load_ddpm_purifier(defense.post_params.get("model_id", "google/ddpm-cifar10-32"))
        purifier.unet.to(device)
        return diffpure(x_rel.to(device), purifier, defense.post_params.get("t_star", 0.1), seed).cpu()
    if defense.post == "reversion":
        d_prime = Defense(defense.name + " (D')", defense.method, {**defense.params, **defense.post_params},
                          defense.labels, defense.post_backbone or defense.backbone or zoo.backbone)

        def run_d_prime(v: Tensor) -> Tensor:
            return protect(d_prime, v, y_true, zoo, eps, seed + 7919, device, batch_size)

        return preemptive_reversion(run_d_prime, x_rel)
    raise ValueError(f"unknown post-processing {defense.post!r}; valid: reversion, jpeg, diffpure")


def release_key(defense: Defense, data: ImageSet, zoo: Zoo, eps: float, seed: int, quantize: bool,
                batch_size: int = 100, device: str | torch.device = "cpu") -> str:
    """Cache key of one defense's released images: configuration, model hashes, data indices, batch size
    (it sets the per-batch seeds), code hash, torch version, device type and dtype."""
    config = computation(defense)
    config["backbone"] = None  # named by its fingerprint below: "via the default backbone" == the default
    if config["post_backbone"] == (defense.backbone or zoo.backbone):
        config["post_backbone"] = None
    return cache_key({"kind": "release", "defense": config, "eps": eps, "seed": seed, "quantize": quantize,
                      "zoo": {"classifier": model_fingerprint(zoo.classifier),
                              "backbone": model_fingerprint(defense.backbone or zoo.backbone),
                              "post_backbone": model_fingerprint(config["post_backbone"]) if config["post_backbone"] else None},
                      "data": _data_fingerprint(data), "batch_size": batch_size, "env": environment_fingerprint(device)})


def released_images(defense: Defense, data: ImageSet, zoo: Zoo, eps: float = 8 / 255, seed: int = 0,
                    device: str | torch.device = "cpu", batch_size: int = 100, quantize: bool = True,
                    cache: ResultCache | None = None) -> dict:
    """Released (and post-processed) images of one defense with quality metrics and seconds per image; cached."""
    cache = cache or ResultCache()
    key = release_key(defense, data, zoo, eps, seed, quantize, batch_size, device)
    hit = cache.get(key)
    if hit is not None:
        return hit
    x = check_images(data.x, "data.x")
    context = measurement_context(device)
    start = time.perf_counter()
    batch_seconds: list[float] = []
    x_p = protect(defense, x, data.y, zoo, eps, seed, device, batch_size, batch_seconds=batch_seconds)
    seconds = time.perf_counter() - start
    x_rel = release(x_p, x, eps) if quantize else x_p
    x_eval = post_process(defense, x_rel, data.y, zoo, eps, seed, device, batch_size)
    lp = lpips_distance(x_eval, x)
    result = {
        "x_eval": x_eval, "x_released": x_rel, "seconds_per_image": seconds / x.shape[0],
        "batch_seconds": torch.tensor(batch_seconds, dtype=torch.float64), "timed": context,
        "l2": float(l2_distance(x_eval, x).mean()), "linf": float(linf_distance(x_eval, x).mean()),
        "linf_max": float(linf_distance(x_eval, x).max()),
        "ssim": float(ssim(x_eval, x).mean()), "lpips": float(np.mean(lp)) if lp is not None else float("nan"),
    }
    cache.put(key, result)
    return result


def attack_outcomes(attack: Attack, target: str, x_eval: Tensor, y: Tensor, release_key: str, zoo: Zoo,
                    seed: int = 0, device: str | torch.device = "cpu", batch_size: int = 100,
                    cache: ResultCache | None = None) -> dict:
    """Per-image correctness of ``target`` on the (attacked) released images; cached."""
    cache = cache or ResultCache()
    key = cache_key({"kind": "attack", "attack": computation(attack), "target": model_fingerprint(target),
                     "surrogate": model_fingerprint(attack.surrogate) if attack.surrogate else None,
                     "release": release_key, "seed": seed, "batch_size": batch_size, "env": environment_fingerprint(device)})
    hit = cache.get(key)
    if hit is not None:
        return hit
    model = load_cached(target, device)
    start = time.perf_counter()
    correct = []
    for i, sl in _batches(x_eval.shape[0], batch_size):
        xb, yb = x_eval[sl].to(device), y[sl].to(device)
        if attack.method == "none":
            x_adv = xb
        elif attack.method in ATTACK_METHODS:
            extra = {"surrogate": load_cached(attack.surrogate, device)} if attack.method == "transfer" else {}
            x_adv = ATTACK_METHODS[attack.method](model, xb, yb, seed=seed + i, **attack.params, **extra)
        else:
            raise ValueError(f"unknown attack method {attack.method!r}; known: none, {', '.join(ATTACK_METHODS)}")
        correct.append((predict(model, x_adv) == yb).cpu())
    result = {"correct": torch.cat(correct), "seconds": time.perf_counter() - start}
    cache.put(key, result)
    return result


def run_grid(defenses: list[Defense], attacks: list[Attack], targets: list[str], data: ImageSet, zoo: Zoo,
             eps: float = 8 / 255, seed: int = 0, device: str | torch.device = "cpu", batch_size: int = 100,
             quantize: bool = True, cache: bool | ResultCache = True, shard: tuple[int, int] | None = None,
             baseline: str | None = NO_DEFENSE.name, reference: str | None = None, progress: bool = True,
             engine: str = "local", address: str | None = None, max_retries: int = 2,
             resources: dict | None = None) -> pd.DataFrame:
    """Evaluate every (defense, attack, target) cell; one tidy row per cell.

    Columns: defense, attack, target, n, correct, acc, ci_low, ci_high (95% Wilson, percent),
    p_vs_baseline / p_vs_reference (exact McNemar on the same images), l2, linf, ssim, lpips,
    sec_per_image (defense time), attack_seconds, and ``per_image`` (boolean outcomes).

    ``engine="ray"`` computes the cells as Ray tasks (:mod:`mspd_core.distributed`; ``address``
    names a running cluster, ``resources`` the per-task ``num_cpus``/``num_gpus``, ``max_retries``
    Ray's retries) into the same content-addressed cache, then assembles the same table.
    """
    store = cache if isinstance(cache, ResultCache) else ResultCache(enabled=bool(cache))
    names = [d.name for d in defenses]
    if len(set(names)) != len(names):
        raise ValueError("defense names must be unique")
    chosen = defenses if shard is None else defenses[shard[0]::shard[1]]
    if engine not in ("local", "ray"):
        raise ValueError(f"unknown engine {engine!r}; valid: local, ray")
    if engine == "ray":
        if not store.enabled:
            raise ValueError("engine='ray' passes results through the cache: it cannot be disabled")
        from .distributed import compute_cells_on_ray

        compute_cells_on_ray(chosen, attacks, targets, data, zoo, eps=eps, seed=seed, device=device,
                             batch_size=batch_size, quantize=quantize, cache=store, address=address,
                             max_retries=max_retries, resources=resources, progress=progress)
        progress = False  # every cell is now a cache hit
    rows = []
    cells = [(d, a, t) for d in chosen for a in attacks for t in targets]
    bar = tqdm(total=len(cells), desc="grid", disable=not progress)
    for d in chosen:
        rel = released_images(d, data, zoo, eps, seed, device, batch_size, quantize, store)
        rkey = release_key(d, data, zoo, eps, seed, quantize, batch_size, device)
        for a in attacks:
            for t in targets:
                bar.set_postfix_str(f"{d.name} | {a.name} | {t}")
                out = attack_outcomes(a, t, rel["x_eval"], data.y, rkey, zoo, seed, device, batch_size, store)
                c = out["correct"].numpy().astype(bool)
                acc = accuracy(c)
                rows.append({
                    "defense": d.name, "attack": a.name, "target": t, "n": acc.n, "correct": acc.k,
                    "acc": 100 * acc.value, "ci_low": 100 * acc.low, "ci_high": 100 * acc.high,
                    "l2": rel["l2"], "linf": rel["linf"], "ssim": rel["ssim"], "lpips": rel["lpips"],
                    "sec_per_image": rel["seconds_per_image"], "attack_seconds": out["seconds"], "per_image": c,
                    "batch_seconds": rel.get("batch_seconds", torch.tensor([])).numpy(),
                    "timed": timing_provenance(rel.get("timed")), "release": rkey,
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
    view = table.drop(columns=["per_image", "batch_seconds"], errors="ignore").copy()
    view["accuracy (95% CI)"] = [f"{a:.1f} [{lo:.1f}, {hi:.1f}]" for a, lo, hi in zip(view.acc, view.ci_low, view.ci_high)]
    return view
