"""Train the embedded zoo on a 2-core CPU (airbench-style: one script, one recipe table).

    python -m mspd_core.zoo.train --all            # every recipe that has no checkpoint yet
    python -m mspd_core.zoo.train bb-preact-pgd    # one model (overwrites its checkpoint)

Each run is seeded, shows a progress bar, logs time and accuracy per epoch, then measures
clean and PGD-20 (eps 8/255, step 2/255) accuracy on 1,000 held-out test images and writes
the checkpoint and its manifest entry (SHA-256, recipe, accuracies, minutes).
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from ..attacks import pgd_linf
from ..data import balanced_indices, load_cifar10_uint8, to_tensor_images
from ..paths import ZOO_DIR, ZOO_MANIFEST
from .architectures import build
from .recipes import EPS_TRAIN, RECIPES, Recipe
from .registry import sha256_of

#: Held-out images the manifest accuracies are measured on (test split, fixed seed).
ZOO_EVAL_N = 1000
ZOO_EVAL_SEED = 12345
#: The attack of the robust column, as written into the manifest (models trained before issue 35 say torchattacks).
ZOO_EVAL_ATTACK = "PGD-20 Linf eps 8/255 step 2/255 (ART)"
#: Validation images for best-epoch selection: test images outside the 1,000 above.
ZOO_VAL_N = 500
ZOO_VAL_PGD_STEPS = 10


def augment(x: Tensor, generator: torch.Generator) -> Tensor:
    """Random crop (reflect-pad 4) and horizontal flip, vectorised over the batch."""
    n, c, h, w = x.shape
    padded = F.pad(x, (4, 4, 4, 4), mode="reflect")
    dy = torch.randint(0, 9, (n,), generator=generator)
    dx = torch.randint(0, 9, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(h))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w))[:, None, None, :]
    out = padded[torch.arange(n)[:, None, None, None], torch.arange(c)[None, :, None, None], rows, cols]
    flip = torch.rand(n, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(3), out)


def fgsm_rs_examples(model: nn.Module, x: Tensor, y: Tensor, eps: float, alpha: float, generator: torch.Generator) -> Tensor:
    """FGSM with random start (Wong, Rice & Kolter 2020, "Fast is better than free")."""
    delta = (torch.rand(x.shape, generator=generator) * 2 - 1) * eps
    delta.requires_grad_(True)
    loss = F.cross_entropy(model((x + delta).clamp(0, 1)), y)
    (grad,) = torch.autograd.grad(loss, delta)
    delta = (delta.detach() + alpha * grad.sign()).clamp(-eps, eps)
    return (x + delta).clamp(0, 1)


def pgd_train_examples(model: nn.Module, x: Tensor, y: Tensor, eps: float, steps: int, generator: torch.Generator) -> Tensor:
    """PGD-k training examples (Madry et al. 2018), step 2.5 eps / k, random start."""
    alpha = 2.5 * eps / steps
    x_adv = (x + (torch.rand(x.shape, generator=generator) * 2 - 1) * eps).clamp(0, 1)
    for _ in range(steps):
        x_adv.requires_grad_(True)
        (grad,) = torch.autograd.grad(F.cross_entropy(model(x_adv), y), x_adv)
        x_adv = torch.min(torch.max(x_adv.detach() + alpha * grad.sign(), x - eps), x + eps).clamp(0, 1)
    return x_adv


def robustified_training_points(model: nn.Module, x: Tensor, y: Tensor, eps: float, steps: int) -> Tensor:
    """Bi-Level Algorithm 2, the robustification line: ``steps`` signed-gradient DESCENT steps on the
    cross-entropy of the ground-truth label inside the L-inf ball of ``x`` (step 2.5 eps / steps), the cheap
    stand-in for the robustification the paper uses during training (its Sec. 3.5)."""
    alpha = 2.5 * eps / steps
    x_r = x.clone()
    for _ in range(steps):
        x_r.requires_grad_(True)
        (grad,) = torch.autograd.grad(F.cross_entropy(model(x_r), y), x_r)
        x_r = torch.min(torch.max(x_r.detach() - alpha * grad.sign(), x - eps), x + eps).clamp(0, 1)
    return x_r


def training_inputs(recipe: Recipe, model: nn.Module, x: Tensor, y: Tensor, generator: torch.Generator) -> Tensor:
    """The images one training step fits (the loss is cross-entropy on them; "ibp" uses :func:`ibp_loss`)."""
    if recipe.training in ("standard", "ibp"):
        return x
    if recipe.training == "fgsm_rs":
        return fgsm_rs_examples(model, x, y, EPS_TRAIN, 1.25 * EPS_TRAIN, generator)
    if recipe.training == "pgd":
        return pgd_train_examples(model, x, y, EPS_TRAIN, recipe.attack_steps, generator)
    if recipe.training == "prt_fgsm_rs":
        x_r = robustified_training_points(model, x, y, EPS_TRAIN, recipe.robustify_steps)
        return fgsm_rs_examples(model, x_r, y, EPS_TRAIN, 1.25 * EPS_TRAIN, generator)
    if recipe.training == "gaussian":
        return x + recipe.noise_sigma * torch.randn(x.shape, generator=generator)
    raise ValueError(f"unknown training recipe {recipe.training!r}")


def ibp_schedule(progress: float, eps: float = EPS_TRAIN) -> tuple[float, float]:
    """IBP training's ramp (Gowal et al. 2018): the box radius grows linearly from 0 to ``eps`` and the clean
    loss weight kappa falls from 1 to 0.5 over the first half of training, then both stay."""
    ramp = min(1.0, 2.0 * progress)
    return eps * ramp, 1.0 - 0.5 * ramp


def ibp_loss(model: nn.Module, x: Tensor, y: Tensor, progress: float) -> tuple[Tensor, Tensor]:
    """kappa CE(z(x), y) + (1 - kappa) verified CE of the IBP margin bounds over the eps box (Gowal et al. 2018,
    eq. 7 with the specification layer); returns (loss, clean logits)."""
    from ..bounds import margin_bounds, verified_cross_entropy

    eps, kappa = ibp_schedule(progress)
    out = model(x)
    loss = kappa * F.cross_entropy(out, y)
    if eps > 0:
        loss = loss + (1 - kappa) * verified_cross_entropy(margin_bounds(model, x, y, eps, "ibp"))
    return loss, out


def evaluate_accuracy(model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 250, pgd_steps: int = 20) -> tuple[float, float]:
    """Clean and PGD-``pgd_steps`` (eps 8/255, step 2/255) accuracy in percent (robust 0 if no steps)."""
    model.eval()
    clean = robust = 0
    for i in range(0, len(y), batch_size):
        xb, yb = x[i:i + batch_size], y[i:i + batch_size]
        with torch.no_grad():
            clean += int((model(xb).argmax(1) == yb).sum())
        if pgd_steps == 0:
            continue
        x_adv = pgd_linf(model, xb, yb, eps=EPS_TRAIN, steps=pgd_steps, alpha=2 / 255, seed=i)
        with torch.no_grad():
            robust += int((model(x_adv).argmax(1) == yb).sum())
    return 100.0 * clean / len(y), 100.0 * robust / len(y)


def certified_accuracy(model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 250) -> dict[str, float]:
    """Percent of images whose certified margin at eps 8/255 is > 0, by IBP and by CROWN-IBP (bound-propagation;
    full CROWN's intermediate bounds through a convolution do not fit in memory at CIFAR-10 size)."""
    from ..bounds import certified_margin

    out = {}
    for method in ("ibp", "crown-ibp"):
        with torch.no_grad():
            ok = sum(int((certified_margin(model, x[i:i + batch_size], y[i:i + batch_size], EPS_TRAIN, method) > 0).sum())
                     for i in range(0, len(y), batch_size))
        out[method] = round(100.0 * ok / len(y), 2)
    return out


def zoo_eval_set() -> tuple[Tensor, Tensor]:
    """The 1,000 held-out test images every manifest accuracy is measured on."""
    images, labels, _ = load_cifar10_uint8("test")
    idx = balanced_indices(labels, ZOO_EVAL_N, ZOO_EVAL_SEED)
    return to_tensor_images(images[idx]), torch.from_numpy(labels[idx])


def zoo_validation_set() -> tuple[Tensor, Tensor]:
    """500 class-balanced test images disjoint from :func:`zoo_eval_set` (epoch selection only)."""
    images, labels, _ = load_cifar10_uint8("test")
    rest = np.setdiff1d(np.arange(len(labels)), balanced_indices(labels, ZOO_EVAL_N, ZOO_EVAL_SEED))
    idx = rest[balanced_indices(labels[rest], ZOO_VAL_N, ZOO_EVAL_SEED + 1)]
    return to_tensor_images(images[idx]), torch.from_numpy(labels[idx])


def fast_bf16(device: torch.device) -> bool:
    """Whether bfloat16 is fast here: CUDA with bf16 support, or a CPU with AMX-BF16 (``amx_bf16`` in
    /proc/cpuinfo). Elsewhere (e.g. AMD EPYC with only AVX512-BF16) bf16 autocast is emulated or
    barely faster, so training falls back to fp32."""
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and " amx_bf16" in line for line in f)
    except OSError:
        return False


