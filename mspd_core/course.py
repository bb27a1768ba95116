"""Automatic checks for the course exercises (the book's "Course" part, and the otter-grader tests).

Each ``check_*`` takes a student's function, runs it and the library's reference on small
seeded inputs (a tiny CNN, a handful of 8x8 images: milliseconds on a laptop CPU), and returns
a :class:`Check` whose message names the mistake: shape, the eps-ball, [0, 1], averaging points
rather than gradients, the sign of a step, the order of the labels, the centre of a projection,
the order of the epochs, an ignored step size, a changed input, a call to the library's own
answer. A stub that raises ``NotImplementedError`` scores 0 with "not implemented yet".

Every check runs several cases (more than one eps, eta, N) and

- compares the caller's tensors before and after the call: a function that changes its inputs
  in place fails, whatever it returns;
- tests a later exercise with the *reference* versions of the earlier ones (``proj``,
  ``forward_epoch``, ``backward_epoch``: :func:`earlier_references`), so a mistake in Exercise 1
  never makes Exercise 5 blame a correct MCGS;
- in a notebook (the student's own feedback, otter's ``grader.check``), fails a function that calls
  the library's implementation of what it must implement (traced with ``sys.setprofile``; only the
  earlier exercises' references may be called). That in-process trace is feedback, not security: the
  autograder (:mod:`mspd_core.grading`) runs each answer in its own process where the library cannot
  be imported at all (:mod:`mspd_core.course_sandbox`), and compares the results here.

``variant`` draws other seeded inputs (0: the public cases the notebook's checks use). The
autograder's hidden cases use a variant kept in its zip only, so a submission that hard-codes the
public cases fails grading, and a student cannot run the hidden cases.

The references are the library's own functions (SPEC: Proj, Smooth, the forward and backward
epochs, MCGS, Preemptive Reversion, the exact McNemar test), so a passing solution is the
algorithm the book runs.
"""
from __future__ import annotations

import inspect
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

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
LIBRARY = Path(__file__).resolve().parent


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


def require(check: Check) -> None:
    """Raise ``AssertionError`` with the check's message unless it passed (the otter-grader tests)."""
    assert check.passed, check.message


def tiny_model(seed: int = 0, size: int = 8) -> nn.Module:
    """A small seeded CNN on size x size images (10 classes), in eval mode."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(8 * size * size, 10)).double().eval()


def tiny_batch(seed: int = 0, n: int = 4, size: int = 8) -> tuple[Tensor, Tensor]:
    """n seeded images in [0, 1] (float64) and n distinct-as-drawn labels in 0..9."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=g, dtype=torch.float64), torch.randint(0, 10, (n,), generator=g)


def _seed(seed: int, variant: int) -> int:
    """The seed of one input of a check: the public cases at variant 0, other inputs at any other variant."""
    return seed + 1000 * int(variant)


# ---- how a student's function is called ------------------------------------------------------

def _in_library(code: types.CodeType) -> bool:
    """Whether a code object belongs to ``mspd_core`` (notebook cells have names like ``<ipython-input-3>``)."""
    if not code.co_filename or code.co_filename.startswith("<"):
        return False
    return Path(code.co_filename).resolve().is_relative_to(LIBRARY)


def _library_name(code: types.CodeType) -> str:
    module = Path(code.co_filename).resolve().relative_to(LIBRARY.parent).with_suffix("")
    # co_qualname is Python 3.11+; on 3.10 (allowed by pyproject) the bare name
    return f"{'.'.join(module.parts)}.{getattr(code, 'co_qualname', code.co_name)}"


def _library_call_recorder(allowed: set[types.CodeType], runner: types.FrameType, calls: list[str]):
    """A ``sys.setprofile`` hook that records every library function called from outside the library
    (the student's code), except the ``allowed`` ones (the callables the check hands in, the references
    it rebinds). The student's function being itself a library function counts too (``runner`` calls it)."""
    cache: dict[str, bool] = {}

    def inside(code: types.CodeType) -> bool:
        if code.co_filename not in cache:
            cache[code.co_filename] = _in_library(code)
        return cache[code.co_filename]

    def profiler(frame, event, arg):
        if event != "call" or frame.f_code in allowed or not inside(frame.f_code):
            return
        caller = frame.f_back
        if caller is None or caller is runner or not inside(caller.f_code):
            calls.append(_library_name(frame.f_code))

    return profiler


