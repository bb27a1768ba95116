"""Grade a whole class offline: a folder of submitted notebooks in, one CSV of scores out.

    .venv/bin/python scripts/grade_class.py submissions/ -a _build/course/autograder/autograder.zip -o graded/

Each ``*.ipynb`` under ``submissions/`` (one per student; a student's own sub-folder is fine) is graded by
:mod:`mspd_core.grading` with the autograder zip's hidden cases: the notebook is read, never run as a whole, and
each exercise's answer runs in its own process where the companion cannot be imported. ``graded/<name>/`` gets
``results.json`` (every exercise's score and message) and ``report.html`` (with the written answers to grade by
hand); ``graded/scores.csv`` has one row per submission: its path, each exercise's score, the total, and why a
notebook could not be graded. The submissions themselves are never modified.
"""
from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout: its mspd_core


def submissions_in(folder: Path, out: Path | None = None) -> list[Path]:
    """Every submitted notebook under ``folder`` (checkpoints and anything under the output folder ``out`` skipped,
    should it lie inside), sorted."""
    skip = out.resolve() if out is not None else None
    return sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
                  and not (skip is not None and p.resolve().is_relative_to(skip)))


def work_folders(notebooks: list[Path], folder: Path) -> dict[Path, str]:
    """A distinct folder name for each submission: its path under the submissions folder with anything odd
    replaced, and a number added where two paths would give the same name."""
    names: dict[Path, str] = {}
    for nb in notebooks:
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", nb.relative_to(folder).with_suffix("").as_posix())
        name, i = base, 2
        while name in names.values():
            name, i = f"{base}-{i}", i + 1
        names[nb] = name
    return names


def grade_class(folder: Path, autograder: Path, out: Path) -> Path:
    """Grade every submission under ``folder`` into ``out`` and write ``out/scores.csv``; returns its path."""
    from mspd_core.course import CHECKS
    from mspd_core.grading import SubmissionGrade, grade_notebook, grading_config, write_grade

    secret = str(grading_config(autograder)["secret"])  # fails before the first submission, not on each
    notebooks = submissions_in(folder, out)
    if not notebooks:
        raise SystemExit(f"no submitted notebooks (*.ipynb) under {folder}")
    out.mkdir(parents=True, exist_ok=True)
    folders = work_folders(notebooks, folder)
    table = out / "scores.csv"
    with table.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["submission", "results", *CHECKS, "total", "out of", "report", "error"])
        for i, nb in enumerate(notebooks, 1):
            label = nb.relative_to(folder).as_posix()
            print(f"[grade] {i}/{len(notebooks)} {label}", flush=True)
            try:
                grade = grade_notebook(nb, secret, label)
            except Exception as err:  # noqa: BLE001 - one submission never stops the class
                grade = SubmissionGrade(label, error=f"not graded: the grader failed ({type(err).__name__}: {err})")
            write_grade(grade, out / folders[nb])
            scores = {e.exercise: e.score for e in grade.exercises}
            writer.writerow([label, f"{folders[nb]}/results.json" if not grade.error else "",
                             *[scores.get(name, 0.0) for name in CHECKS], grade.total, grade.possible,
                             f"{folders[nb]}/report.html", grade.error])
    print(f"[grade] wrote {table} ({len(notebooks)} submissions)")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path, help="folder of submitted notebooks (*.ipynb, sub-folders too)")
    parser.add_argument("-a", "--autograder", type=Path, default=Path("_build/course/autograder/autograder.zip"))
    parser.add_argument("-o", "--out", type=Path, default=Path("graded"), help="where results and scores.csv go")
    args = parser.parse_args(argv)
    grade_class(args.submissions, args.autograder, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
