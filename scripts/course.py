"""Build the course's materials with otter-grader (https://otter-grader.readthedocs.io) and the companion's grader.

    python scripts/course.py --profile cpu          # make course
    python scripts/course.py --sync                 # also refresh the committed student folder course/

One master, `notebooks/course_exercises.md` (the teacher's edition: solutions in dropdowns, model answers to
the written questions), becomes an otter-grader master notebook (`_build/course/master/course_exercises.ipynb`:
an ASSIGNMENT CONFIG cell; per exercise a QUESTION with its prompt, SOLUTION and TESTS blocks; per written
question a manual QUESTION), from which ``otter assign`` writes the student notebook. This script then writes

- `_build/course/student/`: the student notebook (stubs, empty written answers, no solutions; an install cell
  that fetches the student tree on Colab and does nothing in a checkout; ``grader.check`` cells: the student's
  own feedback on the public cases) and its public tests (`tests/<exercise>.py`), copied into the committed
  `course/` by ``--sync``;
- `_build/course/teacher/course_exercises.ipynb`: the solutions notebook (teachers only);
- `_build/course/autograder/autograder.zip`: the autograder for Gradescope or for local grading
  (``python -m mspd_core.grading``, ``scripts/grade_class.py``): setup.sh, run_autograder, the lock's hashed
  lines for torch/NumPy/SciPy/tqdm, the companion's wheel and the hidden cases' secret. It never runs a
  student's notebook as a whole: each answer runs in its own process (:mod:`mspd_core.grading`);
- `_build/course/html/`: the student notebook executed with papermill (every check says "not implemented yet")
  as a small Jupyter Book.
"""
from __future__ import annotations

import argparse
import datetime
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "notebooks" / "course_exercises.md"
OUT = ROOT / "_build" / "course"
COMMITTED = ROOT / "course"
NOTEBOOK = "course_exercises.ipynb"
ANSWER_TAG = "otter_answer_cell"
STUDENT_BRANCH = "course-student"  # the student tree's branch: Colab's install cell and nbgitpuller fetch it
STUDENT_README = """# MSPD companion: the course (student tree)

Open `course_exercises.ipynb` (Jupyter, JupyterHub or Colab), run its first cell (it installs the companion from
`requirements.txt` and `wheels/`), then work through the exercises: replace each `raise NotImplementedError` with
your code and run the `grader.check` cell below it (feedback on the public cases; your grade comes from your
teacher's autograder, which also runs hidden cases). Write the two written answers in their cells.
`tests/` holds the public checks, `zoo/` the small models the open question uses.
"""
FENCE = re.compile(r"^\s*````\{(exercise|solution)-(start|end)\}")


def assignment_config() -> str:
    """Otter Assign's configuration (raw cell): exception-based tests in files (the student's ``grader.check``),
    otter's zip is generated only for ``run_tests`` (the solutions pass every test) and then discarded:
    :func:`autograder_zip` writes the companion's own."""
    return "\n".join([
        "# ASSIGNMENT CONFIG",
        "name: course_exercises",
        "init_cell: true",
        "check_all_cell: true",
        "export_cell: false",
        "run_tests: true",
        "solutions_pdf: false",
        "generate: true",
        "tests:",
        "  files: true",
        "  ok_format: false",
    ])


def _raw(text: str):
    import nbformat

    return nbformat.v4.new_raw_cell(text)


def _tags(cell) -> list[str]:
    return cell.metadata.get("tags", [])


SELF_CHECK = """def test_{name}({name}):
    from mspd_core import course

    course.require(course.CHECKS[{name!r}]({name}))"""


def test_cells(name: str):
    """The exercise's otter test: the student's own check (``grader.check``), on the public cases, in the
    notebook. Feedback only: grades come from the autograder (:mod:`mspd_core.grading`), which runs each
    answer in its own process and holds the hidden cases."""
    import nbformat

    return [nbformat.v4.new_code_cell(SELF_CHECK.format(name=name))]


