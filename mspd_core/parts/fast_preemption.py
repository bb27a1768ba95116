"""The Fast Preemption paper's part (Part III): its defense and A5 as configurations, its labellers, backbones and
victims (what all parts share is in :mod:`mspd_core.experiments`)."""
from __future__ import annotations

import pandas as pd

from ..evaluate import Defense
from ..experiments import Setup
from ..zoo.recipes import A5_CERTIFIED_MODEL
from ..zoo.registry import Zoo, load_cached


def with_classifier(zoo: Zoo, classifier: str) -> Zoo:
    """The zoo with another clean classifier C (the labeller; Fast Preemption's Table 5). Any model of the zoo's
    source can label; unknown names list the valid ones."""
    valid = list(dict.fromkeys((zoo.classifier,) + zoo.targets + zoo.backbones))
    if classifier not in valid:
        raise ValueError(f"unknown classifier {classifier!r}; valid models of the {zoo.source} zoo: {', '.join(valid)}")
    return Zoo(classifier, zoo.backbone, zoo.targets, zoo.backbones, zoo.source)


def transfer_victims(zoo: Zoo) -> list[str]:
    """Fast Preemption Table 6's two unseen victims: the main target and one of another kind (an attention model
    where the zoo has one, as the paper's XCiT-L12 is beside its convolutional victim; else the separation target,
    else the second target)."""
    from ..zoo import spec

    others = [t for t in zoo.targets if t != zoo.main_target]
    if not others:
        raise ValueError(f"the {zoo.source} zoo has one target; Table 6 needs two victims")
    attention = [t for t in others if any(k in spec(t).arch.lower() for k in ("vit", "xcit", "swin", "deit"))]
    second = attention[0] if attention else (zoo.separation_target if zoo.separation_target in others else others[0])
    return [zoo.main_target, second]


def backbone_robustness(zoo: Zoo, measured: pd.Series) -> tuple[pd.Series, str]:
    """Each backbone's own robust accuracy, to name the most and least robust (Fast Preemption Table 6): the
    embedded zoo manifest's PGD-20 accuracy (1,000 held-out images, measured when the model was trained, so the
    choice does not use the page's outcomes) where every backbone has one, else ``measured`` (the page's own
    PGD accuracy of each backbone on the original images). Returns the series and a sentence saying which."""
    from ..zoo.registry import read_manifest

    listed = read_manifest()
    known = {b: listed[b]["eval"]["pgd20_acc"] for b in zoo.backbones if "pgd20_acc" in listed.get(b, {}).get("eval", {})}
    if len(known) == len(zoo.backbones):
        return pd.Series(known), "PGD-20 accuracy in the zoo manifest (1,000 held-out images, measured at training time)"
    return measured.loc[list(zoo.backbones)], "PGD accuracy of each backbone itself on this page's original images"


def fast_preemption(name: str = "Fast Preemption", labels: str = "decouple", backbone: str | None = None, **params) -> Defense:
    """Fast Preemption with its paper's defaults unless overridden (forward_steps, backward_steps, n_samples, eta, ...),
    via the zoo's backbone or ``backbone``."""
    return Defense(name, "fast_preemption", params, labels=labels, backbone=backbone)


def a5(name: str = "A5", labels: str = "decouple", **params) -> Defense:
    """A5 (Frosio & Kautz 2023) through the zoo's certified model (:data:`~mspd_core.zoo.recipes.A5_CERTIFIED_MODEL`),
    with the labels every other preemptive defense of the table gets (the clean classifier's)."""
    return Defense(name, "a5", params, labels=labels, backbone=A5_CERTIFIED_MODEL)


def a5_certificates(setup: Setup, defense: Defense) -> pd.DataFrame:
    """What A5 optimises, measured: the IBP-certified margin of the true class over the eps-ball on A5's certified
    model, for the original images and for ``defense``'s releases (mean, and the share with margin > 0)."""
    import torch

    from ..bounds import certified_margin

    model = load_cached(defense.backbone or A5_CERTIFIED_MODEL, setup.session.device)
    y = setup.data.y.to(setup.session.device)
    rows = {}
    for name, x in (("originals", setup.data.x), (f"{defense.name} releases", setup.released(defense)["x_eval"])):
        with torch.no_grad():
            margin = certified_margin(model, x.to(setup.session.device), y, setup.eps).cpu()
        rows[name] = {"mean certified margin": round(float(margin.mean()), 3),
                      "certified (%)": round(100 * float((margin > 0).float().mean()), 1), "n": len(margin)}
    return pd.DataFrame(rows).T.astype({"n": int})


def least_accurate_model(zoo: Zoo, exclude: tuple[str, ...] = ()) -> str:
    """The zoo's least accurate model by its manifest clean accuracy (classifier, targets, backbones; ``exclude`` left
    out): Table 2's evaluation protocol "selects a poor classifier" as labeller. Falls back to the zoo's backbone where
    the zoo has no manifest accuracies (RobustBench)."""
    from ..zoo.registry import read_manifest

    listed = read_manifest()
    pool = [m for m in dict.fromkeys((zoo.classifier,) + zoo.targets + zoo.backbones) if m not in exclude]
    known = {m: listed[m]["eval"]["clean_acc"] for m in pool if "clean_acc" in listed.get(m, {}).get("eval", {})}
    return min(known, key=known.get) if known else zoo.backbone
