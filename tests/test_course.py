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
CHECKS = course.CHECKS


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
    for source in cells("check"):  # the page's own check cells, on the solutions
        exec(source, ns)  # noqa: S102 - the project's own notebook
    assert all(c.passed for c in ns["checks"].values()) and sorted(ns["checks"]) == sorted(CHECKS)


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


def smooth_labels_interleaved(f, c, y, e, a, noise, descend):
    n = noise.shape[0]
    z = (c.unsqueeze(0) + noise).clamp(0, 1).reshape(-1, *c.shape[1:])
    g = _grad(f, z, y.repeat_interleave(n))
    return project(z + (-1 if descend else 1) * a * g.sign(), c.repeat(n, 1, 1, 1), e).reshape(n, *c.shape).mean(0)


def smooth_unclipped_start(f, c, y, e, a, noise, descend):
    n = noise.shape[0]
    z = (c.unsqueeze(0) + noise).reshape(-1, *c.shape[1:])
    g = _grad(f, z, y.repeat(n))
    return project(z + (-1 if descend else 1) * a * g.sign(), c.repeat(n, 1, 1, 1), e).reshape(n, *c.shape).mean(0)


def smooth_no_sign(f, c, y, e, a, noise, descend):
    n, z, g, centres = _smooth_parts(f, c, y, e, a, noise)
    return project(z + (-1 if descend else 1) * a * g, centres, e).reshape(n, *c.shape).mean(0)


def smooth_calls_library(f, c, y, e, a, noise, descend):
    from mspd_core.smoothing import smooth as library_smooth

    return library_smooth(f, c, y, e, a, n_samples=noise.shape[0], noise=noise, descend=descend)


def proj(v, c, e):  # the notebook's name: later exercises' functions call it
    return torch.minimum(torch.maximum(v, c - e), c + e).clamp(0, 1)


def proj_in_place(v, c, e):
    return v.clamp_(min=c - e, max=c + e).clamp_(0, 1)


def proj_fixed_eps(v, c, e):
    return torch.minimum(torch.maximum(v, c - 8 / 255), c + 8 / 255).clamp(0, 1)


def backward_in_place(x, x_t, eps, eta, smooth_fn):
    s = smooth_fn(x_t, False)
    x_t -= eta * (s - x_t)
    return proj(x_t, x, eps)


def forward_without_proj(x, x_t, eps, eta, smooth_fn):
    return x_t + eta * (smooth_fn(x_t, True) - x_t)


def forward_epoch(x, x_t, eps, eta, smooth_fn):  # in place: Exercise 3 fails it, and Exercise 5 must not blame MCGS
    x_t.add_(eta * (smooth_fn(x_t, True) - x_t))
    return proj(x_t, x, eps)


def backward_epoch(x, x_t, eps, eta, smooth_fn):
    return proj(x_t - eta * (smooth_fn(x_t, False) - x_t), x, eps)


def mcgs_correct(x, eps, eta, smooth_fn):
    x_f = forward_epoch(x, x, eps, eta, smooth_fn)
    return backward_epoch(x, x_f, eps, eta, smooth_fn)


def mcgs_eta_one(x, eps, eta, smooth_fn):
    return backward_epoch(x, forward_epoch(x, x, eps, 1, smooth_fn), eps, 1, smooth_fn)


def mcgs_backward_from_x(x, eps, eta, smooth_fn):
    x_f = forward_epoch(x, x, eps, eta, smooth_fn)  # noqa: F841 - computed, then not used: the mistake
    return backward_epoch(x, x, eps, eta, smooth_fn)


def mcnemar_no_guard(a, b):
    from scipy.stats import binomtest

    k, m = int((a & ~b).sum()), int((a ^ b).sum())
    return binomtest(k, m, 0.5).pvalue


def mcnemar_library(a, b):
    from mspd_core import metrics

    return metrics.mcnemar_exact(a, b)


