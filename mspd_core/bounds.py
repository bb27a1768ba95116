"""Certified bounds by bound propagation (the ``bound-propagation`` package), for A5 and its certified training.

Interval bound propagation (IBP, Gowal et al. 2018) and CROWN (Zhang et al. 2018) bound a network over the
L-inf box {x' : |x' - x| <= eps} intersected with [0, 1]. A5 (Frosio & Kautz 2023, after auto_LiRPA) bounds
the *margins* z_y - z_j, j != y, through a specification matrix C (rows e_y - e_j) folded into the last linear
layer (Gowal et al. 2018, Sec. 3, "elision of the last layer"): the class-y *certified margin* is the lower
bound of min_j (z_y - z_j); if it is > 0, no perturbation in the box changes the prediction.

``bound-propagation`` 0.4.7 bounds fully connected graphs only. Its ``BoundModelFactory.register`` hook takes
new modules; this file registers two, both closed-form: :class:`FlatConv2d` (a convolution on flattened
vectors: IBP is conv(center) +- conv_|W|(radius), CROWN's backward step is the transposed convolution) and
:class:`MarginSpec` (the per-image specification layer). Everything else (ReLU relaxations, interval and
linear bound algebra, concretisation) is the package's.
"""
from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from torch import Tensor, nn

with warnings.catch_warnings():  # the package's @torch.jit.script decorators warn on import under torch >= 2.9
    warnings.simplefilter("ignore", FutureWarning)
    from bound_propagation import BoundModelFactory, HyperRectangle
    from bound_propagation.bounds import IntervalBounds, LinearBounds
    from bound_propagation.general import BoundModule

#: Layers a certified network may hold (the package's Linear/ReLU plus this file's convolution).
SUPPORTED_LAYERS = (nn.Linear, nn.ReLU, nn.Conv2d, nn.Flatten, nn.Sequential)
#: "ibp": interval arithmetic layer by layer; "crown-ibp": CROWN's linear back-substitution from the output with
#: IBP's intermediate bounds (Zhang et al. 2020; A5's choice, cheap on convolutions); "crown": full CROWN, whose
#: intermediate bounds back-substitute from every layer (tightest, but memory grows with the square of a
#: convolution's output size: small networks only).
METHODS = ("ibp", "crown-ibp", "crown")
#: The input shape a network without an ``input_shape`` attribute is traced with (its convolutions need one).
CIFAR10_IMAGE_SHAPE = (3, 32, 32)


class FlatConv2d(nn.Module):
    """``conv`` applied to flattened C*H*W vectors (the package's graphs are vector-valued); shares ``conv``'s
    parameters."""

    def __init__(self, conv: nn.Conv2d, in_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.conv = conv
        self.in_shape = tuple(in_shape)
        with torch.no_grad():
            probe = torch.zeros(1, *self.in_shape, dtype=conv.weight.dtype, device=conv.weight.device)
            self.out_shape = tuple(conv(probe).shape[1:])

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x.reshape(-1, *self.in_shape)).reshape(*x.shape[:-1], -1)


