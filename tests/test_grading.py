"""The autograder (mspd_core.grading): each answer runs in its own process where the library cannot be
imported, the checks compare in the grading process, and every cheating trick a review found scores 0 on
the exercise it cheats (the whole-notebook ones 0 of 7), while the solutions score 7 of 7."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import jupytext
import pytest

from mspd_core import course
from mspd_core.grading import (WRITTEN_QUESTIONS, answer_cells, answer_problems, grade_answer, grade_notebook,
                               gradescope_results, read_notebook, written_answers)

ROOT = Path(__file__).resolve().parent.parent
STUDENT = ROOT / "course" / "course_exercises.ipynb"
MASTER = ROOT / "notebooks" / "course_exercises.md"
VARIANT = 4242  # any hidden variant
SECRET = "0123456789abcdef-test-secret"  # any autograder secret


def solutions() -> dict[str, str]:
    """Each exercise's solution cell of the master (the teacher's edition)."""
    found = {}
    for cell in jupytext.read(MASTER).cells:
        if "solution" in cell.metadata.get("tags", []):
            found.update({name: cell.source for name in answer_cells({"cells": [{"cell_type": "code", "source": cell.source}]})})
    return found


def submission(answers: dict[str, str], extra_cells: tuple[str, ...] = ()) -> dict:
    """The committed student notebook with some answer cells replaced (the others stay stubs) and extra cells."""
    nb = json.loads(STUDENT.read_text())
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            for name, answer in answers.items():
                if source.startswith(f"def {name}("):
                    cell["source"] = answer
    nb["cells"] += [{"cell_type": "code", "metadata": {}, "source": s, "outputs": [], "execution_count": None}
                    for s in extra_cells]
    return nb


def write(tmp_path: Path, nb: dict) -> Path:
    path = tmp_path / "submission.ipynb"
    path.write_text(json.dumps(nb))
    return path


# ---- reading a submission ---------------------------------------------------------------------

def test_answer_cells_take_the_last_definition():
    nb = {"cells": [{"cell_type": "code", "source": "def proj(v, c, e):\n    return 1"},
                    {"cell_type": "markdown", "source": "def proj( in text"},
                    {"cell_type": "code", "source": ["import torch\n", "def proj(v, c, e):\n", "    return 2"]},
                    {"cell_type": "code", "source": "print(proj)"}]}
    assert answer_cells(nb) == {"proj": "import torch\ndef proj(v, c, e):\n    return 2"}


def test_the_solutions_pass_the_policy_and_the_stubs_do_too():
    for name, source in solutions().items():
        assert answer_problems(source) == [], name
    assert sorted(solutions()) == sorted(course.CHECKS)


@pytest.mark.parametrize("source, problem", [
    ("from mspd_core.course import reference_forward_epoch as forward_epoch", "imports from `mspd_core.course`"),
    ("import sys\nsys.setprofile(None)", "imports `sys`"),
    ("import mspd_core", "imports `mspd_core`"),
    ("from . import course", "imports from `.`"),
    ("def f():\n    torch.allclose = lambda *a, **k: True", "changes `torch.allclose`"),
    ("import numpy as n\ndef f():\n    n.testing = 1", "changes `n.testing`"),
    ("def f():\n    exec(open('notebooks/course_exercises.md').read())", "uses `exec`"),
    ("from numpy import __builtins__ as B", "imports `__builtins__` from `numpy`"),
    ("from torch.serialization import os as o", "imports `os` from `torch.serialization`"),
    ("from torch.multiprocessing.spawn import time", "imports from `torch.multiprocessing.spawn`"),
    ("f = lambda: 0\ng = f.__code__", "uses the attribute `.__code__`"),
    ("x = getattr(torch, 'allclose')", "uses `getattr`"),
    ("def input(x):\n    return x\ny = input(1)\nz = compile", "uses `compile`"),
    ("m = torch.load('x.pt')", "uses the attribute `.load`"),
    ("b = __builtins__", "uses `__builtins__`"),
    ("def proj(v, c, e) return v", "not valid Python"),
    ("import typing\ndef f(x: \"__import__('os')\"):\n    return typing.get_type_hints(f)", "uses the attribute `.get_type_hints`"),
    ("from typing import get_type_hints", "imports `get_type_hints` from `typing`"),
    ("from collections import namedtuple", "imports `namedtuple` from `collections`"),
    ("def decoy(getattr):\n    return getattr\ndef proj(v, c, e):\n    return getattr(torch, 'x')", "uses `getattr`"),
    ("m = torch._C", "uses the attribute `._C`"),
    ("f = torch.jit.script(lambda x: x)", "uses the attribute `.jit`"),
])
def test_the_policy_names_what_it_refuses(source, problem):
    assert any(problem in p for p in answer_problems(source)), answer_problems(source)


@pytest.mark.parametrize("source", [
    "def smooth(f, c, y, e, a, noise, descend):\n    input = c.clone()\n    return input",  # a name the cell binds
    "%%time\ndef proj(v, c, e):\n    return v",  # an IPython magic
    "proj = lambda v, c, e: v",
    "class Helper(torch.nn.Module):\n    def __init__(self):\n        super().__init__()",
    "def proj(v, c, e):\n    return v\nprint(proj(torch.zeros(1), torch.zeros(1), 0.1))\ngrader.check('proj')",
])
def test_natural_answers_pass_the_policy(source):
    assert answer_problems(source) == []


def test_only_imports_definitions_and_name_assignments_run():
    from mspd_core.grading import runnable_part

    cell = "import torch\nN = 3\ndef proj(v, c, e):\n    return v\nprint(N)\nchecks['proj'] = course.check_projection(proj)\n"
    import ast

    kept = runnable_part(cell)
    assert ast.dump(ast.parse(kept)) == ast.dump(ast.parse("import torch\nN = 3\ndef proj(v, c, e):\n    return v\n"))
    blocks = "LOW, HIGH = 0.0, 1.0\ntry:\n    from scipy.stats import binomtest\nexcept ImportError:\n    binomtest = None\n"
    assert ast.dump(ast.parse(runnable_part(blocks + "print(LOW)\n"))) == ast.dump(ast.parse(blocks))


def test_written_answers_are_collected(tmp_path):
    nb = read_notebook(STUDENT)
    answers = written_answers(nb)
    assert sorted(answers) == sorted(WRITTEN_QUESTIONS)
    for cell in nb["cells"]:
        if "otter_answer_cell" in cell.get("metadata", {}).get("tags", []) and cell["cell_type"] == "markdown":
            cell["source"] = "Because the pairing removes the images' own variation."
            break
    assert written_answers(nb)["mcnemar_why"] == "Because the pairing removes the images' own variation."
    results = gradescope_results(grade_notebook(write(tmp_path, {"cells": "no"}), SECRET))
    assert results["score"] == 0 and "not graded" in results["output"]


# ---- grading: one exercise at a time (each in its own process) ---------------------------------

CHEATS = {  # each scored 5/7 or more with no work under in-process grading (issue 36); each must score 0
    "reference import": ("forward_epoch", "from mspd_core.course import reference_forward_epoch as forward_epoch\n"
                                          "def forward_epoch(x, x_t, eps, eta, smooth_fn):\n"
                                          "    return reference_forward_epoch(x, x_t, eps, eta, smooth_fn)"),
    "setprofile": ("proj", "import sys\nfrom mspd_core.tensors import project\n\n"
                           "def proj(v, c, e):\n    sys.setprofile(None)\n    return project(v, c, e)"),
    "relabelled code": ("proj", "import types\nfrom mspd_core.tensors import project\n\n"
                                "def proj(v, c, e):\n    raise NotImplementedError\n\n"
                                "proj = types.FunctionType(project.__code__.replace(co_filename='<ipython-input-3>'), "
                                "project.__globals__, 'proj')"),
    "allclose": ("proj", "def proj(v, c, e):\n    return v\n\ntorch.allclose = lambda *a, **k: True"),
    "allclose through an alias": ("proj", "t = torch\nt.allclose = lambda *a, **k: True\n\ndef proj(v, c, e):\n    return v"),
    "exec from disk": ("reversion", "src = open('../notebooks/course_exercises.md').read()\n"
                                    "exec(src.split('def reversion')[1].join(['def reversion', '']))\n"
                                    "def reversion(defense, x_p):\n    return x_p"),
    "library through a module's globals": ("proj", "def proj(v, c, e):\n"
                                                   "    return torch.nn.functional.__dict__['torch'].clamp(v, c - e, c + e)"),
    "import at call time": ("mcgs", "def mcgs(x, eps, eta, smooth_fn):\n"
                                    "    import importlib\n    m = importlib.import_module('mspd_core.defenses.mspd')\n"
                                    "    return m.mcgs(x, eps, eta, smooth_fn)"),
}


@pytest.mark.parametrize("trick", sorted(CHEATS))
def test_each_cheating_trick_scores_zero(trick):
    name, source = CHEATS[trick]
    grade = grade_answer(name, source, VARIANT)
    assert grade.score == 0.0, (trick, grade.message)


def test_the_library_cannot_be_imported_where_an_answer_runs():
    """Past the policy (here: called directly), the answer's process still has no companion to import."""
    from mspd_core.course_sandbox import SandboxedAnswer

    source = "def proj(v, c, e):\n    from mspd_core.tensors import project\n    return project(v, c, e)"
    with SandboxedAnswer("proj", source) as answer:
        check = course.check_projection(answer)
    assert not check.passed and any(m in check.message for m in ("ModuleNotFoundError", "ImportError", "refused importing")), \
        check.message


