"""The course's materials (`make course`): no solution reaches any student path, the committed student folder
is what the master makes, and the autograder zip installs from scratch offline and grades real submissions -
solutions 7/7, stubs 0/7, every cheating trick 0 on the exercise it cheats."""
from __future__ import annotations

import csv
import html
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from tests.test_course import _solution_lines
from tests.test_grading import CHEATS, NO_OP_GRADING, OTTER_CHECKER

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "_build" / "course"
BOOK = ROOT / "_build" / "html"
NOTEBOOK = "course_exercises.ipynb"

pytestmark = pytest.mark.skipif(not (OUT / "html").exists(), reason="student edition not built (make course)")


def _texts(path: Path):
    """(name, text) of a file, and of every file inside it when it is a zip (the wheel, the student zip)."""
    data = path.read_bytes()
    if path.suffix == ".whl":
        return
    if zipfile.is_zipfile(io.BytesIO(data)):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for name in archive.namelist():
                yield from ((f"{path.name}!{inner}", text) for inner, text in _blob_texts(name, archive.read(name)))
        return
    yield from ((str(path), text) for _, text in _blob_texts(path.name, data))


def _blob_texts(name: str, data: bytes):
    if name.endswith(".whl"):  # the library itself (it implements every exercise: that is the companion), checked
        return                 # apart: test_the_student_tree_is_what_students_need
    if zipfile.is_zipfile(io.BytesIO(data)):
        with zipfile.ZipFile(io.BytesIO(data)) as inner:
            for member in inner.namelist():
                yield from _blob_texts(f"{name}!{member}", inner.read(member))
        return
    if name.endswith((".pt", ".pth", ".png", ".jpg", ".woff", ".woff2", ".ttf", ".eot", ".ico")):
        return
    yield name, html.unescape(data.decode("utf-8", errors="ignore"))


def student_reachable() -> list[Path]:
    """Every artefact a student can reach: the committed course/ folder (the book's launch buttons), the student
    tree (Colab's install cell, nbgitpuller: branch course-student) and its zip, the student HTML edition, and the
    public book (every page and source it serves), when built."""
    roots = [ROOT / "course", OUT / "student-tree", OUT / "html"] + ([BOOK] if BOOK.exists() else [])
    files = [p for root in roots for p in sorted(root.rglob("*")) if p.is_file()]
    return files + [OUT / "student.zip"]


def test_no_student_reachable_artefact_holds_a_solution():
    """The grep of issue 36: no line of a solution cell, no model answer of a written question, in any file a
    student can reach (zips and the wheel opened)."""
    lines = _solution_lines() + ["Choose a robust", "Why paired?** (a model answer", "This is the teacher's edition"]
    checked = 0
    for path in student_reachable():
        for name, text in _texts(path):
            checked += 1
            leaked = [line for line in lines if line in text]
            assert not leaked, f"{name} contains solution text: {leaked[:2]}"
    assert checked > 50


def test_the_student_tree_is_what_students_need():
    tree = OUT / "student-tree"
    assert sorted(p.name for p in tree.iterdir()) == sorted(["README.md", NOTEBOOK, "requirements.txt", "tests", "wheels", "zoo"])
    assert (tree / "requirements.txt").read_text() == (ROOT / "requirements" / "lock.txt").read_text()
    with zipfile.ZipFile(next((tree / "wheels").glob("mspd_core-*.whl"))) as wheel:
        names = wheel.namelist()
    assert "mspd_core/course_worker.py" in names and "mspd_core/claims/design.json" in names
    assert all(n.startswith(("mspd_core/", "mspd_core-")) for n in names), "the wheel holds the library only"


def test_student_notebook_runs_top_to_bottom_with_failing_stubs():
    """The HTML edition is the student notebook executed in a checkout (its install cell does nothing there):
    every exercise's grader.check says "not implemented yet", nothing crashed, and the footer's year is the build's."""
    import datetime

    text = html.unescape((OUT / "html" / "course_exercises.html").read_text())
    for name in ("proj", "smooth", "forward_epoch", "backward_epoch", "mcgs", "reversion", "mcnemar"):
        assert f"{name} results:" in text, name
    assert text.count("AssertionError: not implemented yet") >= 7 and "Traceback" not in text  # each check, again in check_all
    assert f"Copyright {datetime.date.today().year}" in text