@pytest.mark.parametrize("wrong, check, message", [
    (lambda v, c, e: v.clamp(0, 1), course.check_projection, "not to the eps-ball"),
    (lambda v, c, e: torch.minimum(torch.maximum(v, c - e), c + e), course.check_projection, "not to [0, 1]"),
    (lambda v, c, e: v[0], course.check_projection, "wrong shape"),
    (proj_in_place, course.check_projection, "changed its input `v` in place"),
    (proj_fixed_eps, course.check_projection, "ball of radius `e`"),
    (lambda v, c, e: project(v, c, e), course.check_projection, "calls the library's `mspd_core.tensors.project`"),
    (project, course.check_projection, "calls the library's `mspd_core.tensors.project`"),
    (smooth_averaging_gradients, course.check_smooth, "averaged gradients"),
    (smooth_wrong_sign, course.check_smooth, "wrong sign"),
    (smooth_no_projection, course.check_smooth, "project each walked point"),
    (smooth_labels_interleaved, course.check_smooth, "repeat_interleave"),
    (smooth_unclipped_start, course.check_smooth, "clip the start points"),
    (smooth_no_sign, course.check_smooth, "signed step"),
    (smooth_calls_library, course.check_smooth, "calls the library's `mspd_core.smoothing"),
    (lambda x, x_t, e, eta, s: proj(x_t - eta * (s(x_t, True) - x_t), x, e), course.check_forward_epoch, "wrong sign"),
    (lambda x, x_t, e, eta, s: proj(x_t + eta * (s(x_t, True) - x_t), x_t, e), course.check_forward_epoch, "ORIGINAL image x"),
    (forward_without_proj, course.check_forward_epoch, "not projected around the ORIGINAL image x"),
    (forward_epoch, course.check_forward_epoch, "changed its input `x_t` in place"),
    (lambda x, x_t, e, eta, s: proj(x_t + (s(x_t, True) - x_t), x, e), course.check_forward_epoch, "step size eta"),
    (lambda x, x_t, e, eta, s: proj(x_t + eta * (s(x_t, False) - x_t), x, e), course.check_backward_epoch, "wrong sign"),
    (backward_in_place, course.check_backward_epoch, "changed its input `x_t` in place"),
    (lambda x, e, eta, s: proj(x + eta * (s(x, True) - x), x, e), course.check_mcgs, "only the forward epoch"),
    (mcgs_eta_one, course.check_mcgs, "you used eta = 1"),
    (mcgs_backward_from_x, course.check_mcgs, "start it from x_F"),
    (lambda d, x_p: d(x_p), course.check_reversion, "applies the defense again"),
    (lambda d, x_p: 2 * x_p - d(x_p), course.check_reversion, "clip the reverted image"),
    (lambda a, b: 0.5, course.check_mcnemar, "expected"),
    (lambda a, b: 1 / 0, course.check_mcnemar, "ZeroDivisionError"),
    (mcnemar_no_guard, course.check_mcnemar, "no discordant pair"),
    (mcnemar_library, course.check_mcnemar, "calls the library's `mspd_core.metrics.mcnemar_exact`"),
])
def test_typical_mistakes_are_named(wrong, check, message):
    result = check(wrong)
    assert not result.passed and message in result.message, result.message


def test_a_later_exercise_is_judged_with_the_reference_earlier_ones():
    """An in-place forward epoch fails Exercise 3, but an MCGS that calls it is judged with the reference epochs."""
    assert not course.check_forward_epoch(forward_epoch).passed
    result = course.check_mcgs(mcgs_correct)
    assert result.passed, result.message


@pytest.mark.parametrize("side", ["greater", "less"])
def test_one_sided_mcnemar_is_named(side):
    from scipy.stats import binomtest

    def one_sided(a, b):
        k, m = int((a & ~b).sum()), int((a ^ b).sum())
        return binomtest(k, m, 0.5, alternative=side).pvalue if m else 1.0

    result = course.check_mcnemar(one_sided)
    assert not result.passed and "two-sided" in result.message


def test_reversion_check_measures_the_recovery():
    import re

    result = course.check_reversion(lambda d, x_p: (2 * x_p - d(x_p)).clamp(0, 1))
    error = re.search(r"max \|x_r - x\| = ([0-9.e+-]+)", result.message)
    assert result.passed and error and float(error.group(1)) < 1e-12, result.message


def test_hidden_cases_use_other_inputs_and_accept_the_solutions():
    ns = namespace("solution")
    for name, check in CHECKS.items():
        assert check(ns[name], variant=1).passed and check(ns[name], variant=987654).passed, name

    public_c = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)

    def memorised(v, c, e):  # right on the public inputs only
        return proj(v, c, e) if torch.equal(c, public_c) else v.clamp(0, 1)

    assert course.check_projection(memorised).passed
    assert not course.check_projection(memorised, variant=1).passed


@pytest.mark.parametrize("exercise, reference", [("forward_epoch", "reference_forward_epoch"),
                                                 ("backward_epoch", "reference_backward_epoch"), ("proj", "project")])
def test_a_reference_handed_in_as_the_answer_fails_the_self_check(exercise, reference):
    """No whitelisted references: an answer that IS the grader's reference (``from mspd_core.course import
    reference_forward_epoch as forward_epoch``) is a call of the library's own answer, even in the notebook."""
    answer = getattr(course, reference, None) or project
    result = CHECKS[exercise](answer)
    assert not result.passed and "calls the library's" in result.message, result.message


def test_every_smooth_diagnosis_differs_from_the_reference():
    """The mistakes check_smooth names give results other than the reference on its inputs: otherwise a
    correct answer could be blamed, or a wrong one pass."""
    f = course.tiny_model(0)
    c, y = course.tiny_batch(2)
    noise = (torch.rand((6, *c.shape), generator=torch.Generator().manual_seed(3), dtype=torch.float64) * 2 - 1) * course.EPS
    want = course.smooth_variant(f, c, y, course.EPS, course.EPS, noise, True)
    for mistake in ({"labels": "interleave"}, {"clip_start": False}, {"signed": False}, {"project_points": False},
                    {"average": "gradients"}):
        other = course.smooth_variant(f, c, y, course.EPS, course.EPS, noise, True, **mistake)
        assert not torch.allclose(other, want, atol=course.TOLERANCE), mistake


