"""The ONE place that names models: embedded (trained here) and RobustBench (the paper's zoo).

``load(name)`` returns an eval-mode ``nn.Module`` that takes images in [0, 1].
Embedded checkpoints are verified against the SHA-256 in ``data/zoo/manifest.json`` and
loaded with ``torch.load(..., weights_only=True)``.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from ..paths import ROBUSTBENCH_ENV, ZOO_DIR, ZOO_MANIFEST, robustbench_dir
from .architectures import build
from .recipes import DEFAULT_BACKBONE, DEFAULT_CLASSIFIER, EMBEDDED_MAIN_TARGET, EMBEDDED_SEPARATION_TARGET, RECIPES


class ModelUnavailableError(RuntimeError):
    """A model's weights are missing, damaged or cannot be loaded here."""


class ChecksumError(ModelUnavailableError):
    """A checkpoint's SHA-256 differs from the manifest (truncated, corrupt or tampered)."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    role: str  # "classifier" | "backbone" | "target" | "preemptive" | "smoothed" | "certified" (recipes.Recipe.role)
    source: str  # "embedded" | "robustbench"
    arch: str  # architecture family ("PreActResNet-18", "WRN-28-10", ...): Lemma 4's gray box = same family
    dataset: str = "cifar10"
    threat_model: str = "Linf"  # RobustBench leaderboard the weights come from
    normalisation: str = "inside the model (inputs in [0, 1])"
    arch_kwargs: dict = field(default_factory=dict)
    training: str = "adversarial"  # "standard" (non-robust) | "adversarial" | "corruptions" | a recipe's method

    @property
    def robust(self) -> bool:
        """Adversarially trained (a robust backbone in the sense of MSPD Lemma 1, Table XI)."""
        return self.training not in ("standard", "corruptions")


#: The paper's RobustBench models (SPEC, "Scale profiles": paper).
PAPER_CLASSIFIER = "Hendrycks2020AugMix_ResNeXt"
PAPER_BACKBONE = "Gowal2021Improving_R18_ddpm_100m"
#: Table XI's other backbones: a non-robust and a robust WideResNet-28-10 (RobustBench's names).
PAPER_ABLATION_BACKBONES = ("Standard", "Gowal2021Improving_28_10_ddpm_100m")
PAPER_TARGETS = (
    "Bartoldson2024Adversarial_WRN-94-16", "Peng2023Robust", "Wang2023Better_WRN-70-16",
    "Rade2021Helper_extra", "Xu2023Exploring_WRN-28-10", "Wong2020Fast", "Sehwag2021Proxy_ResNest152",
    "Chen2020Adversarial", "Addepalli2022Efficient_RN18", "Debenedetti2022Light_XCiT-L12",
)
PAPER_IMAGENET_CLASSIFIER = "Tian2022Deeper_DeiT-B"
#: ImageNet rows of Table IV: ViT-S backbone (Singh et al. 2023, 22M) and Swin-L target (MSPD paper, Sec. V).
PAPER_IMAGENET_BACKBONE = "Singh2023Revisiting_ViT-S-ConvStem"
PAPER_IMAGENET_TARGET = "Liu2023Comprehensive_Swin-L"

#: The ``paper-dry`` profile's stand-ins for the models a 2-core CPU cannot afford (random weights
#: anyway): each a smaller RobustBench architecture, from the same paper where RobustBench has one.
DRY_SUBSTITUTES = {
    "Bartoldson2024Adversarial_WRN-94-16": "Wang2023Better_WRN-28-10",  # same DM-WideResNet code, 36M instead of 366M
    "Wang2023Better_WRN-70-16": "Addepalli2022Efficient_WRN_34_10",  # WideResNet-34-10 instead of 70-16
    "Peng2023Robust": "Chen2020Efficient",  # RaWRN-70-16 -> WideResNet-34-10 (no smaller RobustArch in RobustBench)
    "Sehwag2021Proxy_ResNest152": "Sehwag2021Proxy_R18",  # same paper, ResNet-18
    "Debenedetti2022Light_XCiT-L12": "Debenedetti2022Light_XCiT-S12",  # same paper, XCiT-S12 (26M instead of 104M)
    PAPER_IMAGENET_TARGET: "Liu2023Comprehensive_Swin-B",  # same paper, Swin-B (88M instead of 197M)
}


def _rb(name: str, role: str, arch: str, dataset: str = "cifar10", threat_model: str = "Linf",
        training: str = "adversarial") -> ModelSpec:
    return ModelSpec(name, role, "robustbench", arch, dataset, threat_model, training=training)


ROBUSTBENCH_MODELS: dict[str, ModelSpec] = {s.name: s for s in [
    _rb(PAPER_CLASSIFIER, "classifier", "ResNeXt-29", threat_model="corruptions", training="corruptions"),
    _rb(PAPER_BACKBONE, "backbone", "PreActResNet-18"),
    _rb("Standard", "backbone", "WRN-28-10", training="standard"),
    _rb("Gowal2021Improving_28_10_ddpm_100m", "backbone", "WRN-28-10"),
    _rb("Bartoldson2024Adversarial_WRN-94-16", "target", "WRN-94-16"),
    _rb("Peng2023Robust", "target", "RaWRN-70-16"),
    _rb("Wang2023Better_WRN-70-16", "target", "WRN-70-16"),
    _rb("Rade2021Helper_extra", "target", "WRN-34-10"),
    _rb("Xu2023Exploring_WRN-28-10", "target", "WRN-28-10"),
    _rb("Wong2020Fast", "target", "PreActResNet-18"),
    _rb("Sehwag2021Proxy_ResNest152", "target", "ResNeSt-152"),
    _rb("Chen2020Adversarial", "target", "ResNet-50 ensemble (3)"),
    _rb("Addepalli2022Efficient_RN18", "target", "ResNet-18"),
    _rb("Debenedetti2022Light_XCiT-L12", "target", "XCiT-L12"),
    # paper-dry stand-ins
    _rb("Wang2023Better_WRN-28-10", "target", "WRN-28-10"),
    _rb("Addepalli2022Efficient_WRN_34_10", "target", "WRN-34-10"),
    _rb("Chen2020Efficient", "target", "WRN-34-10"),
    _rb("Sehwag2021Proxy_R18", "target", "ResNet-18"),
    _rb("Debenedetti2022Light_XCiT-S12", "target", "XCiT-S12"),
    # ImageNet (Table IV's ImageNet rows)
    _rb(PAPER_IMAGENET_CLASSIFIER, "classifier", "DeiT-B", "imagenet", "corruptions", training="corruptions"),
    _rb(PAPER_IMAGENET_BACKBONE, "backbone", "ViT-S (ConvStem)", "imagenet"),
    _rb(PAPER_IMAGENET_TARGET, "target", "Swin-L", "imagenet"),
    _rb("Liu2023Comprehensive_Swin-B", "target", "Swin-B", "imagenet"),  # paper-dry stand-in
]}

EMBEDDED_MODELS: dict[str, ModelSpec] = {
    r.name: ModelSpec(r.name, r.role, "embedded", r.arch, arch_kwargs=dict(r.arch_kwargs), training=r.training)
    for r in RECIPES.values()
}

ALL_MODELS: dict[str, ModelSpec] = {**EMBEDDED_MODELS, **ROBUSTBENCH_MODELS}


def spec(name: str) -> ModelSpec:
    """The registry entry for ``name`` (clear error listing the known names)."""
    if name not in ALL_MODELS:
        raise ValueError(f"unknown model {name!r}; embedded: {', '.join(EMBEDDED_MODELS)}; "
                         f"RobustBench: {', '.join(ROBUSTBENCH_MODELS)}")
    return ALL_MODELS[name]


def read_manifest(path: Path = ZOO_MANIFEST) -> dict:
    """The embedded zoo's manifest (file, sha256, recipe, accuracies per model); {} if none yet."""
    return json.loads(path.read_text()) if path.exists() else {}


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def rebuild_hint(name: str) -> str:
    return f"rebuild it with `python -m mspd_core.zoo.train {name}` (or `make zoo`)"