def test_committed_student_folder_is_current():
    """course/ (what the teacher's page and the Colab button hand out) equals what the master makes now."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from course import COMMITTED, student_files

    built, committed = student_files(OUT / "student"), student_files(COMMITTED)
    assert built.keys() == committed.keys(), "run `python scripts/course.py --sync` and commit course/"
    stale = [name for name in built if built[name] != committed[name]]
    assert not stale, f"course/ is stale ({stale}): run `python scripts/course.py --sync` and commit it"


def submission(folder: Path, answers: dict[str, str], extra_cell: str | None = None, name: str = NOTEBOOK) -> Path:
    """The student notebook with some answer cells filled in (others left as stubs), and optionally one more cell."""
    nb = nbformat.read(OUT / "student" / NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if "otter_answer_cell" in cell.metadata.get("tags", []) and cell.cell_type == "code":
            fn = cell.source.split("(")[0].removeprefix("def ").strip()
            cell.source = answers.get(fn, cell.source)
    if extra_cell:
        nb.cells.append(nbformat.v4.new_code_cell(extra_cell))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    nbformat.write(nb, path)
    return path


WRONG_ANSWERS = {
    "proj": "def proj(v, c, e):\n    return v.clamp_(min=c - e, max=c + e).clamp_(0, 1)",
    "smooth": "def smooth(f, c, y, e, a, noise, descend):\n    return c + a * noise.mean(0)",
    "mcnemar": "from scipy.stats import binomtest\n\ndef mcnemar(a, b):\n"
               "    k, m = int((a & ~b).sum()), int((a ^ b).sum())\n"
               "    return binomtest(k, m, 0.5).pvalue if m else 1.0",
}
FORGE = ("import mspd_core.course as c\n"
         "c.require = lambda check: None\n"
         "c.CHECKS = {k: (lambda f, variant=0: c.Check('x', True, 'ok')) for k in c.CHECKS}\n"
         "print('7 of 7 checks passed')")


@pytest.fixture(scope="module")
def class_grades(tmp_path_factory):
    """A class of three graded with README's whole-class command (scripts/grade_class.py): the solutions, a wrong
    and score-forging submission, and a file that is not a notebook."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from grade_class import grade_class

    root = tmp_path_factory.mktemp("class")
    submission(root / "submissions" / "wrong", WRONG_ANSWERS, FORGE)
    (root / "submissions" / "solutions").mkdir()
    shutil.copy(OUT / "teacher" / NOTEBOOK, root / "submissions" / "solutions" / NOTEBOOK)
    (root / "submissions" / "broken").mkdir()
    (root / "submissions" / "broken" / NOTEBOOK).write_text("this is not a notebook")
    before = {p: p.read_bytes() for p in (root / "submissions").rglob("*.ipynb")}
    table = grade_class(root / "submissions", OUT / "autograder" / "autograder.zip", root / "graded")
    assert all(p.read_bytes() == data for p, data in before.items()), "grading changed a submission"
    rows = {r["submission"]: r for r in csv.DictReader(table.open())}
    outputs = {name: json.loads((root / "graded" / row["results"]).read_text()) for name, row in rows.items() if row["results"]}
    return rows, outputs


def _scores(results: dict) -> dict[str, tuple[float, str]]:
    return {t["name"]: (t["score"], t.get("output", "")) for t in results["tests"] if "graded by hand" not in t["name"]}


def test_the_class_command_gives_the_solutions_full_marks(class_grades):
    rows, outputs = class_grades
    scores = _scores(outputs[f"solutions/{NOTEBOOK}"])
    assert len(scores) == 7 and all(score == 1.0 for score, _ in scores.values()), scores
    assert rows[f"solutions/{NOTEBOOK}"]["total"] == "7.0" and rows[f"solutions/{NOTEBOOK}"]["out of"] == "7.0"


def test_the_class_command_grades_a_wrong_and_forging_submission(class_grades):
    """In-place Proj, a wrong Smooth, a correct McNemar; stubs elsewhere; and a last cell that prints a perfect
    score and overwrites the imported checks: never run, so 1 of 7."""
    rows, outputs = class_grades
    scores = _scores(outputs[f"wrong/{NOTEBOOK}"])
    assert {name: score for name, (score, _) in scores.items()} == {
        "proj": 0.0, "smooth": 0.0, "forward_epoch": 0.0, "backward_epoch": 0.0, "mcgs": 0.0, "reversion": 0.0, "mcnemar": 1.0}
    assert "changed its input `v` in place" in scores["proj"][1]
    assert "not implemented yet" in scores["mcgs"][1]
    assert rows[f"wrong/{NOTEBOOK}"]["total"] == "1.0"


