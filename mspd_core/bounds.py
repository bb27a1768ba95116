"""Certified bounds by bound propagation (the ``bound-propagation`` package), for A5 and IBP training.

Interval bound propagation (IBP, Gowal et al. 2018) and CROWN (Zhang et al. 2018) bound every logit
of a Linear/ReLU network over the L-inf box {x' : |x' - x| <= eps} intersected with [0, 1]. The
*certified margin* of class y is the lower bound of min_{j != y} (z_y - z_j) that these give: if it is
> 0, no perturbation in the box changes the prediction. Both are computed by the package, never by hand.
"""
from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn

with warnings.catch_warnings():  # the package's @torch.jit.script decorators warn on import under torch >= 2.9
    warnings.simplefilter("ignore", FutureWarning)
    from bound_propagation import BoundModelFactory, HyperRectangle

#: Layer types the package bounds (its factory's mapping; the ones an MLP of the zoo uses).
SUPPORTED_LAYERS = (nn.Linear, nn.ReLU, nn.Sequential)
METHODS = ("ibp", "crown")


def bound_network(model: nn.Module) -> nn.Module:
    """The Linear/ReLU network that bounds are computed through: ``model.layers`` for the zoo's MLP (its forward
    is exactly flatten-then-``layers``), or ``model`` itself when it is an ``nn.Sequential``. Anything else raises a
    ``ValueError`` naming the first layer the package cannot bound (e.g. a Conv2d: it bounds fully connected
    networks only)."""
    from .zoo.architectures import MLP

    net = model.layers if isinstance(model, MLP) else model
    for name, layer in net.named_modules():
        if not isinstance(layer, SUPPORTED_LAYERS):
            raise ValueError(
                f"bound-propagation cannot bound layer {name!r} ({type(layer).__name__}) of {type(model).__name__}: it "
                "handles Linear/ReLU networks only (the zoo's MLP 'a5-mlp-ibp'); convolutional models have no certified "
                "bound here")
    if not isinstance(net, nn.Sequential):
        raise ValueError(f"bound propagation needs an nn.Sequential of Linear/ReLU layers; got {type(net).__name__}")
    return net


def _bound_model(net: nn.Module) -> nn.Module:
    """The package's bound graph for ``net``, built once and kept on the network as a plain attribute (not a
    submodule: no state_dict entry; it shares ``net``'s parameters and is freed with it)."""
    bound = net.__dict__.get("_bound_propagation_graph")
    if bound is None:
        bound = BoundModelFactory().build(net)
        object.__setattr__(net, "_bound_propagation_graph", bound)
    return bound


def logit_bounds(model: nn.Module, x: Tensor, eps: float, method: str = "ibp") -> tuple[Tensor, Tensor]:
    """Lower and upper bounds of every logit of ``model`` over the box |x' - x|_inf <= eps, x' in [0, 1].

    ``method``: "ibp" (interval bound propagation) or "crown" (linear relaxation, tighter, slower).
    Differentiable in ``x`` (A5 ascends the certified margin) and in the weights (IBP training)."""
    if method not in METHODS:
        raise ValueError(f"unknown bound method {method!r}; known: {', '.join(METHODS)}")
    net = bound_network(model)
    flat = x.flatten(1)
    region = HyperRectangle((flat - eps).clamp(0.0, 1.0), (flat + eps).clamp(0.0, 1.0))
    bounded = _bound_model(net)
    bounds = bounded.ibp(region) if method == "ibp" else bounded.crown(region).concretize()
    return bounds.lower, bounds.upper


def worst_case_logits(lower: Tensor, upper: Tensor, y: Tensor) -> Tensor:
    """The IBP training logits: the true class at its lower bound, every other class at its upper bound
    (cross-entropy on these bounds the worst-case loss over the box; Gowal et al. 2018, eq. 7 without
    the specification layer)."""
    true = torch.nn.functional.one_hot(y, lower.shape[1]).bool()
    return torch.where(true, lower, upper)


def certified_margin(model: nn.Module, x: Tensor, y: Tensor, eps: float, method: str = "ibp") -> Tensor:
    """Lower bound of min_{j != y} (z_y(x') - z_j(x')) over the box around ``x`` (per image; > 0: certified).

    From logit intervals: lower_y - max_{j != y} upper_j (valid for any method; looser than bounding the
    differences directly)."""
    lower, upper = logit_bounds(model, x, eps, method)
    true = torch.nn.functional.one_hot(y, lower.shape[1]).bool()
    others = upper.masked_fill(true, float("-inf")).amax(dim=1)
    return lower.gather(1, y[:, None]).squeeze(1) - others
