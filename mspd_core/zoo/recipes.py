"""The embedded zoo, as training recipes: the ONE place that names each embedded model.

Each entry says the model's role, architecture, training recipe and seed. ``train.py``
turns a recipe into a checkpoint; ``registry.py`` reads the manifest those runs wrote.
Budgets are for a 2-core CPU (SPEC: "Measured here").
"""
from __future__ import annotations

from dataclasses import dataclass, field

EPS_TRAIN = 8 / 255


@dataclass(frozen=True)
class Recipe:
    name: str
    #: "classifier" | "backbone" | "target" (the zoo's targets: every multi-target table) |
    #: "preemptive" / "smoothed" / "certified" (the Bi-Level part's and A5's own models; no table iterates them)
    role: str
    arch: str
    arch_kwargs: dict = field(default_factory=dict)
    training: str = "standard"  # "standard" | "fgsm_rs" | "pgd" | "prt_fgsm_rs" | "gaussian" | "ibp"
    epochs: int = 10
    lr: float = 0.2
    batch_size: int = 256
    weight_decay: float = 5e-4
    label_smoothing: float = 0.0
    attack_steps: int = 1  # PGD steps in "pgd" training
    seed: int = 0
    #: "prt_fgsm_rs" (Bi-Level Algorithm 2): descent steps that robustify each training image before the attack.
    robustify_steps: int = 0
    #: "gaussian" (Cohen et al. 2019): std of the Gaussian noise added to every training image.
    noise_sigma: float = 0.0
    train_subset: int | None = None  # use only this many training images (class-balanced)
    optimizer: str = "sgd"  # "sgd" | "adamw"
    #: "bf16": bfloat16 autocast + channels-last during training only (AMX/AVX-512 CPUs and CUDA;
    #: 2.5-5x faster here); weights stay float32 and every accuracy is measured in float32.
    precision: str = "fp32"  # "fp32" | "bf16"
    #: Keep the epoch with the best validation accuracy (PGD-10 for adversarial recipes,
    #: clean otherwise) on 500 test images disjoint from the 1,000 the manifest reports
    #: (early stopping against robust/catastrophic overfitting, Rice et al. 2020).
    select_best_epoch: bool = True
    description: str = ""


