"""The course's student materials (`make course`): no solutions reach students, the committed student
folder is what the master makes, and otter-grader's autograder grades real submissions offline."""
from __future__ import annotations

import csv
import html
import json
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

from tests.test_course import _solution_lines

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "_build" / "course"
NOTEBOOK = "course_exercises.ipynb"

pytestmark = pytest.mark.skipif(not (OUT / "html").exists(), reason="student edition not built (make course)")


def test_built_student_edition_has_no_solution():
    """Neither the HTML nor the student notebook holds solution code."""
    lines = _solution_lines()
    for path in [*sorted((OUT / "html").rglob("*.html")), OUT / "student" / NOTEBOOK, *sorted((OUT / "html").rglob("*.ipynb"))]:
        text = html.unescape(path.read_text())
        leaked = [line for line in lines if line in text]
        assert not leaked, f"{path.relative_to(OUT)} contains solution code: {leaked[:2]}"


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


def submission(folder: Path, answers: dict[str, str], extra_cell: str | None = None) -> Path:
    """The student notebook with some answer cells filled in (others left as stubs), and optionally one more cell."""
    nb = nbformat.read(OUT / "student" / NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if "otter_answer_cell" in cell.metadata.get("tags", []):
            name = cell.source.split("(")[0].removeprefix("def ").strip()
            cell.source = answers.get(name, cell.source)
    if extra_cell:
        nb.cells.append(nbformat.v4.new_code_cell(extra_cell))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / NOTEBOOK
    nbformat.write(nb, path)
    return path


WRONG_ANSWERS = {
    "proj": "def proj(v, c, e):\n    return v.clamp_(min=c - e, max=c + e).clamp_(0, 1)",
    "smooth": "from mspd_core.smoothing import smooth as _library_smooth\n\n"
              "def smooth(f, c, y, e, a, noise, descend):\n"
              "    return _library_smooth(f, c, y, e, a, n_samples=noise.shape[0], noise=noise, descend=descend)",
    "mcnemar": "from scipy.stats import binomtest\n\ndef mcnemar(a, b):\n"
               "    k, m = int((a & ~b).sum()), int((a ^ b).sum())\n"
               "    return binomtest(k, m, 0.5).pvalue if m else 1.0",
}
FORGE = ("import mspd_core.course as c\n"
         "c.require = lambda check: None\n"
         "c.CHECKS = {k: (lambda f, hidden=False: c.Check('x', True, 'ok')) for k in c.CHECKS}\n"
         "print('7 of 7 checks passed')")


@pytest.fixture(scope="module")
def class_grades(tmp_path_factory):
    """A class of three graded with README's whole-class command (scripts/grade_class.py, `otter run` per
    submission): the solutions, a wrong and score-forging submission, and a file that is not a notebook."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from grade_class import grade_class

    root = tmp_path_factory.mktemp("class")
    submission(root / "submissions" / "wrong", WRONG_ANSWERS, FORGE)
    (root / "submissions" / "solutions").mkdir()
    shutil.copy(OUT / "autograder" / NOTEBOOK, root / "submissions" / "solutions" / NOTEBOOK)
    (root / "submissions" / "broken").mkdir()
    (root / "submissions" / "broken" / NOTEBOOK).write_text("this is not a notebook")
    before = {p: p.read_bytes() for p in (root / "submissions").rglob("*.ipynb")}
    table = grade_class(root / "submissions", OUT / "autograder" / "autograder.zip", root / "graded")
    assert all(p.read_bytes() == data for p, data in before.items()), "grading changed a submission"
    rows = {r["submission"]: r for r in csv.DictReader(table.open())}
    outputs = {name: json.loads((root / "graded" / row["results"]).read_text()) for name, row in rows.items() if row["results"]}
    return rows, outputs


def _scores(results: dict) -> dict[str, tuple[float, str]]:
    return {t["name"]: (t["score"], t.get("output", "")) for t in results["tests"] if "score" in t}


def test_autograder_gives_the_solutions_full_marks(class_grades):
    rows, outputs = class_grades
    scores = _scores(outputs[f"solutions/{NOTEBOOK}"])
    assert len(scores) == 7 and all(score == 1.0 for score, _ in scores.values()), scores
    assert rows[f"solutions/{NOTEBOOK}"]["total"] == "7.0" and rows[f"solutions/{NOTEBOOK}"]["out of"] == "7.0"


def test_autograder_grades_a_wrong_and_forging_submission(class_grades):
    """In-place Proj, Smooth that calls the library, a correct McNemar; stubs elsewhere; and a last cell
    that prints a perfect score and overwrites the imported checks. Grading re-runs the hidden tests from
    a fresh copy of the checks: 1 of 7."""
    rows, outputs = class_grades
    scores = _scores(outputs[f"wrong/{NOTEBOOK}"])
    assert {name: score for name, (score, _) in scores.items()} == {
        "proj": 0.0, "smooth": 0.0, "forward_epoch": 0.0, "backward_epoch": 0.0, "mcgs": 0.0, "reversion": 0.0, "mcnemar": 1.0}
    assert "changed its input `v` in place" in scores["proj"][1]
    assert "calls the library's `mspd_core.smoothing" in scores["smooth"][1]
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