def test_a_sandboxed_answer_is_judged_like_the_same_function_in_process():
    """The boundary changes nothing for honest answers: the same messages, a changed input seen, a crash named."""
    from mspd_core.course_sandbox import SandboxedAnswer

    in_place = "def proj(v, c, e):\n    return v.clamp_(min=c - e, max=c + e).clamp_(0, 1)"
    with SandboxedAnswer("proj", in_place) as answer:
        assert "changed its input `v` in place" in course.check_projection(answer).message
    crash = "def proj(v, c, e):\n    return v[100]"
    with SandboxedAnswer("proj", crash) as answer:
        assert "your function raised IndexError" in course.check_projection(answer).message
    helper = "def proj(v, c, e):\n    return my_helper(v)"
    assert "put helpers and imports in the same cell" in grade_answer("proj", helper, VARIANT).message
    endless = "def proj(v, c, e):\n    while True:\n        pass"
    with SandboxedAnswer("proj", endless, call_timeout=3) as answer:
        assert "no result within 3 s" in course.check_projection(answer).message


def test_hidden_cases_catch_an_answer_tuned_to_the_public_ones():
    """Right on the public inputs only: half a point, and the message says the hidden cases failed."""
    import torch

    public_corner = PUBLIC_CORNER
    tuned = ("def proj(v, c, e):\n"
             f"    if abs(float(c[0, 0, 0, 0]) - {public_corner!r}) < 1e-12:\n"
             "        return torch.minimum(torch.maximum(v, c - e), c + e).clamp(0, 1)\n"
             "    return v.clamp(0, 1)")
    grade = grade_answer("proj", tuned, VARIANT)
    assert grade.score == 0.5 and "not the hidden ones" in grade.message and "differs" in grade.message, grade