def _solution_lines() -> list[str]:
    return [line.strip() for source in cells("solution") for line in source.splitlines()
            if line.strip().startswith("return ") or "autograd.grad(F.cross_entropy(f(z), y.repeat(n)" in line]


def test_committed_student_notebook_has_no_solution_and_every_prompt():
    """course/ (otter-grader's student folder, written by `python scripts/course.py --sync`): seven stubs,
    every exercise's prompt, no solution line, public tests only."""
    import nbformat

    nb = nbformat.read(ROOT / "course" / "course_exercises.ipynb", as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    assert not [line for line in _solution_lines() if line in text]
    answers = [c for c in nb.cells if "otter_answer_cell" in c.metadata.get("tags", []) and c.cell_type == "code"]
    assert len(answers) == 7 and all("raise NotImplementedError" in c.source for c in answers)
    written = [c for c in nb.cells if "otter_answer_cell" in c.metadata.get("tags", []) and c.cell_type == "markdown"]
    assert [c.source for c in written] == ["_Type your answer here, replacing this text._"] * 2  # no model answer
    assert "Why paired?" not in text and "Choose a robust" not in text and "teacher's edition (solutions" not in text
    for heading in ("Exercise 1: the projection", "Exercise 4: a backward epoch", "Exercise 7: comparing"):
        assert heading in text
    assert "y_rep = y.repeat(N)" in text and "return `1.0`" in text
    assert "{exercise-start}" not in text and "{solution-start}" not in text
    tests = sorted(p.stem for p in (ROOT / "course" / "tests").glob("*.py"))
    assert tests == sorted(CHECKS)
    assert not any("hidden=True" in p.read_text() or "variant" in p.read_text() for p in (ROOT / "course" / "tests").glob("*.py"))


def test_every_install_cell_fetches_from_the_configured_repository():
    """One repository URL (_config.yml): the book's twins clone it; the student notebook fetches only the student
    tree (its branch), never the repository with the solutions, and after a restart only moves back into it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("sync_notebooks", ROOT / "scripts" / "sync_notebooks.py")
    sync = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sync)
    url = sync.repository_url()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        install = next(c for c in jupytext.read(path).cells if '"git", "clone"' in c.source)
        assert f'"{url}"' in install.source, path.name
        assert "github.com" not in install.source.replace(url, ""), path.name
    student = jupytext.read(ROOT / "course" / "course_exercises.ipynb")
    install = next(c for c in student.cells if '"git", "clone"' in c.source)
    assert f'"--branch", "course-student", "{url}", "mspd-course"' in install.source
    assert install.source.index('os.chdir("mspd-course")') < install.source.index("find_spec")  # restart-safe
    assert "lock.txt" not in install.source and "-e" not in install.source.split()
    from mspd_core.paths import ZOO_ENV

    assert f'os.environ["{ZOO_ENV}"] = os.path.abspath("zoo")' in install.source  # the tree's zoo, before any import


def test_correct_answers_written_from_the_text_alone_pass():
    """Answers in another style than the solutions (torch.clamp with tensor bounds, expand instead of repeat,
    an explicit binomial sum): what a student who read only the exercise text might write."""
    from math import comb

    def my_proj(v, c, e):
        return torch.clamp(torch.clamp(v, min=c - e, max=c + e), 0.0, 1.0)

    def my_smooth(f, c, y, e, a, noise, descend):
        n, b = noise.shape[0], c.shape[0]
        z = torch.clamp(c[None] + noise, 0, 1).reshape(n * b, *c.shape[1:]).detach().requires_grad_()
        loss = F.cross_entropy(f(z), y.repeat(n), reduction="sum")
        (g,) = torch.autograd.grad(loss, z)
        walked = z.detach() - a * g.sign() if descend else z.detach() + a * g.sign()
        walked = walked.reshape(n, b, *c.shape[1:])
        centre = c[None].expand_as(walked)
        return my_proj(walked, centre, e).mean(dim=0)

    def my_forward(x, x_t, eps, eta, smooth_fn):
        target = smooth_fn(x_t, True)
        return my_proj(x_t + eta * (target - x_t), x, eps)

    def my_backward(x, x_t, eps, eta, smooth_fn):
        target = smooth_fn(x_t, False)
        return my_proj(x_t - eta * (target - x_t), x, eps)

    def my_mcnemar(a, b):
        n01, n10 = int(np.sum(a & ~b)), int(np.sum(~a & b))
        m = n01 + n10
        if m == 0:
            return 1.0
        k = min(n01, n10)
        return min(1.0, 2 * sum(comb(m, i) for i in range(k + 1)) / 2 ** m)

    assert course.check_projection(my_proj).passed
    assert course.check_smooth(my_smooth).passed, course.check_smooth(my_smooth).message
    assert course.check_forward_epoch(my_forward).passed and course.check_backward_epoch(my_backward).passed
    assert course.check_reversion(lambda defense, x_p: torch.clamp(x_p + (x_p - defense(x_p)), 0, 1)).passed
    assert course.check_mcnemar(my_mcnemar).passed, course.check_mcnemar(my_mcnemar).message