def checkpoint_path(name: str, zoo_dir: Path = ZOO_DIR, manifest: dict | None = None) -> Path:
    """Path of an embedded checkpoint after verifying it exists and matches its SHA-256."""
    manifest = read_manifest(zoo_dir / "manifest.json") if manifest is None else manifest
    if name not in manifest:
        raise ModelUnavailableError(f"embedded model {name!r} is not in {zoo_dir / 'manifest.json'}; {rebuild_hint(name)}")
    path = zoo_dir / manifest[name]["file"]
    if not path.exists():
        raise ModelUnavailableError(f"checkpoint {path} is missing; {rebuild_hint(name)}")
    digest = sha256_of(path)
    if digest != manifest[name]["sha256"]:
        raise ChecksumError(
            f"checkpoint {path} failed its SHA-256 check (expected {manifest[name]['sha256'][:16]}..., "
            f"got {digest[:16]}...): the file is truncated, corrupt or was modified; {rebuild_hint(name)}"
        )
    return path


def load_embedded(name: str, device: torch.device | str = "cpu", zoo_dir: Path = ZOO_DIR) -> nn.Module:
    """Build the embedded architecture and load its verified weights (``weights_only=True``)."""
    s = spec(name)
    manifest = read_manifest(zoo_dir / "manifest.json")
    path = checkpoint_path(name, zoo_dir, manifest)
    model = build(manifest[name]["arch"], **manifest[name]["arch_kwargs"])
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as err:  # unpickling error, wrong keys, ...
        raise ModelUnavailableError(f"checkpoint {path} could not be loaded ({err}); {rebuild_hint(s.name)}") from err
    return model.to(device).eval()