def test_distinct_work_folders_for_colliding_names(tmp_path):
    sys.path.insert(0, str(ROOT / "scripts"))
    from grade_class import submissions_in, work_folders

    for name in ("a b/x.ipynb", "a_b/x.ipynb", "graded/a_b_x/x.ipynb"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}")
    found = submissions_in(tmp_path, tmp_path / "graded")
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a b/x.ipynb", "a_b/x.ipynb"]
    assert sorted(work_folders(found, tmp_path).values()) == ["a_b_x", "a_b_x-2"]


def test_the_whole_class_csv_names_a_submission_it_could_not_grade(class_grades):
    rows, _ = class_grades
    assert sorted(rows) == [f"broken/{NOTEBOOK}", f"solutions/{NOTEBOOK}", f"wrong/{NOTEBOOK}"]
    assert rows[f"broken/{NOTEBOOK}"]["error"].startswith("not graded") and rows[f"broken/{NOTEBOOK}"]["total"] == "0.0"


# ---- the autograder zip, alone, in a clean environment -----------------------------------------------

@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    """The zip unpacked and set up by its own setup.sh in a new virtual environment, offline: every package from a
    folder of wheels (pip download of the zip's requirements.txt, hashes checked), nothing from the repository."""
    root = tmp_path_factory.mktemp("autograder")
    with zipfile.ZipFile(OUT / "autograder" / "autograder.zip") as archive:
        archive.extractall(root / "source")
    for script in ("setup.sh", "run_autograder"):
        os.chmod(root / "source" / script, 0o755)
    python = shutil.which("python3.11") or sys.executable
    subprocess.run([python, "-m", "pip", "download", "-q", "--require-hashes", "-r", str(root / "source" / "requirements.txt"),
                    "-d", str(root / "wheels")], check=True)
    env = {**os.environ, "MSPD_VENV": str(root / "venv"), "MSPD_WHEELS": str(root / "wheels"), "PYTHON": python}
    env.pop("PYTHONPATH", None)
    subprocess.run(["bash", str(root / "source" / "setup.sh")], check=True, env=env, cwd=root)
    return root, env


def _run_autograder(autograder, notebook: Path) -> dict[str, float]:
    root, env = autograder
    results = notebook.parent / "results" / "results.json"
    subprocess.run(["bash", str(root / "source" / "run_autograder"), str(notebook), str(results)], check=True, env=env,
                   cwd=root, capture_output=True)
    return {t["name"]: t["score"] for t in json.loads(results.read_text())["tests"] if "graded by hand" not in t["name"]}


def test_the_zip_alone_grades_the_solutions_seven_and_the_stubs_zero(autograder, tmp_path):
    """Its environment holds no checkout: the companion comes from the zip's wheel."""
    root, env = autograder
    where = subprocess.run([str(root / "venv" / "bin" / "python"), "-c", "import mspd_core; print(mspd_core.__file__)"],
                           check=True, env=env, cwd=tmp_path, capture_output=True, text=True).stdout
    assert str(root / "venv") in where and str(ROOT) not in where
    (tmp_path / "solutions").mkdir()
    shutil.copy(OUT / "teacher" / NOTEBOOK, tmp_path / "solutions" / NOTEBOOK)
    assert sum(_run_autograder(autograder, tmp_path / "solutions" / NOTEBOOK).values()) == 7.0
    assert sum(_run_autograder(autograder, submission(tmp_path / "stubs", {})).values()) == 0.0


def _cheating_submissions() -> list[tuple[str, dict[str, str], str | None]]:
    """Every trick of issue 36, as few notebooks as the exercises allow (each exercise is graded on its own)."""
    notebooks: list[dict[str, str]] = []
    for trick in sorted(CHEATS):
        exercise, source = CHEATS[trick]
        target = next((nb for nb in notebooks if exercise not in nb), None)
        if target is None:
            target = {}
            notebooks.append(target)
        target[exercise] = source
    return [(f"answers {i}", nb, None) for i, nb in enumerate(notebooks)] + \
        [("otter's Checker rewritten", {}, OTTER_CHECKER), ("no-op grading.py", {}, NO_OP_GRADING)]


@pytest.mark.parametrize("label, answers, extra", _cheating_submissions(), ids=lambda v: v if isinstance(v, str) else "")
def test_the_zip_alone_gives_every_cheat_zero(autograder, tmp_path, label, answers, extra):
    scores = _run_autograder(autograder, submission(tmp_path, answers, extra))
    assert scores == {name: 0.0 for name in scores} and len(scores) == 7, (label, scores)