def written_question(name: str, model_answer: str):
    """An otter manual question (graded by hand): its prompt, and the model answer as the SOLUTION that the
    student edition replaces with an empty answer cell; :mod:`mspd_core.grading` collects the answer."""
    import nbformat

    from mspd_core.grading import WRITTEN_QUESTIONS

    if name not in WRITTEN_QUESTIONS:
        raise SystemExit(f"a written cell of {SOURCE.name} names question {name!r}, not one of {', '.join(WRITTEN_QUESTIONS)}")
    question = WRITTEN_QUESTIONS[name].split(": ", 1)[1]
    prompt = f"**Written answer, graded by hand.** {question[0].upper()}{question[1:]} Write it in the cell below."
    return [_raw(f"# BEGIN QUESTION\nname: {name}\nmanual: true\npoints: 1"), nbformat.v4.new_markdown_cell(prompt),
            _raw("# BEGIN SOLUTION"), nbformat.v4.new_markdown_cell(model_answer), _raw("# END SOLUTION"),
            _raw("# END QUESTION")]


def exercise_name(stub_source: str) -> str:
    """The function a stub cell asks for (the first ``def``): the question's name and its check's key."""
    from mspd_core.course import CHECKS

    match = re.search(r"^def (\w+)\(", stub_source, re.M)
    if not match or match.group(1) not in CHECKS:
        raise SystemExit(f"a stub cell of {SOURCE.name} defines no exercise function of mspd_core.course.CHECKS:\n{stub_source}")
    return match.group(1)


def markdown_segments(text: str, state: dict[str, bool]):
    """Split a markdown cell at the sphinx-exercise fences (``{exercise-start}`` ... ``{solution-end}``,
    each with its option lines and closing fence): yield (text, "exercise" | "solution" | None) for each
    non-empty piece, updating ``state`` (fences can open in one cell and close in a later one)."""
    piece: list[str] = []
    lines = iter(text.split("\n"))

    def flush():
        body = "\n".join(piece).strip()
        piece.clear()
        where = "solution" if state["solution"] else "exercise" if state["exercise"] else None
        return (body, where) if body else None

    for line in lines:
        fence = FENCE.match(line)
        if not fence:
            piece.append(line)
            continue
        done = flush()
        if done:
            yield done
        kind, edge = fence.groups()
        state[kind] = edge == "start"
        for rest in lines:  # option lines, then the closing fence
            if rest.strip().startswith("````"):
                break
    done = flush()
    if done:
        yield done


def master_notebook(url: str):
    """The otter-grader master notebook built from the book's chapter.

    Markdown and code outside the exercises pass through (the open question is tagged ``otter_ignore``:
    grading does not run it); each exercise's prompt becomes a QUESTION, its stub the PROMPT of its
    SOLUTION block, its solution code the SOLUTION, and its check the TESTS. The book's own check cells,
    the solution dropdowns' prose and the score cell are left out (``grader.check`` replaces them)."""
    import jupytext
    import nbformat

    from sync_notebooks import course_setup_cell

    source = jupytext.read(SOURCE)
    cells = [_raw(assignment_config())]
    prompt: list[str] = []  # markdown of the exercise being read (between its fences)
    state = {"exercise": False, "solution": False}
    stub = None
    for cell in source.cells:
        tags = _tags(cell)
        if cell.cell_type == "markdown":
            if "score" in tags:
                continue
            if "teacher-only" in tags:
                continue
            if "written" in tags:
                cells += written_question(cell.metadata["question"], cell.source)
                continue
            for text, inside in markdown_segments(cell.source, state):
                if inside == "exercise":
                    prompt.append(text)
                elif inside is None:
                    cells.append(nbformat.v4.new_markdown_cell(text))
        elif "stub" in tags:
            stub = cell.source
        elif "solution" in tags:
            if stub is None:
                raise SystemExit(f"a solution cell of {SOURCE.name} has no stub before it")
            name = exercise_name(stub)
            body = (f"# BEGIN SOLUTION NO PROMPT\n{cell.source}\n# END SOLUTION\n"
                    f'""" # BEGIN PROMPT\n{stub}\n""" # END PROMPT')
            cells += [_raw(f"# BEGIN QUESTION\nname: {name}\npoints: 1"), nbformat.v4.new_markdown_cell("\n\n".join(prompt)),
                      _raw("# BEGIN SOLUTION"), nbformat.v4.new_code_cell(body), _raw("# END SOLUTION"),
                      _raw("# BEGIN TESTS"), *test_cells(name), _raw("# END TESTS"), _raw("# END QUESTION")]
            prompt, stub = [], None
        elif state["solution"] or {"check", "score"} & set(tags):
            continue
        else:
            metadata = {"tags": ["otter_ignore"]} if "open-question" in tags else \
                {"tags": ["parameters"]} if "parameters" in tags else {}
            cells.append(nbformat.v4.new_code_cell(cell.source, metadata=metadata))
    first_code = next(i for i, c in enumerate(cells) if c.cell_type == "code")
    cells.insert(first_code, nbformat.v4.new_code_cell(course_setup_cell(url, STUDENT_BRANCH), metadata={"tags": ["otter_ignore"]}))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    return nb