def test_each_submission_has_its_own_hidden_cases():
    """A variant a submission finds out (by search, from its own inputs) is no use to any other notebook."""
    from mspd_core.grading import hidden_variant

    one, other = hidden_variant(SECRET, b'{"cells": []}'), hidden_variant(SECRET, b'{"cells": [] }')
    assert one != other and hidden_variant(SECRET, b'{"cells": []}') == one and 1 <= one <= 10**6
    assert hidden_variant("another-secret-0123", b'{"cells": []}') != one


def test_hidden_failures_echo_nothing_of_the_answer():
    leak = ("def proj(v, c, e):\n    if float(c[0, 0, 0, 0]) > 0.99 or True:\n"
            "        raise ValueError(f'the hidden input starts with {float(c[0, 0, 0, 0])!r}')")
    public_ok = ("def proj(v, c, e):\n    out = torch.minimum(torch.maximum(v, c - e), c + e).clamp(0, 1)\n"
                 f"    if abs(float(c[0, 0, 0, 0]) - {PUBLIC_CORNER!r}) > 1e-12:\n"
                 "        raise ValueError(f'the hidden input starts with {float(c[0, 0, 0, 0])!r}')\n    return out")
    assert grade_answer("proj", leak, VARIANT).score == 0.0
    grade = grade_answer("proj", public_ok, VARIANT)
    assert grade.score == 0.5 and "hidden input starts" not in grade.message, grade