def training_precision(recipe: Recipe, device: torch.device) -> contextlib.AbstractContextManager:
    """bfloat16 autocast for ``precision="bf16"`` recipes where bf16 is fast (:func:`fast_bf16`), else fp32."""
    if recipe.precision == "fp32":
        return contextlib.nullcontext()
    if recipe.precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16) if fast_bf16(device) else contextlib.nullcontext()
    raise ValueError(f"unknown precision {recipe.precision!r}; known: fp32, bf16")


def validation_metric(recipe: Recipe) -> str:
    """What selects the best epoch: PGD-10 accuracy for adversarial recipes, clean accuracy otherwise."""
    return "clean" if recipe.training == "standard" else f"PGD-{ZOO_VAL_PGD_STEPS}"


def validation_score(recipe: Recipe, model: nn.Module, x: Tensor, y: Tensor) -> float:
    """The :func:`validation_metric` of ``model`` on the validation images, in percent."""
    robust_metric = validation_metric(recipe) != "clean"
    clean, robust = evaluate_accuracy(model, x, y, pgd_steps=ZOO_VAL_PGD_STEPS if robust_metric else 0)
    return robust if robust_metric else clean


def _update_manifest(name: str, entry: dict) -> None:
    manifest = json.loads(ZOO_MANIFEST.read_text()) if ZOO_MANIFEST.exists() else {}
    manifest[name] = entry
    tmp = ZOO_MANIFEST.with_suffix(".tmp")
    tmp.write_text(json.dumps(dict(sorted(manifest.items())), indent=2) + "\n")
    os.replace(tmp, ZOO_MANIFEST)


