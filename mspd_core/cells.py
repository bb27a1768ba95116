"""The evaluation engine's cells: one defense's released images, and one (defense, attack, target)
outcome vector, each computed once and cached.

Every computed piece (released images, per-image attack outcomes) is cached on disk under a key
derived from its full configuration, the models' SHA-256, the data indices, a hash of the
``mspd_core`` sources that compute results, the torch version, the device type and the default
dtype: a rerun with the same parameters and code costs nothing; a changed parameter, an edited
algorithm or another device recomputes. Cached defense timings carry where and when they were
measured (:func:`timing_provenance`), so a page can say so.

The grid runner (:mod:`mspd_core.grid`) and its engines (local; Ray in :mod:`mspd_core.distributed`)
import this module; it imports neither.
"""
from __future__ import annotations

import datetime
import functools
import hashlib
import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import Tensor, nn

from . import __version__, attacks as attack_lib
from .data import ImageSet
from .dependencies import lock_fingerprint
from .defenses.bilevel_l2 import bilevel_l2
from .smoothed_classifier import randomized_pgd_l2, smoothed_predict
from .smoothing import is_out_of_memory
from .whitebox_bilevel import bilevel_whitebox, lowest_accuracy_budget, whitebox_robust
from .defenses import a5, bilevel, defense_labels, fast_preemption, mcgs, predict, unadv, unadv_bilevel_cascade
from .metrics import l2_distance, linf_distance, lpips_distance, ssim
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
    "a5": a5,
    "bilevel_l2": bilevel_l2,
}

#: Defense methods whose ball is L2 (their releases stay in floating point: :func:`released_images`).
L2_DEFENSE_METHODS = frozenset({"bilevel_l2"})

