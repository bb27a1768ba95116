"""Grade a whole class offline: a folder of submitted notebooks in, one CSV of scores out.

    .venv/bin/python scripts/grade_class.py submissions/ -a _build/course/autograder/autograder.zip -o graded/

Each ``*.ipynb`` under ``submissions/`` (one per student; a student's own sub-folder is fine) is copied into its own
folder under ``graded/`` and graded there with ``otter run`` (no container, offline, one at a time: each run
re-executes the notebook), so one submission's files never meet another's. ``graded/<name>/results.json`` keeps
every exercise's score and message; ``graded/scores.csv`` has one row per submission: its path, each exercise's
score, the total, and an error when otter could not grade it (a notebook that does not open, a timeout). The
submissions themselves are never modified. otter's own whole-class command, ``otter grade``, needs Docker.
"""
from __future__ import annotations

import argparse
import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path


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


def otter_command() -> str:
    """otter-grader's command: beside this Python (the project's .venv), else on PATH."""
    beside = Path(sys.executable).with_name("otter")
    found = str(beside) if beside.exists() else shutil.which("otter")
    if not found:
        raise SystemExit("otter-grader's `otter` command was not found: run this with the project's .venv/bin/python "
                         "(`make setup` installs otter-grader)")
    return found


def grade_submission(notebook: Path, autograder: Path, work: Path, timeout: float = 900) -> dict:
    """Grade one notebook with ``otter run`` in ``work`` (created; the original is copied, never touched):
    {"scores": exercise -> score, "outputs": exercise -> message, "error": "" or why it could not be graded}."""
    work.mkdir(parents=True, exist_ok=True)
    copy = work / notebook.name
    shutil.copyfile(notebook, copy)
    try:
        run = subprocess.run([otter_command(), "run", "-a", str(autograder.resolve()), "-o", str(work), str(copy)],
                             cwd=work, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"scores": {}, "possible": {}, "outputs": {}, "error": f"not graded: otter run took longer than {timeout:g} s"}
    except OSError as err:
        return {"scores": {}, "possible": {}, "outputs": {}, "error": f"not graded: otter run could not start ({err})"}
    (work / "otter.log").write_text(run.stdout + run.stderr)
    results = work / "results.json"
    if run.returncode != 0 or not results.exists():
        last = (run.stderr.strip().splitlines() or ["no message"])[-1]
        return {"scores": {}, "possible": {}, "outputs": {},
                "error": f"not graded: otter run exited {run.returncode} ({last})"}
    tests = [t for t in json.loads(results.read_text())["tests"] if "score" in t]
    return {"scores": {t["name"]: float(t["score"]) for t in tests},
            "possible": {t["name"]: float(t.get("max_score", 1.0)) for t in tests},
            "outputs": {t["name"]: t.get("output", "") for t in tests}, "error": ""}


def grade_class(folder: Path, autograder: Path, out: Path, timeout: float = 900) -> Path:
    """Grade every submission under ``folder`` into ``out`` and write ``out/scores.csv``; returns its path."""
    if not autograder.is_file():
        raise SystemExit(f"no autograder zip at {autograder}: build it with `make course`")
    notebooks = submissions_in(folder, out)
    if not notebooks:
        raise SystemExit(f"no submitted notebooks (*.ipynb) under {folder}")
    otter_command()  # fail before the first submission, not on each
    out.mkdir(parents=True, exist_ok=True)
    folders = work_folders(notebooks, folder)
    graded = {}
    for i, nb in enumerate(notebooks, 1):
        print(f"[grade] {i}/{len(notebooks)} {nb.relative_to(folder)}", flush=True)
        graded[nb] = grade_submission(nb, autograder, out / folders[nb], timeout)
    exercises = sorted({name for g in graded.values() for name in g["scores"]})
    possible = {name: p for g in graded.values() for name, p in g["possible"].items()}
    table = out / "scores.csv"
    with table.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["submission", "results", *exercises, "total", "out of", "error"])
        for nb, g in graded.items():
            scores = [g["scores"].get(name, 0.0) for name in exercises]
            results = f"{folders[nb]}/results.json" if not g["error"] else ""
            writer.writerow([nb.relative_to(folder).as_posix(), results, *scores, sum(scores),
                             sum(possible.get(name, 1.0) for name in exercises), g["error"]])
    print(f"[grade] wrote {table} ({len(notebooks)} submissions)")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path, help="folder of submitted notebooks (*.ipynb, sub-folders too)")
    parser.add_argument("-a", "--autograder", type=Path, default=Path("_build/course/autograder/autograder.zip"))
    parser.add_argument("-o", "--out", type=Path, default=Path("graded"), help="where results and scores.csv go")
    parser.add_argument("--timeout", type=float, default=900, help="seconds one submission may take (default 900)")
    args = parser.parse_args(argv)
    grade_class(args.submissions, args.autograder, args.out, args.timeout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