def _names_used(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names_used(const)
    return names


def with_references(fn: Callable, references: Mapping[str, Callable]) -> Callable:
    """``fn`` with the global names it uses among ``references`` bound to those (the reference versions
    of earlier exercises' functions): a later exercise is judged on its own code only."""
    if not isinstance(fn, types.FunctionType):
        return fn
    used = _names_used(fn.__code__) & set(references)
    if not used:
        return fn
    namespace = dict(fn.__globals__)
    namespace.update({name: references[name] for name in used})
    rebound = types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__, fn.__closure__)
    rebound.__kwdefaults__ = fn.__kwdefaults__
    return rebound


def _snapshot(value):
    if isinstance(value, Tensor):
        return value.detach().clone()
    if isinstance(value, np.ndarray):
        return value.copy()
    return None


def _unchanged(value, snapshot) -> bool:
    if isinstance(snapshot, Tensor):
        return value.shape == snapshot.shape and torch.equal(value.detach(), snapshot)
    return np.array_equal(value, snapshot)


def _parameter_names(fn: Callable, n: int) -> list[str]:
    try:
        names = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        names = []
    return [names[i] if i < len(names) else f"argument {i + 1}" for i in range(n)]


def _run(exercise: str, fn: Callable, *args, references: Mapping[str, Callable] | None = None) -> tuple[object, Check | None]:
    """Call the student's function on ``args`` as a caller would; a stub, a crash, a changed input or a
    call to the library's own answer becomes a failed check with the reason. Callables among ``args``
    and the ``references`` rebound into ``fn`` may be called freely. An answer running in its own
    process (:class:`mspd_core.course_sandbox.SandboxedAnswer`) got its references when it started and
    cannot reach the library there, so it is called without the trace."""
    sandboxed = getattr(fn, "sandboxed", False)
    references = dict(references or {})
    if not sandboxed:
        fn = with_references(fn, references)
    wrapped = [project] if "proj" in references else []  # the library's Proj itself, which reference_proj wraps
    allowed = {a.__code__ for a in [*args, *references.values(), *wrapped] if isinstance(a, types.FunctionType)}
    snapshots = [_snapshot(a) for a in args]
    calls: list[str] = []
    previous = sys.getprofile()
    if not sandboxed:
        sys.setprofile(_library_call_recorder(allowed, sys._getframe(), calls))
    try:
        result = fn(*args)
    except NotImplementedError:
        return None, Check(exercise, False, "not implemented yet: replace `raise NotImplementedError` with your code")
    except Exception as err:  # the student's code crashed: say how
        return None, Check(exercise, False, f"your function raised {type(err).__name__}: {err}")
    finally:
        if not sandboxed:
            sys.setprofile(previous)
    if calls:
        return None, Check(exercise, False, f"your function calls the library's `{calls[0]}`: this exercise asks you "
                                            "to implement it yourself (the check compares your code with it)")
    for name, value, snapshot in zip(_parameter_names(fn, len(args)), args, snapshots):
        if snapshot is not None and not _unchanged(value, snapshot):
            return None, Check(exercise, False, f"your function changed its input `{name}` in place (an in-place "
                                                "operation such as `clamp_`, `+=` or `x[...] = ...`): the caller's "
                                                "tensors must stay as they were; compute a new one")
    return result, None


def _compare(exercise: str, got, want: Tensor, diagnoses: Sequence[tuple[Tensor, str]] = (),
             ball: tuple[Tensor, float] | None = None, case: str = "") -> Check:
    """The student's tensor against the reference: the first known mistake it equals names itself;
    then [0, 1], the eps-ball, and the size of the difference (with the case that showed it)."""
    where = f" ({case})" if case else ""
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
            return Check(exercise, False, message + where)
    if got.min() < -TOLERANCE or got.max() > 1 + TOLERANCE:
        return Check(exercise, False, f"values leave [0, 1] (min {got.min():.3f}, max {got.max():.3f}): clip to the image range")
    if ball is not None:
        center, eps = ball
        dist = (got.double() - center.double()).abs().max()
        if dist > eps + TOLERANCE:
            return Check(exercise, False, f"leaves the eps-ball: max |x - c| = {dist * 255:.2f}/255 > eps = {eps * 255:.2f}/255")
    diff = (got.double() - want.double()).abs().max()
    return Check(exercise, False, f"differs from the reference by up to {diff:.3g}{where}; re-read the definition")