def normalise(path: Path) -> None:
    """The install cell before otter's init cell (``import otter`` needs it on Colab); stable cell ids and
    no execution state, so that the committed copy changes only with the master."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    install = next(c for c in nb.cells if c.source.startswith("# Outside a checkout"))
    init = next(c for c in nb.cells if c.source.startswith("# Initialize Otter"))
    rest = [c for c in nb.cells if c is not install and c is not init]
    nb.cells = [rest[0], install, init, *rest[1:]] if rest and rest[0].cell_type == "markdown" else [install, init, *rest]
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            tags = [t for t in cell.metadata.get("tags", []) if t != ANSWER_TAG]
            if re.match(r"def \w+\(", cell.source) and "raise NotImplementedError" in cell.source:
                tags.append(ANSWER_TAG)  # where the student writes (otter 7 tags these itself; 5 does not)
            if tags:
                cell.metadata["tags"] = tags
            else:
                cell.metadata.pop("tags", None)
    nbformat.write(nb, path)


def student_files(folder: Path) -> dict[str, str]:
    """The student folder's files (relative path -> text): the notebook and its public tests."""
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith(".")}  # not otter's .OTTER_LOG


CONFIG = """title: "MSPD companion: the course (student edition)"
author: "The MSPD companion team"
copyright: "{year}"
only_build_toc_files: true
execute:
  execute_notebooks: "off"
parse:
  myst_enable_extensions: [dollarmath, amsmath, colon_fence]
sphinx:
  extra_extensions:
    - sphinx-mathjax-offline
  config:
    nb_merge_streams: true
"""

TOC = """format: jb-book
root: intro
chapters:
  - file: course_exercises
"""

INTRO = """# The course (student edition)

Build MCGS yourself: seven exercises with automatic checks (otter-grader) and one open question.
Download the notebook (button at the top of the exercises page) together with its `tests/` folder
(your teacher hands both out; in a checkout of the companion they are in `course/`), replace each
`raise NotImplementedError` with your code and run the `grader.check` cell below it.
"""


AUTOGRADER_NEEDS = ["torch", "numpy", "scipy", "tqdm"]  # what mspd_core.grading imports (with what they need)

SETUP_SH = """#!/usr/bin/env bash
# The course's autograder: set-up. Gradescope runs this once, as root, when it builds the image (Ubuntu, network).
# Elsewhere: MSPD_VENV=<folder for the environment> [PYTHON=python3.11] [MSPD_WHEELS=<folder of wheels>] bash setup.sh
#   MSPD_WHEELS installs offline from that folder only (pip --no-index --find-links).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${MSPD_VENV:-/autograder/venv}"
python="${PYTHON:-$(command -v python3.11 || true)}"
if [ -z "$python" ] && command -v apt-get >/dev/null; then  # Gradescope's Ubuntu image: Python 3.11 from its packages
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3.11 python3.11-venv || true
  python="$(command -v python3.11 || true)"
fi
if [ -z "$python" ]; then  # an image whose packages lack 3.11 (Ubuntu 24.04): a standalone CPython 3.11 through uv
  python3 -m pip install -q --break-system-packages uv 2>/dev/null || python3 -m pip install -q uv
  python3 -m uv python install 3.11 && python="$(python3 -m uv python find 3.11)"
fi
"$python" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' || {
  echo "setup.sh: needs Python 3.11 (requirements.txt pins the lock's Python 3.11 releases); set PYTHON=" >&2; exit 1; }
"$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --disable-pip-version-check -q)
if [ -n "${MSPD_WHEELS:-}" ]; then pip+=(--no-index --find-links "$MSPD_WHEELS"); fi
"${pip[@]}" --require-hashes -r "$here/requirements.txt"   # torch, NumPy, SciPy, tqdm as locked, hashes checked
"${pip[@]}" --no-deps "$here"/wheels/*.whl                  # the companion, from this zip (no repository access)
"$venv/bin/python" -c "import mspd_core.grading"
# Answers run as user nobody when grading runs as root (Gradescope): they must not read the secret, the wheel or the
# companion's own files (which implement every exercise).
chmod -R go-rwx "$here" "$("$venv/bin/python" -c 'import mspd_core, os; print(os.path.dirname(mspd_core.__file__))')"
echo "setup.sh: autograder ready in $venv"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# The course's autograder: grade one submission. Gradescope: /autograder/submission/<one .ipynb> ->
# /autograder/results/results.json. Elsewhere: MSPD_VENV=... bash run_autograder SUBMISSION.ipynb RESULTS.json
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
config="$here/grading.json"; [ -f "$config" ] || config=/autograder/source/grading.json
venv="${MSPD_VENV:-/autograder/venv}"
submission="${1:-/autograder/submission}"
results="${2:-/autograder/results/results.json}"
mkdir -p "$(dirname "$results")"
"$venv/bin/python" -m mspd_core.grading "$submission" --config "$config" -o "$(dirname "$results")/report" \\
  --gradescope "$results" || {
  echo '{"score": 0, "output": "The autograder failed on this submission: please tell your teacher."}' > "$results"; exit 1; }
"""