def robustbench_checkpoint(name: str, model_dir: Path | None = None) -> Path:
    """Where robustbench expects the weights of ``name``: model_dir/dataset/threat_model/name.pt."""
    s = spec(name)
    return Path(model_dir or robustbench_dir()) / s.dataset / s.threat_model / f"{name}.pt"


#: RobustBench 1.1.1 builds these through timm with ``pretrained=True`` (a download at
#: construction), and its XCiT entry names a timm model that its own xcit.py registers under
#: another name. Offline we build the registered timm architecture with random weights.
TIMM_ARCHITECTURES = {
    "Debenedetti2022Light_XCiT-L12": ("robustbench.model_zoo.architectures.xcit", "debenedetti2022light_xcit_l12_cifar10_linf"),
    "Debenedetti2022Light_XCiT-S12": ("robustbench.model_zoo.architectures.xcit", "debenedetti2022light_xcit_s12_cifar10_linf"),
    PAPER_IMAGENET_CLASSIFIER: ("robustbench.model_zoo.architectures.deit", "tian2022deeper_deit_b_imagenet_corruptions"),
}


def _robustbench_entry(name: str) -> dict:
    """RobustBench's model-zoo entry for ``name`` (its ``model`` constructor and ``gdrive_id``)."""
    from .._compat import import_robustbench

    import_robustbench()
    from robustbench.model_zoo import model_dicts
    from robustbench.model_zoo.enums import BenchmarkDataset, ThreatModel

    s = spec(name)
    if s.source != "robustbench":
        raise ValueError(f"{name!r} is not a RobustBench model")
    return model_dicts[BenchmarkDataset(s.dataset)][ThreatModel(s.threat_model)][name]


def robustbench_architecture(name: str) -> nn.Module:
    """RobustBench's architecture for ``name`` with random weights (offline; no download)."""
    entry = _robustbench_entry(name)
    if name in TIMM_ARCHITECTURES:
        import importlib

        import timm

        module, timm_name = TIMM_ARCHITECTURES[name]
        importlib.import_module(module)  # registers the timm model
        return timm.create_model(timm_name, pretrained=False)
    return entry["model"]()


def robustbench_checkpoint_files(name: str, model_dir: Path | None = None) -> list[Path]:
    """Every file RobustBench reads for ``name``: ``name.pt``, or ``name.pt_m0.pt``, ``_m1``, ... for an
    ensemble (Chen2020Adversarial), exactly as ``robustbench.utils.load_model`` names them."""
    ids, path = _robustbench_entry(name)["gdrive_id"], robustbench_checkpoint(name, model_dir)
    if name in TIMM_ARCHITECTURES or not isinstance(ids, list):
        return [path]
    return [Path(f"{path}_m{i}.pt") for i in range(len(ids))]


#: A file in a RobustBench folder that says its checkpoints are random (written by ``zoo.dry``).
DRY_MARKER = "MSPD_RANDOM_WEIGHTS.txt"


#: The key, in a checkpoint's state-dict ``_metadata``, that marks its weights as random (``zoo.dry``).
#: ``load_state_dict`` ignores metadata keys that name no module, so the file keeps RobustBench's format.
RANDOM_WEIGHTS_KEY = "mspd_random_weights"