# ---- 1. Proj ---------------------------------------------------------------------------------

def check_projection(proj: Callable[[Tensor, Tensor, float], Tensor], variant: int = 0) -> Check:
    """Exercise 1: Proj(v, c, e) = clip(clip(v, c - e, c + e), 0, 1) (SPEC), at two budgets."""
    name = "1. Proj"
    g = torch.Generator().manual_seed(_seed(1, variant))
    c = torch.rand(4, 3, 8, 8, generator=g, dtype=torch.float64)
    jitter = torch.rand(c.shape, generator=g, dtype=torch.float64) * 2 - 1
    for eps in (EPS, 16 / 255):
        v = c + jitter * 3 * eps + 0.02 * torch.randn(c.shape, generator=g, dtype=torch.float64)
        got, failed = _run(name, proj, v.clone(), c.clone(), eps)
        if failed:
            return failed
        only_ball = torch.minimum(torch.maximum(v, c - eps), c + eps)
        check = _compare(name, got, project(v, c, eps), [
            (v.clamp(0, 1), "you clipped to [0, 1] but not to the eps-ball around c"),
            (only_ball, "you clipped to the eps-ball but not to [0, 1]"),
            (project(v, c, EPS), "you used eps = 8/255 whatever `e` is: clip to the ball of radius `e`"),
        ], ball=(c, eps), case=f"e = {eps * 255:.0f}/255")
        if not check.passed:
            return check
    return Check(name, True, "matches the library's Proj at e = 8/255 and 16/255")


# ---- 2. Smooth -------------------------------------------------------------------------------

def smooth_variant(f: nn.Module, c: Tensor, y: Tensor, e: float, a: float, noise: Tensor, descend: bool, *,
                   labels: str = "repeat", clip_start: bool = True, signed: bool = True, project_points: bool = True,
                   average: str = "points") -> Tensor:
    """Smooth written out step by step, with switches for its typical mistakes (the diagnoses of
    :func:`check_smooth`): ``labels="interleave"`` pairs copy n of image b with the wrong label,
    ``clip_start=False`` starts outside [0, 1], ``signed=False`` steps along the raw gradient,
    ``project_points=False`` skips Proj, ``average="gradients"`` takes one step along the mean gradient.
    With the defaults it equals the library's Smooth (K = 1), which stays the reference."""
    n = noise.shape[0]
    z = (c.unsqueeze(0) + noise)
    z = (z.clamp(0, 1) if clip_start else z).reshape(-1, *c.shape[1:])
    y_rep = y.repeat_interleave(n) if labels == "interleave" else y.repeat(n)
    grad = input_gradient(f, z, y_rep)
    direction = -1 if descend else 1
    if average == "gradients":
        return project(c + direction * a * grad.reshape(n, *c.shape).mean(0).sign(), c, e)
    walked = z + direction * a * (grad.sign() if signed else grad)
    points = project(walked, c.repeat(n, 1, 1, 1), e) if project_points else walked
    return points.reshape(n, *c.shape).mean(0)


