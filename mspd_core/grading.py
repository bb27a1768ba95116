"""The course's autograder: a submitted notebook in, each exercise's score and message out.

    python -m mspd_core.grading submission.ipynb -a _build/course/autograder/autograder.zip -o graded/

The notebook is read, never executed as a whole. For each exercise

1. its answer is the last code cell that defines the exercise's function (:func:`answer_cells`), of which
   only the imports, definitions and assignments to names run (:func:`runnable_part`);
2. the cell is read (not run) and refused if it imports anything but torch, NumPy, SciPy, math and a
   few standard helpers (or a refused name from them), or uses the doors out of its own code:
   ``exec``/``eval``/``open``/``getattr``..., private and dunder attributes (``_C``, ``__code__``),
   ``sys``/``os``/``load``/``jit``... attributes, or assignments to a module's attributes
   (:func:`answer_problems`);
3. the cell runs in a fresh Python process where the companion cannot be imported and an audit hook
   refuses what the reading misses: new imports, ``compile``/``exec``, files outside Python's
   installation, processes, signals, sockets, ``ctypes`` (:class:`mspd_core.course_sandbox.SandboxedAnswer`,
   :mod:`mspd_core.course_worker`), with only the earlier exercises' references callable; the check of
   :mod:`mspd_core.course` runs here, in the grading process, on the public cases and then on the
   hidden ones (a variant kept in the autograder zip).

Half a point for the public cases, half for the hidden ones. So printing "7 of 7", overwriting the
checks, otter's ``Checker``, ``torch.allclose`` or ``sys.setprofile``, importing the grader's
references, or pointing the library at another ``grading.py`` all leave the answer's score what its
code earns. The written answers (Exercise 7's "why", the open question) are collected for grading by
hand. What a determined student can still try, and what to look for, is on the teacher's page.
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import hmac
import re
import html
import json
import sys
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .course import CHECKS, earlier_references

NOTEBOOK_ANSWER_NAMES = {name: f"def {name}(" for name in CHECKS}
ALLOWED_MODULES = frozenset({"torch", "numpy", "scipy", "math", "functools", "itertools", "collections", "typing",
                             "__future__"})
FORBIDDEN_NAMES = frozenset({"exec", "eval", "compile", "open", "__import__", "globals", "locals", "vars", "getattr",
                             "setattr", "delattr", "breakpoint", "memoryview", "get_type_hints", "ForwardRef",
                             "namedtuple"})
"""Builtins and helpers that open a door (or compile code: namedtuple, typing's string annotations), refused wherever
the name appears, bound or not (binding ``getattr`` in one function must not free it in another)."""
FORBIDDEN_ATTRIBUTES = frozenset({
    "sys", "os", "builtins", "importlib", "subprocess", "multiprocessing", "modules", "ctypes", "ctypeslib",
    "cpp_extension", "load", "loads", "load_inline", "load_library", "fromfile", "loadtxt", "genfromtxt", "memmap",
    "read_array", "package", "PackageImporter", "import_module", "system", "popen", "hub", "jit", "fx", "f2py",
    "from_file", "DataSource", "io", "pickle", "marshal", "dill", "cloudpickle", "shelve", "runpy", "code", "codeop",
    "types", "inspect", "gc", "posix", "signal", "socket", "threading", "distributed", "mmap", "shutil", "pathlib",
    "f_back", "f_globals", "f_locals", "f_builtins", "f_code", "gi_frame", "cr_frame", "ag_frame", "tb_frame",
    "get_type_hints", "ForwardRef", "namedtuple",
})
ALLOWED_DUNDERS = frozenset({"__init__"})  # super().__init__() in a helper class
MAGIC = re.compile(r"^[ \t]*[%!].*$", re.M)  # IPython line and cell magics (%%time, !pip ...): not Python
WRITTEN_QUESTIONS = {"mcnemar_why": "Exercise 7: why is a paired test better than two separate intervals?",
                     "open_question": "Open question: why does a non-robust backbone not transfer?"}
"""The questions graded by hand (otter's manual questions): name -> what it asks."""
OTTER_ANSWER_PROMPT = "_Type your answer here, replacing this text._"  # otter's empty written-answer cell
GRADING_FILE = "grading.json"  # inside the autograder zip: the hidden cases' secret, the exercises


def cell_source(cell) -> str:
    """A cell's text (a string or nbformat's list of lines); "" for anything else."""
    if not isinstance(cell, dict):
        return ""
    source = cell.get("source", "")
    if isinstance(source, list):
        return "".join(line for line in source if isinstance(line, str))
    return source if isinstance(source, str) else ""


def parse_cell(source: str) -> ast.Module | None:
    """The cell as Python (IPython magics blanked out), or None when it is not Python."""
    try:
        return ast.parse(MAGIC.sub("", source))
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def _defines(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
        return [node.target.id]
    return []


def answer_cells(notebook: dict) -> dict[str, str]:
    """Each exercise's answer: the source of the LAST code cell defining its function at the top level (``def`` or
    ``name = lambda ...``; a notebook runs top to bottom, so a later definition wins). Exercises no cell defines are
    absent."""
    found: dict[str, str] = {}
    cells = notebook.get("cells", []) if isinstance(notebook, dict) else []
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell_source(cell)
        tree = parse_cell(source)
        if tree is None:
            names = [n for n, start in NOTEBOOK_ANSWER_NAMES.items() if start in source]
        else:
            names = [name for node in tree.body for name in _defines(node) if name in CHECKS]
        for name in names:
            found[name] = source
    return found


def _module_level(node: ast.stmt) -> bool:
    """An import, a definition, an assignment to names (``N = 3``, ``LOW, HIGH = 0.0, 1.0``), or a ``try``/``if``
    made of these alone: what a module's top level holds."""
    def names_only(target: ast.expr) -> bool:
        if isinstance(target, (ast.Tuple, ast.List)):
            return all(names_only(t) for t in target.elts)
        return isinstance(target, ast.Name) or (isinstance(target, ast.Starred) and names_only(target.value))

    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Pass)):
        return True
    if isinstance(node, ast.Assign):
        return all(names_only(t) for t in node.targets)
    if isinstance(node, (ast.AnnAssign, ast.AugAssign)):
        return names_only(node.target)
    if isinstance(node, ast.If):
        return all(_module_level(n) for n in [*node.body, *node.orelse])
    if isinstance(node, ast.Try):
        return all(_module_level(n) for n in [*node.body, *node.orelse, *node.finalbody]) and \
            all(_module_level(n) for handler in node.handlers for n in handler.body)
    return False


def runnable_part(source: str) -> str:
    """What of an answer cell runs when it is graded: its module-level statements (imports, definitions, assignments
    to names, ``try``/``if`` blocks of these), in order. Everything else at the top level (a check call, a print, a
    sanity test) is left out."""
    tree = parse_cell(source)
    if tree is None:
        return source
    return "\n".join(ast.unparse(node) for node in tree.body if _module_level(node)) + "\n"


def is_stub(source: str) -> bool:
    """Whether an answer cell is still the student notebook's stub: one function whose body only raises
    ``NotImplementedError`` (graded "not implemented yet" without starting a process)."""
    tree = parse_cell(source)
    if tree is None or len(tree.body) != 1 or not isinstance(tree.body[0], ast.FunctionDef):
        return False
    body = tree.body[0].body
    return len(body) == 1 and isinstance(body[0], ast.Raise) and isinstance(body[0].exc, (ast.Name, ast.Call)) and \
        ast.unparse(body[0].exc).split("(")[0] == "NotImplementedError"


def _imported_names(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names |= {a.asname or a.name for a in node.names}
    return names | {"torch", "np", "F"}


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _refused_attribute(name: str) -> bool:
    return (name.startswith("_") and name not in ALLOWED_DUNDERS) or name in FORBIDDEN_ATTRIBUTES


def answer_problems(source: str) -> list[str]:
    """Why an answer cell is refused without being run (empty when it may run): not Python, an import outside
    ``ALLOWED_MODULES`` or of a refused name (``from numpy import __builtins__``, ``from torch.serialization import
    os``), a forbidden builtin the cell does not define itself, a private, dunder or forbidden attribute, or an
    assignment to an attribute of a module (``torch.allclose = ...``). Only :func:`runnable_part` is judged (and run).
    The audit hook of :mod:`mspd_core.course_worker` refuses at run time what this reading misses."""
    tree = parse_cell(runnable_part(source))
    if tree is None:
        original = parse_cell(source)
        if original is None:
            try:
                ast.parse(MAGIC.sub("", source))
            except SyntaxError as err:
                return [f"the cell is not valid Python (line {err.lineno}: {err.msg})"]
            except (ValueError, MemoryError, RecursionError) as err:
                return [f"the cell is not valid Python ({type(err).__name__})"]
        return ["the cell is not valid Python"]
    problems: list[str] = []
    modules = _imported_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            problems += [f"imports `{a.name}`" for a in node.names if a.name.split(".")[0] not in ALLOWED_MODULES
                         or any(_refused_attribute(part) for part in a.name.split(".")[1:])]
        elif isinstance(node, ast.ImportFrom):
            path = (node.module or "").split(".")
            if node.level or path[0] not in ALLOWED_MODULES or any(_refused_attribute(part) for part in path[1:]):
                problems.append(f"imports from `{'.' * node.level}{node.module or ''}`")
            problems += [f"imports `{a.name}` from `{node.module}`" for a in node.names
                         if a.name == "*" or _refused_attribute(a.name) or a.name in FORBIDDEN_NAMES]
        elif isinstance(node, ast.Name) and (node.id in FORBIDDEN_NAMES or node.id.startswith("__")):
            problems.append(f"uses `{node.id}`")
        elif isinstance(node, (ast.arg, ast.FunctionDef, ast.ClassDef)) and \
                (node.arg if isinstance(node, ast.arg) else node.name) in FORBIDDEN_NAMES:
            problems.append(f"uses `{node.arg if isinstance(node, ast.arg) else node.name}`")
        elif isinstance(node, ast.Attribute):
            own = isinstance(node.value, ast.Name) and node.value.id == "self" and not node.attr.startswith("__")
            if _refused_attribute(node.attr) and not own:  # private attributes: the libraries' internals (self._x is fine)
                problems.append(f"uses the attribute `.{node.attr}`")
            if isinstance(node.ctx, (ast.Store, ast.Del)) and _root_name(node) in modules:
                problems.append(f"changes `{ast.unparse(node)}`, a library's own attribute")
        elif isinstance(node, ast.Global) and set(node.names) & modules:
            problems.append("rebinds a module with `global`")
    return sorted(set(problems), key=problems.index)


def written_answers(notebook: dict) -> dict[str, str]:
    """The answers to the questions graded by hand, by question name: the markdown cell after each manual
    question's prompt (otter assign marks manual questions with ``<!-- BEGIN QUESTION -->`` comments)."""
    answers: dict[str, str] = {}
    cells = notebook.get("cells", [])
    names = iter(WRITTEN_QUESTIONS)
    current = None
    for cell in cells if isinstance(cells, list) else []:
        source = cell_source(cell)
        if not isinstance(cell, dict) or cell.get("cell_type") != "markdown":
            continue
        if "<!-- BEGIN QUESTION -->" in source:
            current = next(names, None)
            if current is not None:
                answers[current] = ""
            continue
        metadata = cell.get("metadata")
        tags = metadata.get("tags", []) if isinstance(metadata, dict) else []
        if current is not None and isinstance(tags, list) and "otter_answer_cell" in tags:
            answers[current] = "" if source.strip() == OTTER_ANSWER_PROMPT else source.strip()
            current = None
    return answers


@dataclass
class ExerciseGrade:
    """One exercise: its score (0, 0.5 or 1) and what the student should read."""

    exercise: str
    score: float
    message: str
    possible: float = 1.0


@dataclass
class SubmissionGrade:
    """One submission: the exercises' grades, the written answers, or why it could not be graded."""

    submission: str
    exercises: list[ExerciseGrade] = field(default_factory=list)
    written: dict[str, str] = field(default_factory=dict)
    error: str = ""

    @property
    def total(self) -> float:
        return float(sum(e.score for e in self.exercises))

    @property
    def possible(self) -> float:
        return sum(e.possible for e in self.exercises) if self.exercises else float(len(CHECKS))


def _sandboxed(name: str, source: str):
    """The answer's runnable part (:func:`runnable_part`) started in its own process."""
    from .course_sandbox import SandboxedAnswer

    return SandboxedAnswer(name, runnable_part(source), references=earlier_references(name))


def grade_answer(name: str, source: str | None, variant: int, answer=None) -> ExerciseGrade:
    """One exercise: refused unread, or run in its own process on the public cases (half a point) and on the
    hidden ``variant`` (the other half). ``answer`` is a started :class:`SandboxedAnswer` of ``source``."""
    title = CHECKS[name].__doc__.split(":")[0].strip()
    if source is None:
        return ExerciseGrade(name, 0.0, f"no code cell defines `{name}(...)`: {title} was not answered")
    if is_stub(source):
        if answer is not None:
            answer.close()
        return ExerciseGrade(name, 0.0, "not implemented yet: replace `raise NotImplementedError` with your code")
    problems = answer_problems(source)
    if problems:
        if answer is not None:
            answer.close()
        return ExerciseGrade(name, 0.0, "not graded: your answer cell " + "; ".join(problems) + ". Answers may import "
                             "only torch, numpy, scipy, math and functools/itertools/collections, and must not "
                             "reach outside their own code")
    answer = answer if answer is not None else _sandboxed(name, source)
    with answer:
        try:
            public = CHECKS[name](answer, variant=0)
            if not public.passed:
                return ExerciseGrade(name, 0.0, _hint(public.message))
            hidden = CHECKS[name](answer, variant=variant)
        except Exception as err:  # noqa: BLE001 - a result the check cannot even compare: 0, never a crashed grader
            return ExerciseGrade(name, 0.0, f"your result could not be compared with the reference ({type(err).__name__}: "
                                            f"{str(err)[:200]}): return a real-valued tensor (or number) on the CPU")
    if not hidden.passed:  # no detail: the hidden cases' values and the answer's own words stay out of the feedback
        how = "your function raised an error" if hidden.message.startswith("your function raised") else \
            "your result differs from the reference"
        return ExerciseGrade(name, 0.5, f"passes the public cases, but not the hidden ones (other seeded inputs): {how} "
                                        "there. Check what your code assumes about its inputs")
    return ExerciseGrade(name, 1.0, f"{public.message}; passes the hidden cases too")


def _hint(message: str) -> str:
    if "NameError" in message:
        return message + " (the grader runs each exercise's answer cell on its own, with torch, np, F and the earlier " \
                         "exercises' functions: put helpers and imports in the same cell)"
    return message


def read_notebook(path: Path) -> dict:
    """The submission as JSON (nbformat 4); ``ValueError`` saying why when it is not a notebook."""
    try:
        notebook = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"not a readable notebook ({type(err).__name__}: {err})") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise ValueError("not a Jupyter notebook (no list of cells)")
    return notebook


def hidden_variant(secret: str, submission: bytes) -> int:
    """The hidden cases' variant of one submission: an HMAC of the notebook's bytes under the autograder's secret,
    so a variant a submission learns (it could find its own by search) is useless to any other notebook."""
    return int(hmac.new(secret.encode(), submission, hashlib.sha256).hexdigest()[:12], 16) % 10**6 + 1


def grade_notebook(path: Path, secret: str, label: str | None = None) -> SubmissionGrade:
    """Every exercise of one submitted notebook (its processes started together, graded one after the other), the
    hidden cases drawn for this notebook (:func:`hidden_variant`)."""
    grade = SubmissionGrade(label or Path(path).name)
    try:
        notebook = read_notebook(path)
        variant = hidden_variant(secret, Path(path).read_bytes())
    except ValueError as err:
        grade.error = f"not graded: {err}"
        return grade
    answers = answer_cells(notebook)
    started = {name: _sandboxed(name, source) for name, source in answers.items()
               if not is_stub(source) and not answer_problems(source)}
    try:
        for name in CHECKS:
            grade.exercises.append(grade_answer(name, answers.get(name), variant, started.get(name)))
        grade.written = written_answers(notebook)
    finally:
        for answer in started.values():
            answer.close()
    return grade


def gradescope_results(grade: SubmissionGrade) -> dict:
    """Gradescope's results.json: one test per exercise, and the written answers shown for grading by hand."""
    tests = [{"name": e.exercise, "score": e.score, "max_score": e.possible, "output": e.message} for e in grade.exercises]
    for name, question in WRITTEN_QUESTIONS.items():
        tests.append({"name": f"{name} (graded by hand)", "score": 0.0, "max_score": 0.0,
                      "output": f"{question}\n\n{grade.written.get(name) or '(no answer)'}"})
    results = {"tests": tests, "score": grade.total}
    if grade.error:
        results["output"] = grade.error
    return results


def report_html(grade: SubmissionGrade) -> str:
    """A page a teacher reads: each exercise's score and message, then the written answers to grade by hand."""
    rows = "".join(f"<tr><td>{html.escape(e.exercise)}</td><td>{e.score:g} / {e.possible:g}</td>"
                   f"<td>{html.escape(e.message)}</td></tr>" for e in grade.exercises)
    written = "".join(f"<h3>{html.escape(q)}</h3><pre>{html.escape(grade.written.get(n) or '(no answer)')}</pre>"
                      for n, q in WRITTEN_QUESTIONS.items())
    error = f"<p><b>{html.escape(grade.error)}</b></p>" if grade.error else ""
    return (f"<!doctype html><meta charset='utf-8'><title>{html.escape(grade.submission)}</title>"
            f"<h1>{html.escape(grade.submission)}</h1>{error}<p>automatic: {grade.total:g} of {grade.possible:g}</p>"
            f"<table border=1 cellpadding=4><tr><th>exercise</th><th>score</th><th>message</th></tr>{rows}</table>"
            f"<h2>Written answers (grade by hand)</h2>{written}")


def grading_config(autograder: Path) -> dict:
    """The autograder zip's grading.json (the hidden cases' variant); ``SystemExit`` naming what is wrong."""
    try:
        with zipfile.ZipFile(autograder) as archive:
            config = json.loads(archive.read(GRADING_FILE))
    except FileNotFoundError:
        raise SystemExit(f"no autograder zip at {autograder}: build it with `make course`") from None
    except (KeyError, zipfile.BadZipFile, json.JSONDecodeError) as err:
        raise SystemExit(f"{autograder} is not the course's autograder zip ({type(err).__name__}: {err}): "
                         "rebuild it with `make course`") from None
    if not isinstance(config.get("secret"), str) or len(config["secret"]) < 16:
        raise SystemExit(f"{autograder}'s {GRADING_FILE} holds no secret for the hidden cases: rebuild it with `make course`")
    return config


def write_grade(grade: SubmissionGrade, folder: Path) -> None:
    """results.json (Gradescope's format, with every message) and report.html in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    results = gradescope_results(grade)
    results["submission"] = grade.submission
    results["exercises"] = [asdict(e) for e in grade.exercises]
    (folder / "results.json").write_text(json.dumps(results, indent=1))
    (folder / "report.html").write_text(report_html(grade))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("submission", type=Path, help="a submitted notebook, or a folder holding exactly one")
    parser.add_argument("-a", "--autograder", type=Path, default=Path("_build/course/autograder/autograder.zip"),
                        help="the autograder zip (its grading.json holds the hidden cases' secret)")
    parser.add_argument("--config", type=Path, help="a grading.json instead of the zip (inside the unpacked autograder)")
    parser.add_argument("-o", "--out", type=Path, default=Path("graded"), help="folder for results.json and report.html")
    parser.add_argument("--gradescope", type=Path, help="also write Gradescope's results.json here")
    args = parser.parse_args(argv)
    config = json.loads(args.config.read_text()) if args.config else grading_config(args.autograder)
    path = args.submission
    if path.is_dir():
        found = sorted(path.glob("*.ipynb"))
        if len(found) != 1:
            raise SystemExit(f"{path} holds {len(found)} notebooks; submit exactly one .ipynb")
        path = found[0]
    grade = grade_notebook(path, str(config["secret"]))
    write_grade(grade, args.out)
    if args.gradescope:
        args.gradescope.parent.mkdir(parents=True, exist_ok=True)
        args.gradescope.write_text(json.dumps(gradescope_results(grade), indent=1))
    for e in grade.exercises:
        print(f"{e.exercise:15s} {e.score:g}/{e.possible:g}  {e.message}")
    print(grade.error or f"automatic: {grade.total:g} of {grade.possible:g}; written answers in {args.out / 'report.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