PUBLIC_CORNER = 0.06105327471962363  # c[0, 0, 0, 0] of check_projection's public input (seed 1); a test checks it


def test_the_public_corner_is_the_checks_input():
    import torch

    g = torch.Generator().manual_seed(1)
    assert float(torch.rand(4, 3, 8, 8, generator=g, dtype=torch.float64)[0, 0, 0, 0]) == PUBLIC_CORNER


# ---- whole notebooks ---------------------------------------------------------------------------

OTTER_CHECKER = ("from otter.check.checker import Checker\n"
                 "Checker.get_results = classmethod(lambda cls: {'proj': 1})\nprint('7 of 7 checks passed')")
NO_OP_GRADING = ("import mspd_core, pathlib, tempfile\nd = tempfile.mkdtemp()\n"
                 "pathlib.Path(d, 'grading.py').write_text('def grade(*a, **k): pass')\n"
                 "mspd_core.__spec__.origin = str(pathlib.Path(d, '__init__.py'))")


@pytest.mark.parametrize("extra", [OTTER_CHECKER, NO_OP_GRADING], ids=["otter's Checker rewritten", "no-op grading.py"])
def test_whole_notebook_tricks_score_nothing(tmp_path, extra):
    grade = grade_notebook(write(tmp_path, submission({}, (extra,))), SECRET)
    assert grade.total == 0.0 and all("not implemented yet" in e.message for e in grade.exercises), grade


def test_the_solutions_score_seven_and_a_mixed_submission_its_own_points(tmp_path):
    grade = grade_notebook(write(tmp_path, submission(solutions())), SECRET)
    assert grade.total == 7.0, [(e.exercise, e.message) for e in grade.exercises]
    mixed = dict(CHEATS.values())
    mixed["mcnemar"] = solutions()["mcnemar"]
    grade = grade_notebook(write(tmp_path, submission(mixed)), SECRET)
    assert {e.exercise: e.score for e in grade.exercises} == {name: float(name == "mcnemar") for name in course.CHECKS}


# ---- the answer's process: what holds when the policy is bypassed (a red-team review, 2026-12-07) --------

