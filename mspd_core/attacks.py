"""Attacks as thin adapters over the field's libraries: one signature
``attack(model, x, y, eps, *, seed, ...) -> x_adv``.

The attack budget is measured around the image it is given (the released image x_p), as
in the paper (SPEC, "The preemptive setting"). AutoAttack comes from the official
``pyautoattack`` (Square too); PGD (L-inf, L2) and EOT-PGD from the Adversarial Robustness Toolbox (ART). CW-L-inf (PGD on the
Carlini-Wagner margin loss) is written here because neither library has an L-inf version.
"""
from __future__ import annotations

import contextlib
import logging
from contextlib import contextmanager
from typing import Callable, Iterator

import numpy as np
import torch
from torch import Tensor, nn

LINF_EPS = 8 / 255
#: ImageNet's defense and attack budget (SPEC).
IMAGENET_EPS = 4 / 255
L2_EPS = 0.5


def seeded_rng(seed: int, device: torch.device | str):
    """A context in which torch's global RNG (CPU, and CUDA when ``device`` is CUDA) and NumPy's global RNG are
    seeded with ``seed`` and restored afterwards: library attacks draw from them (ART's random start from NumPy)."""
    device = torch.device(device)
    devices = [device] if device.type == "cuda" else []

    class _Ctx:
        def __enter__(self):
            self._fork = torch.random.fork_rng(devices=devices)
            self._fork.__enter__()
            self._numpy_state = np.random.get_state()
            torch.manual_seed(seed)
            np.random.seed(seed % 2**32)
            return self

        def __exit__(self, *exc):
            np.random.set_state(self._numpy_state)
            return self._fork.__exit__(*exc)

    return _Ctx()


def _run_seeded(run: Callable[[], Tensor], device: torch.device | str, seed: int | None) -> Tensor:
    if seed is None:
        return run().detach()
    with seeded_rng(seed, device):
        return run().detach()


class _SameSamples:
    """ART's expectation-over-transformation preprocessor with the identity transform: each image is repeated
    ``nb_samples`` times in one batch, so a randomized model draws its randomness once per copy and the loss gradient
    is the average over the copies (EOT, Athalye et al. 2018)."""

    def __new__(cls, nb_samples: int):
        from art.preprocessing.expectation_over_transformation.pytorch import EoTPyTorch

        class SameSamples(EoTPyTorch):
            def _transform(self, x, y, **kwargs):
                return x, y

        return SameSamples(nb_samples=nb_samples, clip_values=(0.0, 1.0))


def art_classifier(model: nn.Module, x: Tensor, eot_samples: int = 1):
    """``model`` as an ART ``PyTorchClassifier`` on ``x``'s device: cross-entropy loss, inputs in [0, 1], the number
    of classes read from one forward pass in eval mode (in a forked RNG, so a randomized model leaves the caller's
    stream alone; the model's modes restored after);
    ``eot_samples`` > 1 averages its loss gradient over that many copies.

    ART moves the model to its device when built: with ``x`` on CUDA it is built with ``x``'s GPU as the current
    device, which is the GPU the model is already on (models and images share a device here)."""
    from art.estimators.classification import PyTorchClassifier

    with torch.random.fork_rng(devices=[x.device] if x.is_cuda else []), torch.no_grad(), restored_mode(model):
        nb_classes = int(model.eval()(x[:1]).shape[1])  # eval: no BatchNorm statistics touched by a batch of one
    with torch.cuda.device(x.device) if x.is_cuda else contextlib.nullcontext():
        return PyTorchClassifier(model, loss=nn.CrossEntropyLoss(), input_shape=tuple(x.shape[1:]),
                                 nb_classes=nb_classes, clip_values=(0.0, 1.0), device_type="gpu" if x.is_cuda else "cpu",
                                 preprocessing_defences=[_SameSamples(eot_samples)] if eot_samples > 1 else None)


