"""Which label the defense protects (MSPD paper, Table XII: decouple / couple / ground truth)."""
from __future__ import annotations

import torch
from torch import Tensor, nn

LABEL_SOURCES = ("decouple", "couple", "gt")


@torch.no_grad()
def predict(model: nn.Module, x: Tensor, batch_size: int = 500) -> Tensor:
    """argmax model(x), in batches."""
    return torch.cat([model(x[i:i + batch_size]).argmax(1) for i in range(0, x.shape[0], batch_size)])


def defense_labels(
    x: Tensor,
    source: str,
    backbone: nn.Module,
    classifier: nn.Module | None = None,
    y_true: Tensor | None = None,
) -> Tensor:
    """y for the defense: C(x) ("decouple", MSPD default), f(x) ("couple") or the ground truth ("gt")."""
    if source == "decouple":
        if classifier is None:
            raise ValueError("label source 'decouple' needs a classifier (or use 'couple' / 'gt')")
        return predict(classifier, x)
    if source == "couple":
        return predict(backbone, x)
    if source == "gt":
        if y_true is None:
            raise ValueError("label source 'gt' needs y_true")
        return y_true.long()
    raise ValueError(f"unknown label source {source!r}; valid: {', '.join(LABEL_SOURCES)}")