def mark_random(state: dict) -> "OrderedDict[str, torch.Tensor]":
    """A state dict carrying the random-weights mark in its ``_metadata`` (survives ``torch.save``)."""
    from collections import OrderedDict

    marked = OrderedDict(state)
    marked._metadata = {**dict(getattr(state, "_metadata", None) or {}),  # type: ignore[attr-defined]
                        RANDOM_WEIGHTS_KEY: {"written_by": "python -m mspd_core.zoo.dry", "measures": "nothing"}}
    return marked


def checkpoint_is_random(path: Path) -> bool:
    """Whether a checkpoint file carries the random-weights mark (read lazily where the format allows:
    tensors stay on disk). A file this cannot read (an old pickle format, say) is not ours: False, and
    RobustBench's loader has the last word on it."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # legacy (non-zip) files cannot be memory-mapped
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:
            return False
    for candidate in (state, state.get("state_dict") if isinstance(state, dict) else None):
        if RANDOM_WEIGHTS_KEY in (getattr(candidate, "_metadata", None) or {}):
            return True
    return False


#: Where each RobustBench checkpoint's SHA-256 is recorded the first time it loads here (in the cache folder).
SEEN_CHECKPOINTS = "robustbench-sha256.json"


def note_checkpoint_sha256(name: str, path: Path) -> str:
    """Record ``path``'s SHA-256 the first time model ``name`` loads from it; warn when a later file at that path
    differs (a re-download of other weights, a damaged or replaced file): results keyed by the old file are not
    reused, and the pages' numbers change with the weights. Returns the file's SHA-256."""
    import datetime
    import os
    import warnings

    from ..paths import cache_dir

    sha = _file_sha256(str(path), path.stat().st_size, path.stat().st_mtime_ns)
    record = cache_dir() / SEEN_CHECKPOINTS
    seen = json.loads(record.read_text()) if record.exists() else {}
    where = str(path.resolve())
    first = seen.get(name, {}).get(where)
    if first is None:
        seen.setdefault(name, {})[where] = {"sha256": sha, "first_seen": datetime.date.today().isoformat()}
        tmp = record.with_suffix(".tmp")
        tmp.write_text(json.dumps(seen, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, record)
    elif first["sha256"] != sha:
        warnings.warn(f"{path} (model {name}) has SHA-256 {sha[:16]}..., not the {first['sha256'][:16]}... first seen "
                      f"here on {first['first_seen']} ({record}): other weights under the same name. Results cached "
                      "for the old file are not reused; delete its entry there once the new file is the right one",
                      RuntimeWarning, stacklevel=3)
    return sha


def checkpoint_problem(path: Path) -> str | None:
    """What is wrong with a checkpoint file that is present, in words, or None when it loads as tensors: empty,
    an HTML page (a failed Google-Drive download saves its warning page under the checkpoint's name), truncated or
    corrupt, or refused by ``torch.load(weights_only=True)`` (it holds pickled objects other than tensors)."""
    size = path.stat().st_size
    if size == 0:
        return "is empty (0 bytes): an interrupted download"
    with open(path, "rb") as f:
        head = f.read(2048).lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head[:512]:
        return ("is an HTML page, not a checkpoint: a failed download (Google Drive's quota or virus-scan page) "
                "saved under the checkpoint's name")
    try:
        torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as first:  # legacy (non-zip) files cannot be memory-mapped: try a plain load
        try:
            torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:
            text = f"{first} {err}"
            if "Weights only load failed" in text:
                return ("is refused by torch.load(weights_only=True): it holds pickled Python objects besides tensors "
                        "(loading it fully could run code, so it is not loaded). A damaged or substituted download "
                        "looks like this; if the file is RobustBench's own as released, deleting it will not help: "
                        "report it, and convert it once by hand to a plain state dict you trust")
            return (f"is truncated or corrupt ({size:,} bytes; torch.load: {type(err).__name__}: "
                    f"{str(err).splitlines()[0][:160]})")
    return None


def holds_dry_weights(model_dir: Path | None = None) -> bool:
    """Whether the RobustBench folder holds the ``paper-dry`` run's random weights (its marker file)."""
    return (Path(model_dir or robustbench_dir()) / DRY_MARKER).exists()


def _load_timm_checkpoint(name: str, ckpt: Path) -> nn.Module:
    """A RobustBench timm model (XCiT, DeiT) from its local checkpoint, as RobustBench would load it but
    offline: RobustBench calls ``timm.create_model(..., pretrained=True)``, which downloads the released file
    and loads it into the inner timm model before wrapping it with the input normalisation. Here the
    architecture is built without weights and the local file (``weights_only=True``) is loaded the same way:
    a released checkpoint holds the inner model (``state_dict``/``model`` keys or the bare dict), so it goes
    into ``model.model``; a whole wrapped model's state dict (``normalize.*``, ``model.*``) is accepted too."""
    model = robustbench_architecture(name)
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    if isinstance(state, dict):
        for key in ("state_dict", "model"):
            if isinstance(state.get(key), dict):
                state = state[key]
                break
    state = {k.removeprefix("module."): v for k, v in state.items()}
    inner = dict(model.named_children()).get("model")
    if inner is not None and not any(k.startswith(("normalize.", "model.")) for k in state):
        inner.load_state_dict(state)  # the released format: the inner timm model
    else:
        model.load_state_dict(state)
    return model


def load_robustbench(name: str, device: torch.device | str = "cpu", model_dir: Path | None = None) -> nn.Module:
    """Load a paper model with ``robustbench.utils.load_model`` (timm models: their local checkpoint);
    offline without weights, a clear error."""
    from .._compat import import_robustbench

    s = spec(name)
    if s.source != "robustbench":
        raise ValueError(f"{name!r} is not a RobustBench model")
    ckpt = robustbench_checkpoint(name, model_dir)
    files = robustbench_checkpoint_files(name, ckpt.parents[2])
    how = (f"on a machine with network, robustbench.utils.load_model('{name}', dataset='{s.dataset}', "
           f"threat_model='{s.threat_model}') downloads {'them' if len(files) > 1 else 'it'}; copy "
           f"{'the files' if len(files) > 1 else 'the file'} to {ckpt.parent}, or set {ROBUSTBENCH_ENV} to the folder "
           f"that holds {s.dataset}/{s.threat_model}/")
    import_robustbench()
    from robustbench.utils import load_model

    def refuse_damaged(what: str) -> None:  # before loading, and again after a download that failed
        damaged = [f"{file} {problem}" for file in files if file.exists() and (problem := checkpoint_problem(file))]
        if damaged:
            raise ModelUnavailableError(f"RobustBench weights for {name}: {what}" + "; ".join(damaged) + ". Delete "
                                        f"{'them' if len(damaged) > 1 else 'it'} (RobustBench never re-downloads a "
                                        f"file that exists) and download again: {how}")

    dry = holds_dry_weights(ckpt.parents[2])
    refuse_damaged("")
    for file in (f for f in files if f.exists()):
        if checkpoint_is_random(file) and not dry:
            raise ModelUnavailableError(f"{file} holds RANDOM weights (written by `python -m mspd_core.zoo.dry` for the "
                                        f"paper-dry run) in a folder of real ones: delete it and put RobustBench's "
                                        f"checkpoint there")
    absent = [f for f in files if not f.exists()]
    try:
        if name in TIMM_ARCHITECTURES and ckpt.exists():
            model = _load_timm_checkpoint(name, ckpt)
        else:
            model = load_model(model_name=name, model_dir=str(ckpt.parents[2]), dataset=s.dataset, threat_model=s.threat_model)
    except Exception as err:  # no network, a download that failed, another model's weights, ...
        try:  # the download itself may have left a damaged file (an HTML page, a partial file): name it now
            refuse_damaged("the download failed and left ")
        except ModelUnavailableError as damaged:
            raise damaged from err
        if not absent and ("state_dict" in str(err) or "size mismatch" in str(err)):
            raise ModelUnavailableError(
                f"RobustBench weights for {name} at {ckpt.parent} do not fit its architecture (another model's "
                f"weights under this name?): {' '.join(str(err).split())[:300]}. Replace them with {name}'s: {how}") from err
        where = ", ".join(str(f) for f in absent) if absent else str(ckpt)
        raise ModelUnavailableError(f"RobustBench weights for {name} are not at {where} and could not be downloaded "
                                    f"({type(err).__name__}: {str(err).splitlines()[0][:200] if str(err) else ''}). "
                                    f"{how[0].upper() + how[1:]}.") from err
    for file in (f for f in files if f.exists()):
        note_checkpoint_sha256(name, file)
    return model.to(device).eval()


@lru_cache(maxsize=256)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    return sha256_of(Path(path))


def state_sha256(model: nn.Module) -> str:
    """SHA-256 of a model's weights themselves (every state-dict entry's name, shape, dtype and bytes, in order):
    the fingerprint of weights that have no file of their own here (timm's hub cache)."""
    digest = hashlib.sha256()
    for key, value in model.state_dict().items():
        tensor = value.detach().cpu().contiguous()
        digest.update(f"{key}|{tuple(tensor.shape)}|{tensor.dtype}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def weights_fingerprint(name: str) -> str:
    """What identifies a model's weights (cache keys): the embedded manifest's SHA-256, or the SHA-256 of
    the RobustBench checkpoint file(s) (the ``paper-dry`` run's random weights never share a key with real
    ones). A RobustBench model without a local file is loaded first (RobustBench downloads it), so that a key
    computed before a download equals the key after it; weights that still have no file here (timm's hub
    cache) are fingerprinted by their tensors (:func:`state_sha256`). Never the model's name alone."""
    s = spec(name)
    if s.source == "embedded":
        entry = read_manifest().get(name)
        return entry["sha256"] if entry else f"untrained:{name}"
    files = [f for f in robustbench_checkpoint_files(name) if f.exists()]
    if not files:
        model = load_cached(name, "cpu")  # downloads, or raises ModelUnavailableError saying what is missing
        files = [f for f in robustbench_checkpoint_files(name) if f.exists()]
        if not files:
            return "state:" + state_sha256(model)
    return "+".join(_file_sha256(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)


def load(name: str, device: torch.device | str = "cpu") -> nn.Module:
    """Load any registered model by name, eval mode, on ``device``, taking images in [0, 1]."""
    s = spec(name)
    model = load_embedded(name, device) if s.source == "embedded" else load_robustbench(name, device)
    for p in model.parameters():
        p.requires_grad_(False)
    return model


@lru_cache(maxsize=None)
def _cached(name: str, device: str) -> nn.Module:
    return load(name, device)


def load_cached(name: str, device: torch.device | str = "cpu") -> nn.Module:
    """Like :func:`load`, but returns one shared instance per (name, device). Do not modify it."""
    return _cached(name, str(torch.device(device)))


def available_embedded(role: str | None = None) -> list[str]:
    """Embedded models that have a checkpoint listed in the manifest (in recipe order)."""
    manifest = read_manifest()
    return [n for n, s in EMBEDDED_MODELS.items() if n in manifest and (role is None or s.role == role)]


@dataclass(frozen=True)
class Zoo:
    """The models one experiment uses: classifier C, backbone f, targets T (never f's weights)."""

    classifier: str
    backbone: str
    targets: tuple[str, ...]
    backbones: tuple[str, ...]  # every backbone available (Table XI ablation)
    source: str

    @property
    def main_target(self) -> str:
        """The target of the paper's single-target tables (listed first)."""
        if not self.targets:
            raise ModelUnavailableError(f"the {self.source} zoo has no trained target model yet; run `make zoo`")
        return self.targets[0]

    @property
    def separation_target(self) -> str:
        """The target on which claims that compare strong defenses run (registry field ``target="separation"``):
        the embedded zoo's strongest target when it is in this zoo, else the main target (the paper's zoo)."""
        if self.source == "embedded" and EMBEDDED_SEPARATION_TARGET in self.targets:
            return EMBEDDED_SEPARATION_TARGET
        return self.main_target


#: Zoo names for users (CLI): name -> (source, input side in pixels).
NAMED_ZOOS = {"embedded-cifar10": ("embedded", 32), "robustbench-cifar10": ("robustbench", 32),
              "robustbench-cifar10-dry": ("robustbench-dry", 32), "robustbench-imagenet": ("robustbench-imagenet", 224)}


def zoo_name(source: str) -> str:
    """The user-facing name (``mspd --zoo``) of a zoo source, e.g. a profile's ``zoo`` field."""
    names = [name for name, (src, _) in NAMED_ZOOS.items() if src == source]
    if not names:
        raise ValueError(f"unknown zoo {source!r}; valid: {', '.join(src for src, _ in NAMED_ZOOS.values())}")
    return names[0]


def paper_zoo(dry: bool = False, imagenet: bool = False) -> Zoo:
    """The paper's CIFAR-10 zoo (SPEC) or its ImageNet zoo (Table IV's ImageNet rows); with ``dry``
    the ``paper-dry`` version (DRY_SUBSTITUTES). No check of the weights folder (:func:`zoo_for` does that)."""
    swap = (lambda names: tuple(DRY_SUBSTITUTES.get(n, n) for n in names)) if dry else tuple
    source = "robustbench" + ("-imagenet" if imagenet else "") + ("-dry" if dry else "")
    if imagenet:
        return Zoo(PAPER_IMAGENET_CLASSIFIER, PAPER_IMAGENET_BACKBONE, swap((PAPER_IMAGENET_TARGET,)),
                   (PAPER_IMAGENET_BACKBONE,), source)
    return Zoo(PAPER_CLASSIFIER, PAPER_BACKBONE, swap(PAPER_TARGETS), (PAPER_BACKBONE, *PAPER_ABLATION_BACKBONES), source)


def check_weights_folder(dry: bool) -> None:
    """The paper profile never runs on the dry run's random weights; the dry profile only on them."""
    if not dry and holds_dry_weights():
        raise ModelUnavailableError(
            f"{robustbench_dir()} holds the paper-dry run's RANDOM weights ({DRY_MARKER}); point "
            f"{ROBUSTBENCH_ENV} at the folder with the real RobustBench checkpoints for the paper profile")
    if dry and not holds_dry_weights():
        raise ModelUnavailableError(
            f"the paper-dry profile needs random-weight checkpoints in {robustbench_dir()} (no {DRY_MARKER} there): "
            f"write them with `python -m mspd_core.zoo.dry` (`make paper-dry` does), with {ROBUSTBENCH_ENV} "
            "naming an empty folder, never one with real weights")


def preflight(zoo: Zoo) -> list[str]:
    """Load every model of ``zoo`` once on the CPU (RobustBench downloads what it can; embedded checkpoints are
    SHA-256 verified) before any chapter runs; one message per model that cannot be loaded, each saying what is
    wrong and what to do (missing, damaged, random, another model's weights). Empty: every model loads."""
    problems = []
    for name in dict.fromkeys((zoo.classifier, zoo.backbone, *zoo.targets, *zoo.backbones)):
        try:
            load(name, "cpu")
        except (ModelUnavailableError, ValueError, KeyError) as err:
            problems.append(f"{name}: {err}")
    return problems


PAPER_SOURCES = ("robustbench", "robustbench-dry", "robustbench-imagenet", "robustbench-imagenet-dry")


def zoo_for(source: str = "embedded", n_targets: int | None = None) -> Zoo:
    """The default zoo of a source: ``embedded`` (offline, trained here), ``robustbench`` (paper),
    ``robustbench-imagenet`` (Table IV's ImageNet rows), or their ``-dry`` versions (random weights)."""
    if source == "embedded":
        trained = available_embedded("target")
        # the main target first, the separation target second (kept when a profile uses only the first targets)
        targets = tuple(sorted(trained, key=lambda t: (t != EMBEDDED_MAIN_TARGET, t != EMBEDDED_SEPARATION_TARGET)))
        missing = [n for n in (DEFAULT_BACKBONE, DEFAULT_CLASSIFIER) if n not in available_embedded()]
        if missing:
            raise ModelUnavailableError(f"the embedded zoo lacks {', '.join(missing)} (see {ZOO_DIR}); run `make zoo`")
        zoo = Zoo(DEFAULT_CLASSIFIER, DEFAULT_BACKBONE, targets, tuple(available_embedded("backbone")), "embedded")
    elif source in PAPER_SOURCES:
        dry = source.endswith("-dry")
        check_weights_folder(dry)
        zoo = paper_zoo(dry=dry, imagenet="imagenet" in source)
    else:
        raise ValueError(f"unknown zoo {source!r}; valid: embedded, {', '.join(PAPER_SOURCES)}")
    if n_targets is not None:
        zoo = Zoo(zoo.classifier, zoo.backbone, zoo.targets[:n_targets], zoo.backbones, zoo.source)
    return zoo