RECIPES: dict[str, Recipe] = {r.name: r for r in [
    # Ordered by importance: `train --all` trains them in this order.
    Recipe("bb-preact-fgsm", "backbone", "mini_preact_resnet", {"width": 32}, "fgsm_rs", epochs=20, lr=0.2, seed=0,
           precision="bf16",
           description="default backbone f: small PreActResNet, FGSM-RS adversarial training (Wong et al. 2020)"),
    Recipe("bb-preact-pgd", "backbone", "mini_preact_resnet", {"width": 24}, "pgd", epochs=16, lr=0.2, attack_steps=2,
           seed=0, precision="bf16",
           description="robust backbone, PGD-2 adversarial training (Madry et al. 2018); width 24, "
           "narrower than the default (same per-pass cost on this CPU)"),
    Recipe("clf-airnet", "classifier", "airnet", {}, "standard", epochs=16, lr=0.2, label_smoothing=0.2, seed=0,
           precision="bf16", description="clean classifier C (labels released images); standard training"),
    Recipe("tg-preact-fgsm-s1", "target", "mini_preact_resnet", {"width": 32}, "fgsm_rs", epochs=10, lr=0.2, seed=1,
           precision="bf16", description="target with the backbone's architecture and training method, a different seed "
           "and a shorter schedule (the paper's gray-box case: same architecture, other weights)"),
    Recipe("tg-cnn-std", "target", "plain_cnn", {"width": 24}, "standard", epochs=4, lr=0.1, seed=5, train_subset=25000,
           select_best_epoch=False, description="non-robust target (standard training)"),
    Recipe("tg-cnn-fgsm", "target", "plain_cnn", {"width": 24}, "fgsm_rs", epochs=10, lr=0.1, seed=2, precision="bf16",
           description="plain conv-net target, FGSM-RS adversarial training"),
    Recipe("bb-preact-std", "backbone", "mini_preact_resnet", {"width": 16}, "standard", epochs=4, lr=0.2, seed=0,
           select_best_epoch=False, description="non-robust backbone (backbone ablation, Table XI)"),
    Recipe("tg-vit-fgsm", "target", "tiny_vit", {"dim": 64, "depth": 3, "heads": 4}, "fgsm_rs", epochs=16,
           lr=1e-3, weight_decay=0.05, optimizer="adamw", seed=4,
           description="attention target: a small Vision Transformer, FGSM-RS adversarial training"),
    Recipe("tg-cnn-pgd", "target", "plain_cnn", {"width": 24}, "pgd", epochs=8, lr=0.1, attack_steps=2, seed=3,
           precision="bf16", description="plain conv-net target, PGD-2 adversarial training (Madry et al. 2018)"),
    Recipe("bb-preact-wide-fgsm", "backbone", "mini_preact_resnet", {"width": 48}, "fgsm_rs", epochs=8, lr=0.2, seed=0,
           precision="bf16", description="larger robust backbone (backbone ablation, Table XI)"),
    # Bi-Level paper (issue 25): preemptively robust training next to its ADV baseline (tg-cnn-fgsm: same
    # architecture, seed, schedule and early stopping; only the robustification steps differ).
    Recipe("bl-cnn-prt", "preemptive", "plain_cnn", {"width": 24}, "prt_fgsm_rs", epochs=10, lr=0.1, seed=2,
           robustify_steps=2, select_best_epoch=False, description="preemptively robust training (Bi-Level Algorithm 2): each training image is "
           "robustified by 2 descent steps inside the 8/255 ball (ground-truth label), then FGSM-RS around that point; "
           "otherwise tg-cnn-fgsm's recipe (the paper's ADV baseline here); the last epoch is kept, as the paper does "
           "(early stopping on the originals' PGD accuracy would judge it by what it does not optimise)"),
    Recipe("sm-cnn-gauss10", "smoothed", "plain_cnn", {"width": 24}, "gaussian", epochs=6, lr=0.1, seed=7,
           noise_sigma=0.10, select_best_epoch=False,
           description="base classifier of a smoothed classifier (Cohen et al. 2019): Gaussian noise augmentation, "
           "sigma 0.10 (Bi-Level Tables 5-6, empirical robustness)"),
    Recipe("sm-cnn-gauss25", "smoothed", "plain_cnn", {"width": 24}, "gaussian", epochs=6, lr=0.1, seed=8,
           noise_sigma=0.25, select_best_epoch=False,
           description="base classifier of a smoothed classifier (Cohen et al. 2019): Gaussian noise augmentation, "
           "sigma 0.25 (Bi-Level Table 7, certified accuracy)"),
    # A5 (issue 34): a certifiably trained convolutional classifier, bounded by IBP / CROWN with the margin
    # specification (mspd_core.bounds registers Conv2d with bound-propagation).
    Recipe("a5-cnn-ibp", "certified", "certified_cnn", {"channels": [16, 32], "hidden": 100}, "ibp", epochs=40, lr=1e-3,
           weight_decay=0.0, optimizer="adamw", batch_size=128, seed=9, select_best_epoch=False,
           description="A5's certified classifier: a small strided CNN trained with interval bound propagation on the "
           "margin specification (Gowal et al. 2018; eps ramped 0 -> 8/255 over the first half, loss weight kappa "
           "1 -> 0.5)"),
    Recipe("tg-airnet-fgsm", "target", "airnet", {}, "fgsm_rs", epochs=8, lr=0.2, seed=6,
           description="stronger target for separability (issue 22): the airbench-style clean classifier's "
           "architecture, FGSM-RS adversarial training, early stopping on PGD-10"),
]}

#: Roles a default experiment uses (registry resolves these names).
DEFAULT_CLASSIFIER = "clf-airnet"
DEFAULT_BACKBONE = "bb-preact-fgsm"
#: The main target of single-target tables: robust, and of another family than the backbone.
EMBEDDED_MAIN_TARGET = "tg-cnn-fgsm"
#: The Bi-Level paper's part (issue 25): its ADV baseline (adversarial training with early stopping), the
#: preemptively robust model of the same recipe, and the Gaussian-noise models of its smoothed classifiers.
BILEVEL_ADV_MODEL = "tg-cnn-fgsm"
BILEVEL_PRT_MODEL = "bl-cnn-prt"
SMOOTHED_EMPIRICAL_MODEL = "sm-cnn-gauss10"  # sigma 0.10: Table 5
SMOOTHED_CERTIFIED_MODEL = "sm-cnn-gauss25"  # sigma 0.25: Table 7
#: A5's certified classifier (a Conv2d/ReLU/Linear network bound propagation bounds through mspd_core.bounds).
A5_CERTIFIED_MODEL = "a5-cnn-ibp"
#: The strongest embedded target: the claims comparing MSPD with Bi-Level run on it (issue 22: on the weak main
#: target both defenses reach the same robust set, so no n could separate them).
EMBEDDED_SEPARATION_TARGET = "tg-airnet-fgsm"
