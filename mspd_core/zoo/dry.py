"""Random-weight checkpoints for the ``paper-dry`` profile, in RobustBench's own layout.

The ``paper`` profile loads the paper's RobustBench models with ``robustbench.utils.load_model``
from ``$MSPD_ROBUSTBENCH_DIR/<dataset>/<threat_model>/<name>.pt``. Offline those weights cannot be
downloaded, so nothing under ``paper`` could ever be checked here. This module builds every
RobustBench architecture the ``robustbench-dry`` zoo names (the paper's zoo with
``registry.DRY_SUBSTITUTES`` for the models a 2-core CPU cannot afford) with **random** weights and
saves them where RobustBench looks, so that every chapter runs through the real ``paper`` code path:
RobustBench's loader, its state-dict handling (ensembles included), the model names, shapes and
the tables built from them. The numbers such a run prints measure nothing and the pages say so.

Safety: the folder gets a marker file (``registry.DRY_MARKER``); this module refuses to write into a
folder that holds checkpoints without it (someone's real weights), never overwrites a file, and
the ``paper`` profile refuses a folder with the marker. Cache keys carry each checkpoint's
SHA-256, so random-weight results are never served for real weights.

    python -m mspd_core.zoo.dry                   # into $MSPD_ROBUSTBENCH_DIR (or the cache's robustbench/)
    python -m mspd_core.zoo.dry --dir /tmp/rb-dry --imagenet-folder /tmp/imagenet-dry
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..paths import robustbench_dir
from .registry import (DRY_MARKER, mark_random, DRY_SUBSTITUTES, TIMM_ARCHITECTURES, holds_dry_weights, paper_zoo,
                       robustbench_architecture, robustbench_checkpoint_files, spec)


class RealWeightsError(RuntimeError):
    """The folder holds checkpoints that this module did not write (possibly real weights)."""


def dry_models() -> list[str]:
    """The models the ``paper-dry`` run loads: classifier, every backbone, every (substituted) target,
    of the CIFAR-10 zoo and of the ImageNet zoo (Table IV's ImageNet rows)."""
    zoos = [paper_zoo(dry=True), paper_zoo(dry=True, imagenet=True)]
    return list(dict.fromkeys(n for z in zoos for n in (z.classifier, *z.backbones, *z.targets)))


def substitution_notes() -> list[str]:
    """One line per paper model the dry run replaces, naming both (what the pages and README say)."""
    return [f"{paper} ({spec(paper).arch}) -> {dry} ({spec(dry).arch})" for paper, dry in DRY_SUBSTITUTES.items()]


def random_state_dicts(name: str, seed: int = 0) -> list[dict[str, torch.Tensor]]:
    """The state dict(s) RobustBench's loader expects for ``name``, from the architecture's own random
    initialisation: one per file (an ensemble such as Chen2020Adversarial has one per member). RobustBench
    wraps most ImageNet models, and its timm models (XCiT, DeiT), as ``Sequential(normalize, model)``, and
    their released checkpoints hold the inner model only (the loader adds the ``model.`` prefix; timm loads
    the file into the inner model), so those are saved the same way."""
    torch.manual_seed(seed)
    model = robustbench_architecture(name)
    files = robustbench_checkpoint_files(name, Path("."))
    if len(files) > 1:  # robustbench loads file i into model.models[i]
        return [member.state_dict() for member in model.models]
    children = dict(model.named_children())
    if set(children) == {"normalize", "model"} and (spec(name).dataset == "imagenet" or name in TIMM_ARCHITECTURES):
        return [children["model"].state_dict()]  # released checkpoints hold the inner model
    return [model.state_dict()]


#: The first two ImageNet classes (tench, goldfish): with two class folders, ImageFolder's labels 0
#: and 1 are the models' classes 0 and 1.
SYNTHETIC_WNIDS = ("n01440764", "n01443537")


def write_synthetic_imagefolder(root: Path, per_class: int = 1, seed: int = 0) -> list[Path]:
    """Random-noise JPEGs in ImageFolder layout (``root/<wnid>/<i>.JPEG``), standing in for ImageNet in the
    dry run only (no ImageNet here); existing files are kept. Returns the files written."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    written = []
    for wnid in SYNTHETIC_WNIDS:
        for i in range(per_class):
            path = Path(root) / wnid / f"synthetic_{i}.JPEG"
            if path.exists():
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)).save(path, quality=90)
            written.append(path)
    return written


def check_folder(model_dir: Path) -> None:
    """Refuse a folder that holds ``.pt`` files but no dry-run marker: those may be real weights."""
    if holds_dry_weights(model_dir):
        return
    found = sorted(model_dir.rglob("*.pt"))[:3] if model_dir.exists() else []
    if found:
        raise RealWeightsError(
            f"{model_dir} holds checkpoints that the dry run did not write ({', '.join(str(f) for f in found)}); "
            "they may be real RobustBench weights. Point MSPD_ROBUSTBENCH_DIR (or --dir) at an empty folder "
            "for the random-weight dry run.")


def write_random_checkpoints(model_dir: Path | None = None, names: list[str] | None = None, seed: int = 0,
                             progress: bool = True) -> list[Path]:
    """Write random-weight checkpoints for ``names`` (default: :func:`dry_models`) under ``model_dir``
    (default ``$MSPD_ROBUSTBENCH_DIR``) in RobustBench's layout. Existing files are kept (never
    overwritten); returns the files written."""
    model_dir = Path(model_dir or robustbench_dir())
    check_folder(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / DRY_MARKER).write_text(
        "The checkpoints in this folder have RANDOM weights, written by `python -m mspd_core.zoo.dry` for the\n"
        "paper-dry profile. They are not the RobustBench models and measure nothing.\n")
    written = []
    for name in tqdm(names or dry_models(), desc="random checkpoints", disable=not progress):
        files = robustbench_checkpoint_files(name, model_dir)
        if all(f.exists() for f in files):
            continue
        for path, state in zip(files, random_state_dicts(name, seed)):
            if path.exists():
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".part")
            torch.save(mark_random(state), tmp)  # the mark travels with the file
            tmp.rename(path)
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=None, help="RobustBench model_dir (default: $MSPD_ROBUSTBENCH_DIR)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--imagenet-folder", type=Path, default=None,
                        help="also write a synthetic (random-noise) ImageFolder here for Table IV's ImageNet rows")
    args = parser.parse_args(argv)
    from ..paths import absolutize_user_paths

    absolutize_user_paths()
    target = args.dir or robustbench_dir()
    try:
        written = write_random_checkpoints(target, seed=args.seed)
    except RealWeightsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"[dry] {len(written)} random checkpoint file(s) written under {target} "
          f"({len(dry_models())} models; timm models: {', '.join(n for n in dry_models() if n in TIMM_ARCHITECTURES)})")
    for line in substitution_notes():
        print(f"[dry] stand-in: {line}")
    if args.imagenet_folder:
        images = write_synthetic_imagefolder(args.imagenet_folder, seed=args.seed)
        print(f"[dry] {len(images)} random-noise image(s) written under {args.imagenet_folder} (ImageNet stand-in)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