def art_pgd(model: nn.Module, x: Tensor, y: Tensor, eps: float, alpha: float, steps: int, norm: str,
            random_start: bool = True, eot_samples: int = 1, seed: int | None = 0) -> Tensor:
    """PGD-``steps`` (Madry et al. 2018) in the L-``norm`` ball ("inf" or "2") through ART's
    ``ProjectedGradientDescentPyTorch``: one random start (uniform in the ball, from NumPy's RNG) unless
    ``random_start`` is False, step ``alpha`` along sign(grad) (L-inf) or grad / ||grad|| (L2), clip to [0, 1], project.

    The whole batch is one ART batch, run by the attack's own per-batch routine: ``generate`` around it only
    re-batches the same arrays through a DataLoader and then logs a success rate that costs two more forward passes
    over the batch (over every EOT copy); with one batch and one start it computes nothing else for a deterministic
    model (tests/test_attack_equivalence.py holds the outputs to torchattacks'). For a model that draws from torch's
    RNG in its forward pass, the stream is one draw behind ``generate``'s (the draw its DataLoader makes when
    iterated). Every module's train/eval mode and the parameters' ``requires_grad`` are restored afterwards (ART
    leaves the model in eval mode)."""
    from art.attacks.evasion import ProjectedGradientDescentPyTorch
    from art.utils import check_and_transform_label_format

    check_attack_inputs(x, y)
    classifier = art_classifier(model, x, eot_samples)
    attack = ProjectedGradientDescentPyTorch(classifier, norm=np.inf if norm == "inf" else int(norm), eps=eps,
                                             eps_step=alpha, max_iter=steps, num_random_init=int(random_start),
                                             batch_size=x.shape[0], verbose=False)
    images = torch.from_numpy(x.detach().cpu().numpy().astype(np.float32))
    targets = torch.from_numpy(check_and_transform_label_format(y.detach().cpu().numpy(), nb_classes=classifier.nb_classes,
                                                                return_one_hot=True).astype(np.float32))

    def run() -> Tensor:
        with frozen_parameters(model), restored_mode(model):
            adv = attack._generate_batch(x=images, targets=targets, mask=None, eps=eps, eps_step=alpha)
        return torch.from_numpy(adv).to(x.device)
    return _run_seeded(run, x.device, seed)


@contextmanager
def restored_mode(model: nn.Module) -> Iterator[None]:
    """Every module's train/eval flag as it was before (ART's loss gradient puts the whole model in eval mode; a
    model may keep some modules in another mode than the rest, such as dropout left on for MC sampling)."""
    modes = [(module, module.training) for module in model.modules()]
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


@contextmanager
def frozen_parameters(model: nn.Module) -> Iterator[None]:
    """Parameters that need no gradient while an attack runs, restored afterwards: ART's loss gradient calls
    ``loss.backward()``, which would otherwise also compute (and accumulate) every weight's gradient."""
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def check_attack_inputs(x: Tensor, y: Tensor) -> None:
    """Images (B, C, H, W) in [0, 1] without NaN and B integer labels, or a ValueError that says which."""
    if x.dim() != 4:
        raise ValueError(f"attack: images must be (batch, channels, height, width), got shape {tuple(x.shape)}")
    if torch.isnan(x).any() or x.min() < -1e-6 or x.max() > 1 + 1e-6:
        raise ValueError("attack: images must lie in [0, 1] with no NaN")
    if y.shape != (x.shape[0],) or y.is_floating_point():
        raise ValueError(f"attack: labels must be {x.shape[0]} integers, got shape {tuple(y.shape)} ({y.dtype})")


def pgd_linf(model: nn.Module, x: Tensor, y: Tensor, eps: float = LINF_EPS, steps: int = 20,
             alpha: float = 2 / 255, seed: int | None = 0) -> Tensor:
    """PGD-``steps`` L-inf attack with random start (Madry et al. 2018), via ART (:func:`art_pgd`)."""
    return art_pgd(model, x, y, eps, alpha, steps, "inf", seed=seed)


def pgd_l2(model: nn.Module, x: Tensor, y: Tensor, eps: float = L2_EPS, steps: int = 20,
           alpha: float | None = None, seed: int | None = 0) -> Tensor:
    """PGD-``steps`` L2 attack with random start, step 2.5 eps / steps unless given, via ART (:func:`art_pgd`)."""
    alpha = 2.5 * eps / steps if alpha is None else alpha
    return art_pgd(model, x, y, eps, alpha, steps, "2", seed=seed)


def eot_pgd(model: nn.Module, x: Tensor, y: Tensor, eps: float = LINF_EPS, steps: int = 20,
            alpha: float = 2 / 255, eot_iter: int = 20, seed: int | None = 0) -> Tensor:
    """EOT-PGD: L-inf PGD whose gradient is averaged over ``eot_iter`` copies of each image in one batch (ART's
    expectation-over-transformation preprocessing with the identity transform; the model's own randomness varies).

    Not used for the book's BPDA+EOT row: on a deterministic, differentiable target EOT-PGD is PGD."""
    return art_pgd(model, x, y, eps, alpha, steps, "inf", eot_samples=eot_iter, seed=seed)