def check_smooth(student_smooth: Callable[..., Tensor], variant: int = 0) -> Check:
    """Exercise 2: Smooth(f, c, y, e, a, noise, descend) = mean_n Proj(z_n -/+ a sign(grad CE(f(z_n), y)), c, e)
    with z_n = clip01(c + noise_n) (SPEC, K = 1): averaged points, not averaged gradients; N = 6 and 3."""
    name = "2. Smooth"
    f = tiny_model(_seed(0, variant))
    c, y = tiny_batch(_seed(2, variant))
    g = torch.Generator().manual_seed(_seed(3, variant))
    for n in (6, 3):
        noise = (torch.rand((n, *c.shape), generator=g, dtype=torch.float64) * 2 - 1) * EPS
        for descend in (True, False):
            got, failed = _run(name, student_smooth, f, c.clone(), y.clone(), EPS, EPS, noise.clone(), descend,
                               references=earlier_references("smooth"))
            if failed:
                return failed
            want = smooth(f, c, y, EPS, EPS, n_samples=n, noise=noise, descend=descend)

            def variant(**mistake) -> Tensor:
                return smooth_variant(f, c, y, EPS, EPS, noise, descend, **mistake)

            check = _compare(name, got, want, [
                (smooth_variant(f, c, y, EPS, EPS, noise, not descend),
                 f"wrong sign of the step: with descend={descend} the walk must go {'down' if descend else 'up'} "
                 f"the loss ({'minus' if descend else 'plus'} a * sign(grad))"),
                (variant(average="gradients"), "you averaged gradients and took one step; Smooth averages the N walked points"),
                (project(c + (-1 if descend else 1) * EPS * input_gradient(f, c, y).sign(), c, EPS),
                 "you ignored the noise: each of the N copies starts at clip01(c + noise_n)"),
                (variant(labels="interleave"), "labels out of order: the copies are reshaped from (N, B, ...), so row "
                 "n*B + b is copy n of image b and its label is y[b]: use y.repeat(N), not y.repeat_interleave(N)"),
                (variant(clip_start=False), "clip the start points to the image range: z_n = clip01(c + noise_n)"),
                (variant(signed=False), "take a signed step: a * grad.sign(), not a * grad"),
                (variant(project_points=False), "project each walked point back onto the eps-ball around c (and [0, 1]) before averaging"),
            ], ball=(c, EPS), case=f"N = {n}, descend = {descend}")
            if not check.passed:
                return check
    return Check(name, True, "matches the library's Smooth for N = 6 and 3, descend=True and descend=False")


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


def reference_proj(v: Tensor, c: Tensor, e: float) -> Tensor:
    """Proj(v, c, e) (SPEC), under the exercise's own parameter names (an answer may call ``proj(v, c, e=eps)``)."""
    return project(v, c, e)


REFERENCES = {"proj": reference_proj, "forward_epoch": reference_forward_epoch, "backward_epoch": reference_backward_epoch}
"""The exercises whose reference a later exercise is judged with (exercise function name -> reference)."""


def _epoch_inputs(variant: int = 0):
    f = tiny_model(_seed(4, variant))
    x, y = tiny_batch(_seed(5, variant))
    smooth_fn = _deterministic_smooth(f, y)
    g = torch.Generator().manual_seed(_seed(6, variant))
    x_t = project(x + (torch.rand(x.shape, generator=g, dtype=x.dtype) * 2 - 1) * EPS, x, EPS)
    return x, x_t, smooth_fn


def _epoch(x: Tensor, x_t: Tensor, eps: float, eta: float, smooth_fn, sign: int, descend: bool, center: Tensor | None) -> Tensor:
    """Proj(x_t + sign * eta * (Smooth(x_t, descend) - x_t), center, eps), or no Proj when ``center`` is None:
    both epochs and their typical mistakes."""
    moved = x_t + sign * eta * (smooth_fn(x_t, descend) - x_t)
    return moved if center is None else project(moved, center, eps)


def _check_epoch(name: str, student_epoch: Callable[..., Tensor], forward: bool, variant: int) -> Check:
    """A forward (sign +1, descent steps) or backward (sign -1, ascent steps) epoch against the reference,
    at eta = 0.7 and 0.4, with the reference Proj."""
    x, x_t, smooth_fn = _epoch_inputs(variant)
    sign, descend = (1, True) if forward else (-1, False)
    which, toward, steps = ("forward", "TOWARD the smoothed descent point", "DESCENT steps (descend=True)") if forward else \
        ("backward", "AWAY from the smoothed attack point", "ASCENT steps (descend=False)")
    for eta in (0.7, 0.4):
        got, failed = _run(name, student_epoch, x.clone(), x_t.clone(), EPS, eta, smooth_fn,
                           references=earlier_references("forward_epoch" if forward else "backward_epoch"))
        if failed:
            return failed
        check = _compare(name, got, _epoch(x, x_t, EPS, eta, smooth_fn, sign, descend, x), [
            (_epoch(x, x_t, EPS, eta, smooth_fn, -sign, descend, x), f"wrong sign: the {which} epoch moves {toward}"),
            (_epoch(x, x_t, EPS, eta, smooth_fn, sign, not descend, x), f"the {which} epoch smooths {steps}"),
            (_epoch(x, x_t, EPS, eta, smooth_fn, sign, descend, None),
             "the result is not projected around the ORIGINAL image x: return Proj(..., x, eps) (a projection "
             "around x_t, or none, leaves this move unchanged)"),
            (_epoch(x, x_t, EPS, 1.0, smooth_fn, sign, descend, x), "scale the move by the step size eta"),
        ], ball=(x, EPS), case=f"eta = {eta}")
        if not check.passed:
            return check
    return Check(name, True, "matches the library's epoch at eta = 0.7 and 0.4")