class BoundFlatConv2d(BoundModule):
    """IBP and CROWN through a convolution: an affine map, so both are exact transfers (no relaxation)."""

    @property
    def need_relaxation(self) -> bool:
        return False

    def _conv(self, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        c = self.module.conv
        out = F.conv2d(x.reshape(-1, *self.module.in_shape), weight, bias, c.stride, c.padding, c.dilation, c.groups)
        return out.reshape(*x.shape[:-1], -1)

    def ibp_forward(self, bounds, save_relaxation=False, save_input_bounds=False):
        """Interval arithmetic of an affine map: centre through W (with bias), radius through |W|."""
        c = self.module.conv
        mid = self._conv(bounds.center, c.weight, c.bias)
        rad = self._conv(bounds.width / 2, c.weight.abs(), None)
        return IntervalBounds(bounds.region, mid - rad, mid + rad)

    def _backward(self, coefficients: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """(A, b) -> (A W, b + A bias): A's rows pulled back through the convolution by its transpose."""
        c = self.module.conv
        a, bias_acc = coefficients
        lead, c_out = a.shape[:-1], self.module.out_shape[0]
        a_img = a.reshape(-1, *self.module.out_shape)
        if c.bias is not None:
            bias_acc = bias_acc + a_img.reshape(*lead, c_out, -1).sum(-1) @ c.bias
        in_hw = self.module.in_shape[1:]
        natural = [(o - 1) * s - 2 * p + d * (k - 1) + 1 for o, s, p, d, k in
                   zip(self.module.out_shape[1:], c.stride, c.padding, c.dilation, c.kernel_size)]
        out_pad = tuple(i - n for i, n in zip(in_hw, natural))
        a_in = F.conv_transpose2d(a_img, c.weight, None, c.stride, c.padding, out_pad, c.groups, c.dilation)
        return a_in.reshape(*lead, -1), bias_acc

    def crown_backward(self, linear_bounds, optimize):
        lower = None if linear_bounds.lower is None else self._backward(linear_bounds.lower)
        upper = None if linear_bounds.upper is None else self._backward(linear_bounds.upper)
        return LinearBounds(linear_bounds.region, lower, upper)

    def propagate_size(self, in_size):
        return math.prod(self.module.out_shape)


class MarginSpec(nn.Module):
    """The last linear layer with the specification matrix folded in: h -> C (W h + b), per image (C: (B, K-1, K))."""

    def __init__(self, last: nn.Linear, spec: Tensor) -> None:
        super().__init__()
        self.weight = spec @ last.weight  # (B, K-1, hidden)
        self.bias = spec @ last.bias if last.bias is not None else torch.zeros(spec.shape[:2], dtype=spec.dtype,
                                                                                          device=spec.device)

    def forward(self, h: Tensor) -> Tensor:
        return (self.weight @ h.unsqueeze(-1)).squeeze(-1) + self.bias


class BoundMarginSpec(BoundModule):
    """IBP and CROWN through :class:`MarginSpec` (a per-image affine map)."""

    @property
    def need_relaxation(self) -> bool:
        return False

    def ibp_forward(self, bounds, save_relaxation=False, save_input_bounds=False):
        w = self.module.weight
        mid = (w @ bounds.center.unsqueeze(-1)).squeeze(-1) + self.module.bias
        rad = (w.abs() @ (bounds.width / 2).unsqueeze(-1)).squeeze(-1)
        return IntervalBounds(bounds.region, mid - rad, mid + rad)

    def _backward(self, coefficients: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        a, bias_acc = coefficients
        return a @ self.module.weight, bias_acc + (a @ self.module.bias.unsqueeze(-1)).squeeze(-1)

    def crown_backward(self, linear_bounds, optimize):
        lower = None if linear_bounds.lower is None else self._backward(linear_bounds.lower)
        upper = None if linear_bounds.upper is None else self._backward(linear_bounds.upper)
        return LinearBounds(linear_bounds.region, lower, upper)

    def propagate_size(self, in_size):
        return self.module.weight.shape[-2]


def bound_factory() -> BoundModelFactory:
    """The package's factory with this file's two modules registered."""
    factory = BoundModelFactory()
    factory.register(FlatConv2d, BoundFlatConv2d)
    factory.register(MarginSpec, BoundMarginSpec)
    return factory


def _vector_network(net: nn.Sequential, in_shape: tuple[int, ...] | None, owner: str) -> nn.Sequential:
    """``net`` on flattened inputs: each Conv2d wrapped in :class:`FlatConv2d` (its input shape traced), each
    Flatten dropped (a C*H*W vector is already flat in NCHW order). Raises ``ValueError`` naming the first layer
    that cannot be bounded."""
    layers: list[nn.Module] = []
    shape = in_shape
    for name, layer in net.named_children():
        if isinstance(layer, nn.Conv2d):
            if shape is None or len(shape) != 3:
                raise ValueError(f"layer {name!r} of {owner}: a Conv2d needs an image-shaped input here")
            if layer.padding_mode != "zeros" or isinstance(layer.padding, str):
                raise ValueError(f"layer {name!r} of {owner}: only zero padding given as numbers is bounded here "
                                 f"(padding={layer.padding!r}, padding_mode={layer.padding_mode!r})")
            layers.append(FlatConv2d(layer, shape))
            shape = layers[-1].out_shape
        elif isinstance(layer, nn.Flatten):
            shape = (math.prod(shape),) if shape is not None else None
        elif isinstance(layer, nn.Linear):
            layers.append(layer)
            shape = (layer.out_features,)
        elif isinstance(layer, nn.ReLU):
            layers.append(layer)
        else:
            raise ValueError(
                f"bound propagation cannot bound layer {name!r} ({type(layer).__name__}) of {owner}: certified "
                "networks here hold Conv2d, ReLU, Flatten and Linear layers only (the zoo's 'a5-cnn-ibp')")
    if not layers or not isinstance(layers[-1], nn.Linear):
        raise ValueError(f"{owner}: a certified network must end in a Linear layer (the margin specification folds into it)")
    return nn.Sequential(*layers)


def bound_network(model: nn.Module) -> nn.Sequential:
    """The vector network that bounds go through, built once per model and kept on it as a plain attribute (not a
    submodule: no state_dict entry; it shares ``model``'s parameters). ``model.layers`` for the zoo's certified
    models (their forward is exactly ``layers``, on images or on flattened images), else ``model`` itself when it
    is an ``nn.Sequential``."""
    cached = model.__dict__.get("_bound_vector_network")
    if cached is not None:
        return cached
    net = getattr(model, "layers", model)
    if not isinstance(net, nn.Sequential):
        raise ValueError(f"bound propagation needs an nn.Sequential (or a model with one as .layers); got "
                         f"{type(model).__name__}")
    in_shape = getattr(model, "input_shape", CIFAR10_IMAGE_SHAPE)
    vector = _vector_network(net, in_shape, type(model).__name__)
    object.__setattr__(model, "_bound_vector_network", vector)
    return vector


def input_region(x: Tensor, eps: float) -> HyperRectangle:
    """The attacker's box around each image, flattened: |x' - x|_inf <= eps intersected with [0, 1]."""
    flat = x.flatten(1)
    return HyperRectangle((flat - eps).clamp(0.0, 1.0), (flat + eps).clamp(0.0, 1.0))


def _bounds(graph: nn.Module, region: HyperRectangle, method: str, upper: bool = True):
    if method not in METHODS:
        raise ValueError(f"unknown bound method {method!r}; known: {', '.join(METHODS)}")
    if method == "ibp":
        return graph.ibp(region)
    linear = graph.crown_ibp if method == "crown-ibp" else graph.crown
    return linear(region, bound_upper=upper).concretize()


def logit_bounds(model: nn.Module, x: Tensor, eps: float, method: str = "ibp") -> tuple[Tensor, Tensor]:
    """Lower and upper bounds of every logit of ``model`` over the box around ``x`` (no specification).

    Differentiable in ``x`` and in the weights."""
    graph = bound_factory().build(bound_network(model))
    bounds = _bounds(graph, input_region(x, eps), method)
    return bounds.lower, bounds.upper


def margin_matrix(y: Tensor, num_classes: int) -> Tensor:
    """The specification matrix C of each image: K-1 rows e_y - e_j, j != y (A5's ``c``; Gowal et al. eq. 7)."""
    eye = torch.eye(num_classes, device=y.device)
    c = eye[y].unsqueeze(1) - eye.unsqueeze(0)  # (B, K, K): row j is e_y - e_j
    keep = torch.arange(num_classes, device=y.device)[None, :] != y[:, None]
    return c[keep].view(len(y), num_classes - 1, num_classes)


def margin_bounds(model: nn.Module, x: Tensor, y: Tensor, eps: float, method: str = "ibp") -> Tensor:
    """Lower bounds of the margins z_y(x') - z_j(x'), j != y, over the box around ``x`` (shape (B, K-1)), by IBP,
    CROWN-IBP or CROWN with the specification folded into the last layer. Differentiable in ``x`` and in the weights."""
    net = bound_network(model)
    last = net[-1]
    spec = margin_matrix(y, last.out_features).to(last.weight.dtype)
    graph = bound_factory().build(nn.Sequential(*net[:-1], MarginSpec(last, spec)))
    return _bounds(graph, input_region(x, eps), method, upper=False).lower


def certified_margin(model: nn.Module, x: Tensor, y: Tensor, eps: float, method: str = "ibp") -> Tensor:
    """Lower bound of min_{j != y} (z_y(x') - z_j(x')) over the box around ``x`` (per image; > 0: certified)."""
    return margin_bounds(model, x, y, eps, method).amin(dim=1)


def verified_cross_entropy(margin_lower: Tensor, reduction: str = "mean") -> Tensor:
    """The worst-case cross-entropy of the margin bounds: CE of the logits (0, -lb_1, ..., -lb_{K-1}) for class 0
    (Gowal et al. 2018 eq. 7; A5's ``ver_ce``). Small when every margin bound is large and positive."""
    padded = torch.cat([margin_lower.new_zeros(len(margin_lower), 1), margin_lower], dim=1)
    return F.cross_entropy(-padded, margin_lower.new_zeros(len(margin_lower), dtype=torch.long), reduction=reduction)