#: Attack methods by name; each is ``attack(target, x, y, eps=..., seed=..., **params) -> x_adv``.
ATTACK_METHODS: dict[str, Callable[..., Tensor]] = {
    "autoattack": attack_lib.autoattack,
    "pgd": attack_lib.pgd_linf,
    "pgd_l2": attack_lib.pgd_l2,
    "cw": attack_lib.cw_linf,
    "square": attack_lib.square,
    "eot_pgd": attack_lib.eot_pgd,
    "transfer": attack_lib.transfer,
    "randomized_pgd_l2": randomized_pgd_l2,
    "bilevel_whitebox": bilevel_whitebox,
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
    """One attack configuration; ``method`` "none" measures clean accuracy on the released images. With
    ``smoothed_sigma`` the target is the smoothed classifier of the target model (Cohen et al.): predictions are
    majority votes over ``smoothed_votes`` Gaussian draws of that std."""

    name: str
    method: str = "none"
    params: dict = field(default_factory=dict)
    surrogate: str | None = None
    smoothed_sigma: float | None = None
    smoothed_votes: int = 50


def cell_name(defense: Defense, attack: Attack | None = None, target: str | None = None) -> str:
    """A cell's name in messages: the defense (its release), or "defense | attack | target"."""
    return defense.name if attack is None else f"{defense.name} | {attack.name} | {target}"


#: The "No Pre." row of the paper's tables; run_grid's default baseline for paired tests.
NO_DEFENSE = Defense("No Pre.")
CLEAN = Attack("clean")


def model_fingerprint(name: str) -> str:
    """What identifies a model's weights in a cache key (:func:`zoo.registry.weights_fingerprint`)."""
    return weights_fingerprint(name)


def computation(config: Defense | Attack) -> dict:
    """What a configuration computes: everything but its display name (renaming never recomputes)."""
    return {k: v for k, v in asdict(config).items() if k != "name"}


#: Sources whose edits cannot change a computed (cached) result: presentation, claims, CLI, benchmark, the course
#: and its grading, the grid runner and its Ray engine (they run this module's cells and tabulate them), each paper's
#: part vocabulary (``parts/``: it builds configurations, whose every field is in the keys), and the
#: offline zoo tools (training, the paper-dry
#: checkpoints: the weights they write are fingerprinted by their SHA-256 in every key).
_PRESENTATION = ("claims", "parts/", "viz.py", "notebook.py", "cli.py", "bench.py", "experiments.py", "course.py", "course_sandbox.py", "course_worker.py", "grading.py",
                 "grid.py", "evaluate.py", "distributed.py", "ray_bench.py", "zoo/card.py", "zoo/check.py", "zoo/dry.py", "zoo/train.py")


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
def code_fingerprint_cached() -> str:
    return code_fingerprint()


def python_minor() -> str:
    """The running Python's major.minor: what selects the universal lock's per-version pins (a patch release does not)."""
    return ".".join(platform.python_version_tuple()[:2])


def environment_fingerprint(device: str | torch.device) -> dict:
    """What else can change a result: code, the locked library versions (which depend on the Python version: the lock
    is universal), torch version, device type, default dtype."""
    return {"code": code_fingerprint_cached(), "lock": lock_fingerprint(), "python": python_minor(),
            "torch": torch.__version__,
            "device": torch.device(device).type,
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


def timing_host(context: dict | None) -> str:
    """The machine a timing was measured on ("<CPU model or GPU>, ... (<device>)"), or "unknown" for timings cached
    before they were labelled: two timings are comparable only from the same machine."""
    if not context:
        return "unknown"
    return f"{context['where']} ({context['device']})"


def _data_fingerprint(data: ImageSet) -> str:
    return hashlib.sha256(data.indices.numpy().tobytes() + data.split.encode() + data.source.encode()).hexdigest()[:16]


class ResultCache:
    """A folder of ``<key>.pt`` files (tensors and numbers only; loaded with ``weights_only=True``)."""

    def __init__(self, folder: Path | None = None, enabled: bool = True) -> None:
        self.folder = Path(folder) if folder else cache_dir() / "results"
        self.enabled = enabled
        self.folder.mkdir(parents=True, exist_ok=True)

    def has(self, key: str) -> bool:
        """Whether this folder holds ``key`` (what a driver checks after remote workers computed it)."""
        return self.enabled and (self.folder / f"{key}.pt").exists()

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


def _concat(parts: list):
    """Concatenate per-image results of consecutive sub-batches: tensors, or dicts of tensors (one per budget)."""
    if isinstance(parts[0], dict):
        return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
    return torch.cat(parts)


def _warn_split(attack: Attack, target: str, splits: list[int]) -> None:
    """Say (on every page that shows the cell, cached or not) that a cell's batches were attacked in halves."""
    import warnings

    warnings.warn(f"{attack.name} on {target}: out of memory at batch size(s) {sorted(set(splits), reverse=True)}; "
                  "those batches were attacked in halves (their random starts differ from an unsplit run)",
                  RuntimeWarning, stacklevel=3)


def split_on_out_of_memory(run: Callable, *tensors: Tensor, splits: list[int] | None = None):
    """``run(*tensors)`` on the whole batch; when it runs out of (device) memory, on each half in turn (recursively,
    down to one image), the per-image results concatenated in order. Each split's batch size is appended to
    ``splits``. Other errors, and out-of-memory on a single image, propagate."""
    try:
        return run(*tensors)
    except RuntimeError as err:
        n = len(tensors[0])
        if n == 1 or not is_out_of_memory(err):
            raise
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    if splits is not None:
        splits.append(n)
    half = (n + 1) // 2
    return _concat([split_on_out_of_memory(run, *(t[:half] for t in tensors), splits=splits),
                    split_on_out_of_memory(run, *(t[half:] for t in tensors), splits=splits)])


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
        from .diffpure import CIFAR10_DDPM, diffpure, load_ddpm_purifier

        purifier = load_ddpm_purifier(defense.post_params.get("model_id", CIFAR10_DDPM))
        purifier.unet.to(device)
        return diffpure(x_rel.to(device), purifier, defense.post_params.get("t_star", 0.1), seed, batch_size).cpu()
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
    if defense.post == "diffpure":  # the diffusion model's weights, not only its name
        from .diffpure import CIFAR10_DDPM, weights_fingerprint as diffusion_weights

        config["diffusion_weights"] = diffusion_weights(defense.post_params.get("model_id", CIFAR10_DDPM))
    return cache_key({"kind": "release", "defense": config, "eps": eps, "seed": seed, "quantize": quantize,
                      "zoo": {"classifier": model_fingerprint(zoo.classifier),
                              "backbone": model_fingerprint(defense.backbone or zoo.backbone),
                              "post_backbone": model_fingerprint(config["post_backbone"]) if config["post_backbone"] else None},
                      "data": _data_fingerprint(data), "batch_size": batch_size, "env": environment_fingerprint(device)})


def released_images(defense: Defense, data: ImageSet, zoo: Zoo, eps: float = 8 / 255, seed: int = 0,
                    device: str | torch.device = "cpu", batch_size: int = 100, quantize: bool = True,
                    cache: ResultCache | None = None) -> dict:
    """Released (and post-processed) images of one defense with quality metrics and seconds per image; cached.
    A post-processed defense (JPEG, reversion, DiffPure) takes the plain defense's release from the cache (computing
    it once, under the name "<name> (release)") and reports its seconds: the defender's cost."""
    if quantize and defense.method in L2_DEFENSE_METHODS:
        raise ValueError(f"{defense.name}: an L2 defense's release cannot be quantised to 8 bits here (the 8-bit release "
                         "keeps an L-inf ball; rounding can move an image up to 0.11 in L2 out of its ball): pass "
                         "quantize=False")
    cache = cache or ResultCache()
    key = release_key(defense, data, zoo, eps, seed, quantize, batch_size, device)
    hit = cache.get(key)
    if hit is not None:
        return hit
    x = check_images(data.x, "data.x")
    if defense.post is not None:  # the release itself is the plain defense's: computed once, shared through the cache
        base = released_images(replace(defense, name=defense.name + " (release)", post=None, post_backbone=None,
                                       post_params={}), data, zoo, eps, seed, device, batch_size, quantize, cache)
        x_rel, timing = base["x_released"], {k: base[k] for k in ("seconds_per_image", "batch_seconds", "timed")}
    else:
        context = measurement_context(device)
        start = time.perf_counter()
        batch_seconds: list[float] = []
        x_p = protect(defense, x, data.y, zoo, eps, seed, device, batch_size, batch_seconds=batch_seconds)
        seconds = time.perf_counter() - start
        x_rel = release(x_p, x, eps) if quantize else x_p
        timing = {"seconds_per_image": seconds / x.shape[0], "timed": context,
                  "batch_seconds": torch.tensor(batch_seconds, dtype=torch.float64)}
    x_eval = post_process(defense, x_rel, data.y, zoo, eps, seed, device, batch_size)
    lp = lpips_distance(x_eval, x)
    result = {
        "x_eval": x_eval, "x_released": x_rel, **timing,
        "l2": float(l2_distance(x_eval, x).mean()), "linf": float(linf_distance(x_eval, x).mean()),
        "linf_max": float(linf_distance(x_eval, x).max()),
        "ssim": float(ssim(x_eval, x).mean()), "lpips": float(np.mean(lp)) if lp is not None else float("nan"),
    }
    cache.put(key, result)
    return result


def attack_key(attack: Attack, target: str, release_key: str, zoo: Zoo, seed: int = 0, batch_size: int = 100,
               device: str | torch.device = "cpu") -> str:
    """Cache key of one (defense, attack, target) cell: the attack's configuration, the target's (and a
    transfer surrogate's) fingerprint, the release's key, seed, batch size and environment."""
    return cache_key({"kind": "attack", "attack": computation(attack), "target": model_fingerprint(target),
                      "surrogate": model_fingerprint(attack.surrogate) if attack.surrogate else None,
                      "release": release_key, "seed": seed, "batch_size": batch_size, "env": environment_fingerprint(device)})


#: Attacks scored by the Bi-Level paper's Definition 3: the method returns one candidate per final budget, a candidate
#: succeeds only if it is misclassified AND within the attack's eps of the ORIGINAL image, and the cell keeps the
#: budget of lowest accuracy (:mod:`~mspd_core.whitebox_bilevel`).
ORIGINAL_BALL_METHODS = frozenset({"bilevel_whitebox"})


def _predict(attack: Attack, model: nn.Module, x: Tensor, seed: int) -> Tensor:
    """The target's prediction, or its smoothed classifier's majority vote when the attack names a sigma."""
    if attack.smoothed_sigma is None:
        return predict(model, x)
    return smoothed_predict(model, x, attack.smoothed_sigma, attack.smoothed_votes, seed=seed)


def attack_outcomes(attack: Attack, target: str, x_eval: Tensor, y: Tensor, release_key: str, zoo: Zoo,
                    seed: int = 0, device: str | torch.device = "cpu", batch_size: int = 100,
                    cache: ResultCache | None = None, x_orig: Tensor | None = None) -> dict:
    """Per-image correctness of ``target`` on the (attacked) released images; cached. An attack of
    :data:`ORIGINAL_BALL_METHODS` needs the original images ``x_orig`` and adds ``by_budget`` (per-image outcomes of
    each final budget) and ``chosen`` (the budget of lowest accuracy, whose outcomes are ``correct``)."""
    cache = cache or ResultCache()
    key = attack_key(attack, target, release_key, zoo, seed, batch_size, device)
    hit = cache.get(key)
    if hit is not None:
        if hit.get("out_of_memory_splits"):
            _warn_split(attack, target, hit["out_of_memory_splits"])
        return hit
    original_ball = attack.method in ORIGINAL_BALL_METHODS
    if original_ball and (x_orig is None or x_orig.shape != x_eval.shape):
        raise ValueError(f"{attack.name}: Definition 3 scores an attack against the ORIGINAL images; pass x_orig of "
                         f"the released images' shape {tuple(x_eval.shape)}")
    model = load_cached(target, device)
    start = time.perf_counter()
    correct, by_budget, splits = [], {}, []
    if attack.method != "none" and attack.method not in ATTACK_METHODS:
        raise ValueError(f"unknown attack method {attack.method!r}; known: none, {', '.join(ATTACK_METHODS)}")
    extra = {"surrogate": load_cached(attack.surrogate, device)} if attack.method == "transfer" else {}
    for i, sl in _batches(x_eval.shape[0], batch_size):
        xb, yb = x_eval[sl].to(device), y[sl].to(device)
        if attack.method == "none":
            x_adv = xb
        else:  # out of memory: the batch is attacked in halves (same seed), and the cell says so
            x_adv = split_on_out_of_memory(
                lambda xs, ys, i=i: ATTACK_METHODS[attack.method](model, xs, ys, seed=seed + i, **attack.params, **extra),
                xb, yb, splits=splits)
        if original_ball:
            pred_release = _predict(attack, model, xb, seed + 104729 + i)
            xo = x_orig[sl].to(device)
            for label, candidate in x_adv.items():
                robust = whitebox_robust(pred_release, _predict(attack, model, candidate, seed + 104729 + i), yb,
                                         candidate, xo, attack.params["eps"], attack.params.get("norm", "Linf"))
                by_budget.setdefault(label, []).append(robust.cpu())
            continue
        correct.append((_predict(attack, model, x_adv, seed + 104729 + i) == yb).cpu())
    if original_ball:
        by_budget = {label: torch.cat(parts) for label, parts in by_budget.items()}
        chosen = lowest_accuracy_budget(by_budget)
        result = {"correct": by_budget[chosen], "by_budget": by_budget, "chosen": chosen,
                  "seconds": time.perf_counter() - start}
    else:
        result = {"correct": torch.cat(correct), "seconds": time.perf_counter() - start}
    if splits:
        _warn_split(attack, target, splits)
        result["out_of_memory_splits"] = splits
    cache.put(key, result)
    return result