def check_forward_epoch(forward_epoch: Callable[..., Tensor], variant: int = 0) -> Check:
    """Exercise 3: one forward epoch, given Smooth as ``smooth_fn(center, descend)``."""
    return _check_epoch("3. forward epoch", forward_epoch, forward=True, variant=variant)


def check_backward_epoch(backward_epoch: Callable[..., Tensor], variant: int = 0) -> Check:
    """Exercise 4: one backward epoch, given Smooth as ``smooth_fn(center, descend)``."""
    return _check_epoch("4. backward epoch", backward_epoch, forward=False, variant=variant)


# ---- 5. MCGS ---------------------------------------------------------------------------------

def check_mcgs(student_mcgs: Callable[..., Tensor], variant: int = 0) -> Check:
    """Exercise 5: MCGS = one forward epoch from x, then one backward epoch from x_F (schedule "FB"),
    at eta = 1 and 0.5, with the reference epochs (a mistake in Exercises 3-4 is not blamed here)."""
    name = "5. MCGS"
    x, _, smooth_fn = _epoch_inputs(variant)
    forward, backward = reference_forward_epoch, reference_backward_epoch
    for eta in (1.0, 0.5):
        got, failed = _run(name, student_mcgs, x.clone(), EPS, eta, smooth_fn, references=earlier_references("mcgs"))
        if failed:
            return failed
        x_f = forward(x, x, EPS, eta, smooth_fn)
        x_b = backward(x, x, EPS, eta, smooth_fn)
        check = _compare(name, got, backward(x, x_f, EPS, eta, smooth_fn), [
            (x_f, "that is only the forward epoch: follow it with a backward epoch from x_F"),
            (x_b, "that is a backward epoch from x: start it from x_F, the forward epoch's result "
                  "(backward_epoch(x, x_F, ...)), after a forward epoch from x"),
            (forward(x, x_b, EPS, eta, smooth_fn), "wrong order: forward first (F), then backward (B)"),
            (backward(x_f, x_f, EPS, eta, smooth_fn), "project around the original x in the backward epoch too, not x_F"),
            (backward(x, forward(x, x, EPS, 1.0, smooth_fn), EPS, 1.0, smooth_fn),
             "you used eta = 1: pass the step size eta to both epochs"),
        ], ball=(x, EPS), case=f"eta = {eta}")
        if not check.passed:
            return check
    return Check(name, True, "matches the library's MCGS (FB) at eta = 1 and 0.5")


# ---- 6. Preemptive Reversion -------------------------------------------------------------------

def check_reversion(student_reversion: Callable[[Callable[[Tensor], Tensor], Tensor], Tensor], variant: int = 0) -> Check:
    """Exercise 6: x_r = clip01(2 x_p - D(x_p)) (Lemma 4). The defense adds the same perturbation whatever
    its input, so reversion of its release x_p = D(x) gives back the original x wherever no clipping happened:
    the check measures that on the student's x_r."""
    name = "6. Preemptive Reversion"
    x, _ = tiny_batch(_seed(7, variant))
    delta = (torch.rand(x.shape, generator=torch.Generator().manual_seed(_seed(8, variant)), dtype=x.dtype) * 2 - 1) * EPS

    def defense(v: Tensor) -> Tensor:  # the same perturbation whatever the input
        return project(v + delta, v, EPS)

    # an arbitrary image (near the edges 2 x_p - D(x_p) leaves [0, 1] unless clipped), then the defense's release
    for x_p, case in ((x, "x_p an arbitrary image"), (defense(x), "x_p = D(x), the defense's release")):
        got, failed = _run(name, student_reversion, defense, x_p.clone())
        if failed:
            return failed
        check = _compare(name, got, preemptive_reversion(defense, x_p), [
            (defense(x_p), "that applies the defense again; reversion steps the OTHER way: 2 x_p - D(x_p)"),
            (x_p - defense(x_p), "x_r = x_p - (D(x_p) - x_p) = 2 x_p - D(x_p), not x_p - D(x_p)"),
            (2 * x_p - defense(x_p), "clip the reverted image to [0, 1]"),
        ], case=case)
        if not check.passed:
            return check
    unclipped = ((x + 2 * delta) >= 0) & ((x + 2 * delta) <= 1)  # D never clipped these pixels
    error = (got.double() - x).abs()
    return Check(name, True, f"matches the library's reversion; measured on the defense's release: your x_r gives back "
                             f"the original image on the {unclipped.double().mean():.0%} of pixel values the defense "
                             f"never clipped (max |x_r - x| = {error[unclipped].max():.1e}), and differs by up to "
                             f"{error[~unclipped].max() * 255:.1f}/255 where clipping lost information")