def hidden_secret() -> str:
    """The hidden cases' secret: drawn anew for each build (only the autograder zip holds it; each submission's
    cases are an HMAC of its notebook under it, :func:`mspd_core.grading.hidden_variant`)."""
    import secrets

    return secrets.token_hex(16)


def build_wheel(folder: Path) -> Path:
    """The companion as a wheel (``pip wheel --no-deps``), timestamps from the last commit."""
    import os

    shutil.rmtree(folder, ignore_errors=True)
    epoch = subprocess.run(["git", "log", "-1", "--format=%ct"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    env = {**os.environ, "SOURCE_DATE_EPOCH": epoch or "315532800"}
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(folder), str(ROOT)],
                   check=True, env=env, capture_output=True)
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    wheels = sorted(folder.glob("mspd_core-*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"pip wheel wrote {len(wheels)} wheels in {folder}")
    return wheels[0]


def autograder_zip(path: Path, wheel: Path, secret: str) -> Path:
    """Gradescope's autograder: setup.sh, run_autograder, requirements.txt (the lock's hashed lines for what the
    grader imports), the companion's wheel and grading.json (the hidden cases' secret; private to root once set up). Grading runs
    :mod:`mspd_core.grading`: each answer in its own process, never the student's notebook as a whole."""
    import zipfile

    from mspd_core.dependencies import lock_closure, requirements_for
    from mspd_core.grading import GRADING_FILE, WRITTEN_QUESTIONS

    path.parent.mkdir(parents=True, exist_ok=True)
    config = {"secret": secret, "exercises": list(__import__("mspd_core.course").course.CHECKS),
              "written": WRITTEN_QUESTIONS}
    files = {"setup.sh": SETUP_SH, "run_autograder": RUN_AUTOGRADER, GRADING_FILE: json.dumps(config, indent=1),
             "requirements.txt": requirements_for(lock_closure(AUTOGRADER_NEEDS)) + "\n"}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if name in ("setup.sh", "run_autograder") else 0o600) << 16
            archive.writestr(info, text)
        info = zipfile.ZipInfo(f"wheels/{wheel.name}", date_time=(1980, 1, 1, 0, 0, 0))
        archive.writestr(info, wheel.read_bytes(), zipfile.ZIP_STORED)
    return path


def student_tree(folder: Path, wheel: Path) -> Path:
    """What students fetch (branch :data:`STUDENT_BRANCH`, ``_build/course/student.zip``): the student notebook and
    its public tests, the lock as requirements.txt, the companion's wheel (the library, no notebooks) and the zoo's
    checkpoints for the open question. No solution: ``book_tests/test_course_build.py`` greps every file."""
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(OUT / "student", folder)
    (folder / "README.md").write_text(STUDENT_README)
    shutil.copyfile(ROOT / "requirements" / "lock.txt", folder / "requirements.txt")
    (folder / "wheels").mkdir()
    shutil.copyfile(wheel, folder / "wheels" / wheel.name)
    shutil.copytree(ROOT / "data" / "zoo", folder / "zoo")
    return folder


def commit_tree(folder: Path, branch: str) -> str:
    """Commit ``folder`` as the whole tree of ``branch`` in this repository (on top of its previous commit, if any),
    without touching the working tree or the index; returns the commit."""
    import os
    import tempfile

    def git(*args: str, env: dict | None = None) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True,
                              env={**os.environ, **(env or {})}).stdout.strip()

    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index"), "GIT_WORK_TREE": str(folder)}
        git("add", "--all", "--force", ".", env=env)
        tree = git("write-tree", env=env)
    parent = subprocess.run(["git", "rev-parse", "--verify", "-q", f"refs/heads/{branch}"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    head = git("rev-parse", "--short", "HEAD")
    commit = git("commit-tree", tree, *(["-p", parent] if parent else []), "-m", f"Student tree of the course, built from {head}")
    git("update-ref", f"refs/heads/{branch}", commit)
    return commit


def otter(*args: str, cwd: Path) -> None:
    exe = Path(sys.executable).with_name("otter")
    subprocess.run([str(exe), *args], cwd=cwd, check=True)


def build(profile: str, sync: bool, branch: str | None = None) -> int:
    import nbformat
    import papermill as pm

    sys.path.insert(0, str(ROOT / "scripts"))
    sys.path.insert(0, str(ROOT))
    from mspd_core.paths import absolutize_user_paths
    from run_notebooks import hide_default_parameters
    from sync_notebooks import repository_url

    absolutize_user_paths()
    shutil.rmtree(OUT, ignore_errors=True)
    master = OUT / "master" / NOTEBOOK
    master.parent.mkdir(parents=True)
    nbformat.write(master_notebook(repository_url()), master)
    otter("assign", "--no-pdfs", str(master), str(OUT / "dist"), cwd=master.parent)  # runs every test on the solutions
    shutil.move(str(OUT / "dist" / "student"), str(OUT / "student"))
    (OUT / "teacher").mkdir()
    shutil.move(str(OUT / "dist" / "autograder" / NOTEBOOK), str(OUT / "teacher" / NOTEBOOK))  # the solutions notebook
    shutil.rmtree(OUT / "dist")  # otter's own autograder grades inside the student's kernel: replaced below
    normalise(OUT / "student" / NOTEBOOK)
    wheel = build_wheel(OUT / "wheel")
    autograder_zip(OUT / "autograder" / "autograder.zip", wheel, hidden_secret())
    student_tree(OUT / "student-tree", wheel)
    shutil.make_archive(str(OUT / "student"), "zip", OUT / "student-tree")
    if branch:
        commit = commit_tree(OUT / "student-tree", branch)
        print(f"[course] branch {branch} = {commit} (publish it: git push origin {branch})")
    if sync:
        shutil.rmtree(COMMITTED, ignore_errors=True)
        shutil.copytree(OUT / "student", COMMITTED)
        print(f"[course] wrote {COMMITTED.relative_to(ROOT)}/ (commit it)")

    # the student HTML edition: the student notebook, executed (stubs fail their checks)
    src = OUT / "book"
    shutil.copytree(OUT / "student", src)
    pm.execute_notebook(str(src / NOTEBOOK), str(src / NOTEBOOK), parameters={"profile": profile},
                        cwd=str(src), kernel_name="python3", progress_bar=False)
    hide_default_parameters(src / NOTEBOOK)
    (src / "_config.yml").write_text(CONFIG.format(year=datetime.date.today().year))
    (src / "_toc.yml").write_text(TOC)
    (src / "intro.md").write_text(INTRO)
    jb = Path(sys.executable).with_name("jupyter-book")
    subprocess.run([str(jb), "build", str(src), "-W", "-n", "--keep-going", "--path-output", str(OUT / "jb")], check=True)
    shutil.move(str(OUT / "jb" / "_build" / "html"), str(OUT / "html"))
    shutil.rmtree(OUT / "jb")
    shutil.rmtree(src)
    summary = {"student": str(OUT / "student"), "autograder": str(OUT / "autograder" / "autograder.zip"),
               "teacher": str(OUT / "teacher" / NOTEBOOK), "student tree": str(OUT / "student-tree"),
               "student zip": str(OUT / "student.zip"), "html": str(OUT / "html" / "index.html")}
    print("[course] " + json.dumps(summary, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu", help="the profile the student edition's open question runs with")
    parser.add_argument("--sync", action="store_true", help="also copy the student folder into the committed course/")
    parser.add_argument("--student-branch", nargs="?", const=STUDENT_BRANCH, metavar="BRANCH",
                        help=f"also commit the student tree to this repository's branch BRANCH (default {STUDENT_BRANCH}), "
                             "for `git push origin BRANCH`: what Colab's install cell and nbgitpuller fetch")
    args = parser.parse_args(argv)
    return build(args.profile, args.sync, args.student_branch)


if __name__ == "__main__":
    sys.exit(main())
