"""Automatic checks for the course exercises (the book's "Course" part).

Each ``check_*`` takes a student's function, runs it and the library's reference on small
seeded inputs (a tiny CNN, a handful of 8x8 images: milliseconds on a laptop CPU), and returns
a :class:`Check` whose message names the property that failed: shape, the eps-ball, [0, 1],
averaging points rather than gradients, the sign of a step, the centre of a projection, the
order of the epochs. A stub that raises ``NotImplementedError`` scores 0 with "not implemented
yet". ``score(checks)`` adds them up for grading.

The references are the library's own functions (SPEC: Proj, Smooth, the forward and backward
epochs, MCGS, Preemptive Reversion, the exact McNemar test), so a passing solution is the
algorithm the book runs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .metrics import mcnemar_exact
from .reversion import preemptive_reversion
from .smoothing import input_gradient, smooth
from .tensors import project

EPS = 8 / 255
TOLERANCE = 1e-5


@dataclass(frozen=True)
class Check:
    """One exercise's result: passed or not, and what to fix."""

    exercise: str
    passed: bool
    message: str

    @property
    def score(self) -> int:
        return int(self.passed)

    def __str__(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'} {self.exercise}: {self.message}"

    def _repr_markdown_(self) -> str:
        return f"**{'PASS' if self.passed else 'FAIL'} {self.exercise}**: {self.message}"


def score(checks: Sequence[Check]) -> tuple[int, int]:
    """(passed, total) over a list of checks."""
    return sum(c.score for c in checks), len(checks)


def tiny_model(seed: int = 0, size: int = 8) -> nn.Module:
    """A small seeded CNN on size x size images (10 classes), in eval mode."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(8 * size * size, 10)).double().eval()


def tiny_batch(seed: int = 0, n: int = 4, size: int = 8) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=g, dtype=torch.float64), torch.randint(0, 10, (n,), generator=g)


def _run(exercise: str, fn: Callable, *args) -> tuple[object, Check | None]:
    """Call the student's function; a stub or a crash becomes a failed check with the reason."""
    try:
        return fn(*args), None
    except NotImplementedError:
        return None, Check(exercise, False, "not implemented yet: replace `raise NotImplementedError` with your code")
    except Exception as err:  # the student's code crashed: say how
        return None, Check(exercise, False, f"your function raised {type(err).__name__}: {err}")


def _compare(exercise: str, got, want: Tensor, diagnoses: Sequence[tuple[Tensor, str]] = (),
             ball: tuple[Tensor, float] | None = None) -> Check:
    if not isinstance(got, Tensor):
        return Check(exercise, False, f"return a torch.Tensor, got {type(got).__name__}")
    if got.shape != want.shape:
        return Check(exercise, False, f"wrong shape: expected {tuple(want.shape)}, got {tuple(got.shape)}")
    if not torch.isfinite(got).all():
        return Check(exercise, False, "your result contains NaN or inf")
    if torch.allclose(got.double(), want.double(), atol=TOLERANCE):
        return Check(exercise, True, "matches the library's reference on seeded inputs")
    for alternative, message in diagnoses:  # a known mistake first: its message is the most specific
        if alternative.shape == got.shape and torch.allclose(got.double(), alternative.double(), atol=TOLERANCE):
            return Check(exercise, False, message)
    if got.min() < -TOLERANCE or got.max() > 1 + TOLERANCE:
        return Check(exercise, False, f"values leave [0, 1] (min {got.min():.3f}, max {got.max():.3f}): clip to the image range")
    if ball is not None:
        center, eps = ball
        dist = (got.double() - center.double()).abs().max()
        if dist > eps + TOLERANCE:
            return Check(exercise, False, f"leaves the eps-ball: max |x - c| = {dist * 255:.2f}/255 > eps = {eps * 255:.2f}/255")
    diff = (got.double() - want.double()).abs().max()
    return Check(exercise, False, f"differs from the reference by up to {diff:.3g}; re-read the definition")


# ---- 1. Proj ---------------------------------------------------------------------------------

def check_projection(proj: Callable[[Tensor, Tensor, float], Tensor]) -> Check:
    """Exercise 1: Proj(v, c, e) = clip(clip(v, c - e, c + e), 0, 1) (SPEC)."""
    name = "1. Proj"
    g = torch.Generator().manual_seed(1)
    c = torch.rand(4, 3, 8, 8, generator=g, dtype=torch.float64)
    v = c + (torch.rand(c.shape, generator=g, dtype=torch.float64) * 2 - 1) * 3 * EPS + 0.02 * torch.randn(c.shape, generator=g, dtype=torch.float64)
    got, failed = _run(name, proj, v.clone(), c.clone(), EPS)
    if failed:
        return failed
    want = project(v, c, EPS)
    only_box = v.clamp(0, 1)
    only_ball = torch.minimum(torch.maximum(v, c - EPS), c + EPS)
    return _compare(name, got, want, [(only_box, "you clipped to [0, 1] but not to the eps-ball around c"),
                                      (only_ball, "you clipped to the eps-ball but not to [0, 1]")], ball=(c, EPS))


# ---- 2. Smooth -------------------------------------------------------------------------------

def _signed_grad(model: nn.Module, z: Tensor, y: Tensor) -> Tensor:
    return input_gradient(model, z, y).sign()


def check_smooth(student_smooth: Callable[..., Tensor]) -> Check:
    """Exercise 2: Smooth(f, c, y, e, a, noise, descend) = mean_n Proj(z_n -/+ a sign(grad CE(f(z_n), y)), c, e)
    with z_n = clip01(c + noise_n) (SPEC, K = 1): averaged points, not averaged gradients."""
    name = "2. Smooth"
    f = tiny_model(0)
    c, y = tiny_batch(2)
    g = torch.Generator().manual_seed(3)
    n = 6
    noise = (torch.rand((n, *c.shape), generator=g, dtype=torch.float64) * 2 - 1) * EPS
    for descend in (True, False):
        got, failed = _run(name, student_smooth, f, c.clone(), y, EPS, EPS, noise.clone(), descend)
        if failed:
            return failed
        want = smooth(f, c, y, EPS, EPS, n_samples=n, noise=noise, descend=descend)
        other = smooth(f, c, y, EPS, EPS, n_samples=n, noise=noise, descend=not descend)
        z = (c.unsqueeze(0) + noise).clamp(0, 1).reshape(-1, *c.shape[1:])
        mean_grad = input_gradient(f, z, y.repeat(n)).reshape(n, *c.shape).mean(0)
        sign = -1 if descend else 1
        grads_averaged = project(c + sign * EPS * mean_grad.sign(), c, EPS)
        single_step = project(c + sign * EPS * _signed_grad(f, c, y), c, EPS)
        no_projection = (z.reshape(n, *c.shape) + sign * EPS * _signed_grad(f, z, y.repeat(n)).reshape(n, *c.shape)).mean(0)
        check = _compare(name, got, want, [
            (other, f"wrong sign of the step: with descend={descend} the walk must go "
                    f"{'down' if descend else 'up'} the loss ({'minus' if descend else 'plus'} a * sign(grad))"),
            (grads_averaged, "you averaged gradients and took one step; Smooth averages the N walked points"),
            (single_step, "you ignored the noise: each of the N copies starts at clip01(c + noise_n)"),
            (no_projection, "project each walked point back onto the eps-ball around c (and [0, 1]) before averaging"),
        ], ball=(c, EPS))
        if not check.passed:
            return check
    return Check(name, True, "matches the library's Smooth for descend=True and descend=False")


# ---- 3-4. Forward and backward epochs ----------------------------------------------------------

def _deterministic_smooth(f: nn.Module, y: Tensor, n: int = 5) -> Callable[[Tensor, bool], Tensor]:
    """A Smooth with fixed noise, for comparing epochs exactly: smooth_fn(center, descend)."""
    def smooth_fn(center: Tensor, descend: bool) -> Tensor:
        g = torch.Generator().manual_seed(11)
        noise = (torch.rand((n, *center.shape), generator=g, dtype=center.dtype) * 2 - 1) * EPS
        return smooth(f, center, y, EPS, EPS, n_samples=n, noise=noise, descend=descend)
    return smooth_fn


def reference_forward_epoch(x: Tensor, x_t: Tensor, eps: float, eta: float, smooth_fn) -> Tensor:
    """x_{t+1} = Proj(x_t + eta (Smooth(x_t, descend) - x_t), x, eps) (SPEC, forward epoch)."""
    return project(x_t + eta * (smooth_fn(x_t, True) - x_t), x, eps)


def reference_backward_epoch(x: Tensor, x_t: Tensor, eps: float, eta: float, smooth_fn) -> Tensor:
    """x_{t+1} = Proj(x_t - eta (Smooth(x_t, ascend) - x_t), x, eps) (SPEC, backward epoch)."""
    return project(x_t - eta * (smooth_fn(x_t, False) - x_t), x, eps)


def _epoch_inputs():
    f = tiny_model(4)
    x, y = tiny_batch(5)
    smooth_fn = _deterministic_smooth(f, y)
    x_t = project(x + (torch.rand(x.shape, generator=torch.Generator().manual_seed(6), dtype=x.dtype) * 2 - 1) * EPS, x, EPS)
    return x, x_t, smooth_fn


def _epoch(x: Tensor, x_t: Tensor, eps: float, eta: float, smooth_fn, sign: int, descend: bool, center: Tensor) -> Tensor:
    """Proj(x_t + sign * eta * (Smooth(x_t, descend) - x_t), center, eps): both epochs and their typical mistakes."""
    return project(x_t + sign * eta * (smooth_fn(x_t, descend) - x_t), center, eps)


def _check_epoch(name: str, student_epoch: Callable[..., Tensor], forward: bool) -> Check:
    """A forward (sign +1, descent steps) or backward (sign -1, ascent steps) epoch against the reference."""
    x, x_t, smooth_fn = _epoch_inputs()
    got, failed = _run(name, student_epoch, x.clone(), x_t.clone(), EPS, 0.7, smooth_fn)
    if failed:
        return failed
    sign, descend = (1, True) if forward else (-1, False)
    which, toward, steps = ("forward", "TOWARD the smoothed descent point", "DESCENT steps (descend=True)") if forward else \
        ("backward", "AWAY from the smoothed attack point", "ASCENT steps (descend=False)")
    return _compare(name, got, _epoch(x, x_t, EPS, 0.7, smooth_fn, sign, descend, x), [
        (_epoch(x, x_t, EPS, 0.7, smooth_fn, -sign, descend, x), f"wrong sign: the {which} epoch moves {toward}"),
        (_epoch(x, x_t, EPS, 0.7, smooth_fn, sign, not descend, x), f"the {which} epoch smooths {steps}"),
        (_epoch(x, x_t, EPS, 0.7, smooth_fn, sign, descend, x_t), "project around the ORIGINAL image x, not around x_t"),
        (_epoch(x, x_t, EPS, 1.0, smooth_fn, sign, descend, x), "scale the move by the step size eta"),
    ], ball=(x, EPS))


def check_forward_epoch(forward_epoch: Callable[..., Tensor]) -> Check:
    """Exercise 3: one forward epoch, given Smooth as ``smooth_fn(center, descend)``."""
    return _check_epoch("3. forward epoch", forward_epoch, forward=True)


def check_backward_epoch(backward_epoch: Callable[..., Tensor]) -> Check:
    """Exercise 4: one backward epoch, given Smooth as ``smooth_fn(center, descend)``."""
    return _check_epoch("4. backward epoch", backward_epoch, forward=False)


# ---- 5. MCGS ---------------------------------------------------------------------------------

def check_mcgs(student_mcgs: Callable[..., Tensor]) -> Check:
    """Exercise 5: MCGS = one forward epoch from x, then one backward epoch from x_F (schedule "FB")."""
    name = "5. MCGS"
    x, _, smooth_fn = _epoch_inputs()
    got, failed = _run(name, student_mcgs, x.clone(), EPS, 1.0, smooth_fn)
    if failed:
        return failed
    x_f = reference_forward_epoch(x, x, EPS, 1.0, smooth_fn)
    want = reference_backward_epoch(x, x_f, EPS, 1.0, smooth_fn)
    x_b = reference_backward_epoch(x, x, EPS, 1.0, smooth_fn)
    return _compare(name, got, want, [
        (x_f, "that is only the forward epoch: follow it with a backward epoch from x_F"),
        (x_b, "that is only the backward epoch: start with a forward epoch"),
        (reference_forward_epoch(x, x_b, EPS, 1.0, smooth_fn), "wrong order: forward first (F), then backward (B)"),
        (reference_backward_epoch(x_f, x_f, EPS, 1.0, smooth_fn), "project around the original x in the backward epoch too, not x_F"),
    ], ball=(x, EPS))


# ---- 6. Preemptive Reversion -------------------------------------------------------------------

def check_reversion(student_reversion: Callable[[Callable[[Tensor], Tensor], Tensor], Tensor]) -> Check:
    """Exercise 6: x_r = clip01(2 x_p - D(x_p)) (Lemma 4); it undoes a defense whose perturbation ignores its input."""
    name = "6. Preemptive Reversion"
    x, _ = tiny_batch(7)
    delta = (torch.rand(x.shape, generator=torch.Generator().manual_seed(8), dtype=x.dtype) * 2 - 1) * EPS

    def defense(v: Tensor) -> Tensor:  # the same perturbation whatever the input: reversion undoes it exactly
        return project(v + delta, v, EPS)

    x_p = x  # uniform in [0, 1]: near the edges 2 x_p - D(x_p) leaves [0, 1] unless clipped
    got, failed = _run(name, student_reversion, defense, x_p.clone())
    if failed:
        return failed
    want = preemptive_reversion(defense, x_p)
    return _compare(name, got, want, [
        (defense(x_p), "that applies the defense again; reversion steps the OTHER way: 2 x_p - D(x_p)"),
        (x_p - defense(x_p), "x_r = x_p - (D(x_p) - x_p) = 2 x_p - D(x_p), not x_p - D(x_p)"),
        (2 * x_p - defense(x_p), "clip the reverted image to [0, 1]"),
    ])


# ---- 7. Paired comparison ----------------------------------------------------------------------

def check_mcnemar(student_mcnemar: Callable[[np.ndarray, np.ndarray], float]) -> Check:
    """Exercise 7: the two-sided exact McNemar p-value of two defenses on the same images."""
    name = "7. exact McNemar"
    from scipy.stats import binomtest

    rng = np.random.default_rng(9)
    for n, shift in ((60, 0.15), (200, 0.0), (25, 0.3)):
        a = rng.random(n) < 0.6
        b = np.where(rng.random(n) < 0.3, ~a, a) & (rng.random(n) > shift)
        got, failed = _run(name, student_mcnemar, a.copy(), b.copy())
        if failed:
            return failed
        want = mcnemar_exact(a, b)
        try:
            value = float(got)
        except (TypeError, ValueError):
            return Check(name, False, f"return the p-value as a number, got {type(got).__name__}")
        if abs(value - want) < 1e-9:
            continue
        k, m = int((a & ~b).sum()), int((a ^ b).sum())
        if m and abs(value - binomtest(k, m, 0.5, alternative="greater").pvalue) < 1e-9:
            return Check(name, False, "that is one-sided: the claim's test is two-sided")
        if abs(value - binomtest(int(a.sum()), n, 0.5).pvalue) < 1e-9 or abs(value - binomtest(k, n, 0.5).pvalue) < 1e-9:
            return Check(name, False, "count only the discordant images (one defense right, the other wrong)")
        return Check(name, False, f"p = {value:.4g}, expected {want:.4g} (n = {n}): a binomial test of the discordant pairs at 1/2")
    return Check(name, True, "matches the library's exact McNemar test on three seeded pairs")


def loss(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """Mean CE loss (a helper for the exercises' sanity prints)."""
    with torch.no_grad():
        return float(F.cross_entropy(model(x), y))
