"""The course: every solution of the notebook passes its check, every stub fails it with "not
implemented yet", and typical mistakes are caught with the message that names them."""
from __future__ import annotations

from pathlib import Path

import jupytext
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mspd_core import course
from mspd_core.tensors import project

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "course_exercises.md"
CHECKS = {"proj": course.check_projection, "smooth": course.check_smooth, "forward_epoch": course.check_forward_epoch,
          "backward_epoch": course.check_backward_epoch, "mcgs": course.check_mcgs, "reversion": course.check_reversion,
          "mcnemar": course.check_mcnemar}


def cells(tag: str) -> list[str]:
    return [c.source for c in jupytext.read(NOTEBOOK).cells if tag in c.metadata.get("tags", [])]


def namespace(tag: str) -> dict:
    """Run the notebook's cells with ``tag`` (solutions or stubs) as a student would, checks stubbed out."""
    ns = {"np": np, "torch": torch, "F": F, "course": course, "checks": {}}
    for source in cells(tag):
        exec(source, ns)  # noqa: S102 - the project's own notebook
    return ns


def test_every_solution_passes_its_check():
    ns = namespace("solution")
    for name, check in CHECKS.items():
        result = check(ns[name])
        assert result.passed, f"{name}: {result.message}"
    assert all(c.passed for c in ns["checks"].values()) and len(ns["checks"]) == len(CHECKS)


def test_every_stub_fails_with_not_implemented():
    ns = namespace("stub")
    for name, check in CHECKS.items():
        result = check(ns[name])
        assert not result.passed and "not implemented yet" in result.message, name
    assert course.score([check(ns[name]) for name, check in CHECKS.items()]) == (0, len(CHECKS))


def _grad(f, z, y):
    z = z.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(F.cross_entropy(f(z), y, reduction="sum"), z)
    return g


def _smooth_parts(f, c, y, e, a, noise):
    n = noise.shape[0]
    z = (c.unsqueeze(0) + noise).clamp(0, 1).reshape(-1, *c.shape[1:])
    return n, z, _grad(f, z, y.repeat(n)), c.repeat(n, 1, 1, 1)


def smooth_averaging_gradients(f, c, y, e, a, noise, descend):
    n, z, g, _ = _smooth_parts(f, c, y, e, a, noise)
    sign = -1 if descend else 1
    return project(c + sign * a * g.reshape(n, *c.shape).mean(0).sign(), c, e)


def smooth_wrong_sign(f, c, y, e, a, noise, descend):
    n, z, g, centres = _smooth_parts(f, c, y, e, a, noise)
    sign = 1 if descend else -1
    return project(z + sign * a * g.sign(), centres, e).reshape(n, *c.shape).mean(0)


def smooth_no_projection(f, c, y, e, a, noise, descend):
    n, z, g, _ = _smooth_parts(f, c, y, e, a, noise)
    sign = -1 if descend else 1
    return (z + sign * a * g.sign()).reshape(n, *c.shape).mean(0)


@pytest.mark.parametrize("wrong, check, message", [
    (lambda v, c, e: v.clamp(0, 1), course.check_projection, "not to the eps-ball"),
    (lambda v, c, e: torch.minimum(torch.maximum(v, c - e), c + e), course.check_projection, "not to [0, 1]"),
    (lambda v, c, e: v[0], course.check_projection, "wrong shape"),
    (smooth_averaging_gradients, course.check_smooth, "averaged gradients"),
    (smooth_wrong_sign, course.check_smooth, "wrong sign"),
    (smooth_no_projection, course.check_smooth, "project each walked point"),
    (lambda x, x_t, e, eta, s: project(x_t - eta * (s(x_t, True) - x_t), x, e), course.check_forward_epoch, "wrong sign"),
    (lambda x, x_t, e, eta, s: project(x_t + eta * (s(x_t, True) - x_t), x_t, e), course.check_forward_epoch, "ORIGINAL image x"),
    (lambda x, x_t, e, eta, s: project(x_t + eta * (s(x_t, False) - x_t), x, e), course.check_backward_epoch, "wrong sign"),
    (lambda x, e, eta, s: project(x + eta * (s(x, True) - x), x, e), course.check_mcgs, "only the forward epoch"),
    (lambda d, x_p: d(x_p), course.check_reversion, "applies the defense again"),
    (lambda d, x_p: 2 * x_p - d(x_p), course.check_reversion, "clip the reverted image"),
    (lambda a, b: 0.5, course.check_mcnemar, "expected"),
    (lambda a, b: 1 / 0, course.check_mcnemar, "ZeroDivisionError"),
])
def test_typical_mistakes_are_named(wrong, check, message):
    result = check(wrong)
    assert not result.passed and message in result.message, result.message


def test_one_sided_mcnemar_is_named():
    from scipy.stats import binomtest

    def one_sided(a, b):
        k, m = int((a & ~b).sum()), int((a ^ b).sum())
        return binomtest(k, m, 0.5, alternative="greater").pvalue if m else 1.0

    result = course.check_mcnemar(one_sided)
    assert not result.passed and "two-sided" in result.message


def _solution_lines() -> list[str]:
    return [line.strip() for source in cells("solution") for line in source.splitlines()
            if line.strip().startswith("return ") or "autograd.grad(F.cross_entropy(f(z), y.repeat(n)" in line]


def test_student_notebook_has_no_solution():
    import importlib.util

    spec = importlib.util.spec_from_file_location("course_build", ROOT / "scripts" / "course.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    nb = build.student_notebook()
    text = "\n".join(c.source for c in nb.cells)
    assert "{solution-start}" not in text and "{solution-end}" not in text
    assert not any("solution" in c.metadata.get("tags", []) for c in nb.cells)
    lines = _solution_lines()
    assert lines and not [line for line in lines if line in text]
    assert sum("stub" in c.metadata.get("tags", []) for c in nb.cells) == 6