# ---- 7. Paired comparison ----------------------------------------------------------------------

def check_mcnemar(student_mcnemar: Callable[[np.ndarray, np.ndarray], float], variant: int = 0) -> Check:
    """Exercise 7: the two-sided exact McNemar p-value of two defenses on the same images; 1.0 when no
    image is discordant."""
    name = "7. exact McNemar"
    from scipy.stats import binomtest

    rng = np.random.default_rng(_seed(9, variant))
    cases = []
    for n, shift in ((60, 0.15), (200, 0.0), (25, 0.3)):
        a = rng.random(n) < 0.6
        cases.append((a, np.where(rng.random(n) < 0.3, ~a, a) & (rng.random(n) > shift)))
    same = rng.random(30) < 0.5
    cases.append((same, same.copy()))  # no discordant pair
    for a, b in cases:
        n, k, m = len(a), int((a & ~b).sum()), int((a ^ b).sum())
        got, failed = _run(name, student_mcnemar, a.copy(), b.copy())
        if m == 0 and (failed is not None and "not implemented" not in failed.message or got is not None and got != 1.0):
            return Check(name, False, "with no discordant pair (the two defenses agree on every image) return 1.0: "
                                      "there is no evidence either way" + (f"; {failed.message}" if failed else f", got {got!r}"))
        if failed:
            return failed
        want = mcnemar_exact(a, b)
        try:
            value = float(got)
        except (TypeError, ValueError):
            return Check(name, False, f"return the p-value as a number, got {type(got).__name__}")
        if abs(value - want) < 1e-9:
            continue
        if m and any(abs(value - binomtest(k, m, 0.5, alternative=side).pvalue) < 1e-9 for side in ("greater", "less")):
            return Check(name, False, "that is one-sided: the claim's test is two-sided")
        if abs(value - binomtest(int(a.sum()), n, 0.5).pvalue) < 1e-9 or abs(value - binomtest(k, n, 0.5).pvalue) < 1e-9:
            return Check(name, False, "count only the discordant images (one defense right, the other wrong)")
        return Check(name, False, f"p = {value:.4g}, expected {want:.4g} (n = {n}): a binomial test of the discordant pairs at 1/2")
    return Check(name, True, "matches the library's exact McNemar test on three seeded pairs and on one without discordance")


CHECKS: dict[str, Callable[..., Check]] = {
    "proj": check_projection, "smooth": check_smooth, "forward_epoch": check_forward_epoch,
    "backward_epoch": check_backward_epoch, "mcgs": check_mcgs, "reversion": check_reversion, "mcnemar": check_mcnemar,
}
"""Each exercise's function name (as the notebook defines it) -> its check, in exercise order."""


def earlier_references(exercise: str) -> dict[str, Callable]:
    """The references an answer to ``exercise`` may call: those of the exercises before it (Exercise 5's MCGS
    composes the reference epochs; Exercise 3's epoch may call Proj but not a reference epoch)."""
    order = list(CHECKS)
    if exercise not in order:
        raise ValueError(f"unknown exercise {exercise!r}; the exercises are {', '.join(order)}")
    return {name: ref for name, ref in REFERENCES.items() if order.index(name) < order.index(exercise)}


def loss(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """Mean CE loss (a helper for the exercises' sanity prints)."""
    with torch.no_grad():
        return float(F.cross_entropy(model(x), y))