def square(model: nn.Module, x: Tensor, y: Tensor, eps: float = LINF_EPS, n_queries: int = 5000,
           seed: int | None = 0) -> Tensor:
    """Square attack (Andriushchenko et al. 2020), score-based, L-inf, margin loss, one restart: the official
    implementation in ``pyautoattack`` (``p_init`` 0.8 and its rescaled schedule, the class's defaults)."""
    from pyautoattack.square import SquareAttack

    check_attack_inputs(x, y)
    attack = SquareAttack(model, norm="Linf", n_queries=n_queries, eps=eps, n_restarts=1, seed=seed or 0,
                          device=x.device)
    return _run_seeded(lambda: attack.perturb(x.detach(), y), x.device, seed)


def cw_margin_loss(logits: Tensor, y: Tensor) -> Tensor:
    """Carlini-Wagner margin: max_{j != y} z_j - z_y (summed over the batch; larger = more wrong)."""
    true = logits.gather(1, y[:, None]).squeeze(1)
    other = logits.masked_fill(torch.nn.functional.one_hot(y, logits.shape[1]).bool(), float("-inf")).amax(1)
    return (other - true).sum()


def cw_linf(model: nn.Module, x: Tensor, y: Tensor, eps: float = LINF_EPS, steps: int = 20,
            alpha: float = 2 / 255, seed: int | None = 0) -> Tensor:
    """CW-L-inf: PGD on the CW margin loss with random start (the "CW" row of the paper's Table VI)."""
    gen = torch.Generator(device=x.device).manual_seed(seed or 0)
    x_adv = (x + (torch.rand(x.shape, generator=gen, device=x.device) * 2 - 1) * eps).clamp(0, 1)
    for _ in range(steps):
        with torch.enable_grad():
            x_adv = x_adv.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(cw_margin_loss(model(x_adv), y), x_adv)
        x_adv = torch.min(torch.max(x_adv.detach() + alpha * grad.sign(), x - eps), x + eps).clamp(0, 1)
    return x_adv.detach()


def autoattack(model: nn.Module, x: Tensor, y: Tensor, eps: float = LINF_EPS, norm: str = "Linf",
               version: str = "standard", attacks: tuple[str, ...] | None = None, seed: int | None = 0,
               batch_size: int = 250, eot_iter: int | None = None, n_queries: int | None = None,
               n_iter: int | None = None, n_target_classes: int | None = None) -> Tensor:
    """Official AutoAttack (``pyautoattack``): ``version`` "standard", "rand" or "custom" with ``attacks``
    (custom runs each listed attack with the standard version's settings: one restart, 100 iterations).

    ``eot_iter`` (rand), ``n_queries`` (Square), ``n_iter`` (APGD, APGD-T, FAB) and ``n_target_classes``
    (APGD-T, FAB-T) override the library's
    values for cheaper profiles; the result is then no longer the standard configuration, and callers say so.
    """
    from pyautoattack import AutoAttack

    logging.getLogger("auto-attack").setLevel(logging.WARNING)
    kwargs = {"attacks": list(attacks)} if version == "custom" else {}
    adversary = AutoAttack(model, norm=norm, eps=eps, version=version, device=x.device, seed=seed or 0, **kwargs)
    if version == "custom":  # the per-attack settings of the standard version (one restart each)
        for attack in (adversary.apgd, adversary.apgd_targeted, adversary.fab):
            attack.n_restarts = 1
    if eot_iter is not None:
        adversary.apgd.eot_iter = eot_iter
    if n_queries is not None:
        adversary.square.n_queries = n_queries
    if n_iter is not None:
        for attack in (adversary.apgd, adversary.apgd_targeted, adversary.fab):
            attack.n_iter = n_iter
    if n_target_classes is not None:
        adversary.apgd_targeted.n_target_classes = adversary.fab.n_target_classes = n_target_classes
    with torch.enable_grad():
        # contiguous: pyautoattack 0.2.0 calls grad.view(n, -1), which fails on channels-last gradients
        out = adversary.run_standard_evaluation(x.contiguous(), y, batch_size=batch_size)
    x_adv = out[0] if isinstance(out, tuple) else out
    return x_adv.detach().to(x.device)


def transfer(model: nn.Module, x: Tensor, y: Tensor, eps: float = LINF_EPS, surrogate: nn.Module | None = None,
             steps: int = 20, alpha: float = 2 / 255, seed: int | None = 0) -> Tensor:
    """Transfer attack: PGD-``steps`` crafted on ``surrogate``, to be evaluated on ``model`` (the target)."""
    if surrogate is None:
        raise ValueError("transfer attack needs a surrogate model")
    return pgd_linf(surrogate, x, y, eps=eps, steps=steps, alpha=alpha, seed=seed)