def train(recipe: Recipe, log=print) -> dict:
    """Train one recipe, write its checkpoint and manifest entry, return the entry."""
    torch.manual_seed(recipe.seed)
    gen = torch.Generator().manual_seed(recipe.seed)
    images, labels, source = load_cifar10_uint8("train")
    if recipe.train_subset:
        keep = balanced_indices(labels, recipe.train_subset, recipe.seed)
        images, labels = images[keep], labels[keep]
    x_all, y_all = to_tensor_images(images), torch.from_numpy(labels)
    model = build(recipe.arch, **recipe.arch_kwargs)
    steps_per_epoch = math.ceil(len(y_all) / recipe.batch_size)
    total = recipe.epochs * steps_per_epoch
    if recipe.optimizer == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=0.9, nesterov=True, weight_decay=recipe.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe.lr, total_steps=total, pct_start=0.25)
    x_val, y_val = zoo_validation_set()
    device = torch.device("cpu")
    channels_last = recipe.training != "ibp"  # bound propagation flattens images: keep them contiguous
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    best = (-1.0, 0, None)  # (validation score, epoch, state)
    start = time.time()
    for epoch in range(recipe.epochs):
        model.train()
        perm = torch.randperm(len(y_all), generator=gen)
        seen = correct = 0
        loss_sum = 0.0
        bar = tqdm(range(steps_per_epoch), desc=f"{recipe.name} {epoch + 1}/{recipe.epochs}", leave=False, mininterval=5)
        for step in bar:
            idx = perm[step * recipe.batch_size:(step + 1) * recipe.batch_size]
            xb = augment(x_all[idx], gen)
            if channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            yb = y_all[idx]
            with training_precision(recipe, device):
                if recipe.training == "ibp":
                    loss, out = ibp_loss(model, xb, yb, (epoch * steps_per_epoch + step) / total)
                else:
                    x_in = training_inputs(recipe, model, xb, yb, gen)
                    out = model(x_in)
                    loss = F.cross_entropy(out.float(), yb, label_smoothing=recipe.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            seen += len(yb)
            correct += int((out.argmax(1) == yb).sum())
            loss_sum += float(loss.detach()) * len(yb)
        model.eval()
        score = validation_score(recipe, model, x_val, y_val) if recipe.select_best_epoch else float("nan")
        if not recipe.select_best_epoch or score > best[0]:
            best = (score, epoch + 1, copy.deepcopy(model.state_dict()))
        log(f"[{recipe.name}] epoch {epoch + 1}/{recipe.epochs}  loss {loss_sum / seen:.3f}  "
            f"train-acc {100 * correct / seen:.1f}%  validation {score:.1f}%  {(time.time() - start) / 60:.1f} min")
    minutes = (time.time() - start) / 60
    model.load_state_dict(best[2])
    return record(recipe, model, minutes, best[1], best[0], source, log)


def record(recipe: Recipe, model: nn.Module, minutes: float, selected_epoch: int, validation: float, source: str,
           log=print) -> dict:
    """Measure a trained model on the zoo's eval images, save its checkpoint, write its manifest entry and the zoo
    card; return the entry."""
    x_eval, y_eval = zoo_eval_set()
    model = model.to(memory_format=torch.contiguous_format).eval()
    clean, robust = evaluate_accuracy(model, x_eval, y_eval)
    log(f"[{recipe.name}] done in {minutes:.1f} min: clean {clean:.1f}%  PGD-20 {robust:.1f}% (n={ZOO_EVAL_N})")
    ZOO_DIR.mkdir(parents=True, exist_ok=True)
    path = ZOO_DIR / f"{recipe.name}.pt"
    tmp = path.with_suffix(".pt.tmp")
    torch.save({k: v.contiguous() for k, v in model.state_dict().items()}, tmp)
    os.replace(tmp, path)
    entry = {
        "file": path.name,
        "sha256": sha256_of(path),
        "role": recipe.role,
        "arch": recipe.arch,
        "arch_kwargs": recipe.arch_kwargs,
        "params": sum(p.numel() for p in model.parameters()),
        "recipe": {k: v for k, v in dataclasses.asdict(recipe).items() if k not in ("name", "role", "arch", "arch_kwargs", "description")},
        "description": recipe.description,
        "train_minutes": round(minutes, 2),
        "selected_epoch": selected_epoch,
        "validation": ({"n": ZOO_VAL_N, "split": "test, disjoint from eval", "metric": validation_metric(recipe),
                        "accuracy": round(validation, 2)} if recipe.select_best_epoch else None),
        "train_data": source,
        "eval": {"n": ZOO_EVAL_N, "seed": ZOO_EVAL_SEED, "split": "test", "attack": ZOO_EVAL_ATTACK,
                 "clean_acc": round(clean, 2), "pgd20_acc": round(robust, 2)},
        "torch": torch.__version__,
    }
    if recipe.training == "ibp":
        entry["eval"]["certified_acc"] = certified_accuracy(model, x_eval, y_eval)
        log(f"[{recipe.name}] certified accuracy at 8/255: {entry['eval']['certified_acc']}")
    _update_manifest(recipe.name, entry)
    from .card import write as write_card

    write_card()
    return entry


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help=f"recipes to train; known: {', '.join(RECIPES)}")
    parser.add_argument("--all", action="store_true", help="train every recipe without a checkpoint")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    unknown = [n for n in args.names if n not in RECIPES]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; known: {', '.join(RECIPES)}")
    names = list(args.names) or ([n for n in RECIPES if not (ZOO_DIR / f"{n}.pt").exists()] if args.all else [])
    if not names:
        parser.error("name a model or pass --all")
    for name in names:
        train(RECIPES[name], log=lambda s: print(s, flush=True))


if __name__ == "__main__":
    main()