BEHIND_THE_POLICY = {  # each reaches outside the answer's code; called directly, past answer_problems
    "kill the grader": "from torch.serialization import os as o\ndef proj(v, c, e):\n    o.kill(o.getppid(), 9)\n    return v",
    "fork": "from torch.serialization import os as o\ndef proj(v, c, e):\n    o.fork()\n    return v",
    "re-import the library": "from torch.serialization import sys as s\ndef proj(v, c, e):\n"
                             "    del s.modules['mspd_core']\n    import mspd_core.tensors as t\n    return t.project(v, c, e)",
    "read the grader's command line": "from torch.serialization import os as o\ndef proj(v, c, e):\n"
                                      "    o.open(f'/proc/{o.getppid()}/cmdline', o.O_RDONLY)\n    return v",
    "eval through builtins": "from numpy import __builtins__ as B\ndef proj(v, c, e):\n"
                             "    return B['eval']('v.clamp(0, 1)', {'v': v})",
    "empty the hook's lists": "from torch.serialization import sys as s, os as o\ndef proj(v, c, e):\n"
                              "    worker = s.modules['__main__']\n    worker.REFUSED_EVENTS = ()\n"
                              "    o.system('true')\n    return v",
    "fork_exec (no audit event)": "from torch.serialization import sys as s, os as o\ndef proj(v, c, e):\n"
                                  "    fork_exec = s.modules['_posixsubprocess'].fork_exec\n    r, w = o.pipe()\n"
                                  "    fork_exec([s.executable, '-c', 'pass'], [s.executable.encode()], True, (w,), o.getcwd(), None,"
                                  " -1, -1, -1, -1, -1, -1, r, w, True, False, -1, None, None, None, -1, None, False)\n"
                                  "    return v",
    "write a file elsewhere": "def proj(v, c, e):\n    from torch.serialization import os as o\n"
                              "    o.open('/tmp/mspd-forged.json', o.O_WRONLY | o.O_CREAT)\n    return v",
}


@pytest.mark.parametrize("door", sorted(BEHIND_THE_POLICY))
def test_the_audit_hook_refuses_what_the_policy_misses(door):
    import os

    from mspd_core.course_sandbox import SandboxedAnswer

    if door.startswith("fork_exec") and os.geteuid() != 0:
        pytest.skip("only layer 3 (another user, no new processes: grading as root) stops fork_exec")
    with SandboxedAnswer("proj", BEHIND_THE_POLICY[door], references=course.earlier_references("proj")) as answer:
        check = course.check_projection(answer)
    refused = "sandbox refused" in check.message or (answer.isolated and "Resource temporarily unavailable" in check.message)
    assert not check.passed and refused, (door, check.message)
    assert not Path("/tmp/mspd-forged.json").exists()


def test_callbacks_take_keywords_and_serve_a_cell_that_calls_them_at_the_top():
    answer = ("def forward_epoch(x, x_t, eps, eta, smooth_fn):\n"
              "    return proj(x_t + eta * (smooth_fn(x_t, descend=True) - x_t), x, e=eps)\n"
              "probe = proj(torch.tensor([1.5]), torch.tensor([0.9]), 0.2)\n")
    assert grade_answer("forward_epoch", answer, VARIANT).score == 1.0


@pytest.mark.parametrize("result", ["torch.empty(v.shape, device='meta', dtype=v.dtype)", "torch.complex(v, v)",
                                    "v.clamp(0, 1).to_sparse()"])
def test_a_strange_result_scores_zero_and_never_crashes_the_grader(result):
    grade = grade_answer("proj", f"def proj(v, c, e):\n    return {result}", VARIANT)
    assert grade.score == 0.0 and grade.message


def test_callbacks_count_against_the_call_s_time_limit():
    from mspd_core.course_sandbox import SandboxedAnswer

    endless = "def forward_epoch(x, x_t, eps, eta, smooth_fn):\n    while True:\n        proj(x_t, x, eps)"
    with SandboxedAnswer("forward_epoch", endless, references=course.earlier_references("forward_epoch"),
                         call_timeout=3) as answer:
        message = course.check_forward_epoch(answer).message
    assert "no result within 3 s" in message or "more than 10000 times" in message, message  # whichever bound comes first
    # (a timeout in the middle of a frame once read as "sent something that is not a result": CI caught it 1 run in 2)


@pytest.mark.parametrize("notebook", [{"cells": [1]}, {"cells": [{"cell_type": "code", "source": [1, 2]}]},
                                      {"cells": [{"cell_type": "code", "source": "def proj(v, c, e):\n    return " +
                                                  "-" * 200_000 + "v"}]},
                                      {"cells": [{"cell_type": "markdown", "metadata": [], "source": "x"}]}])
def test_malformed_notebooks_are_graded_not_crashed(tmp_path, notebook):
    grade = grade_notebook(write(tmp_path, notebook), SECRET)
    assert grade.total == 0.0 and len(grade.exercises) == 7
