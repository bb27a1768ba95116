"""Build the course's student materials with otter-grader (https://otter-grader.readthedocs.io).

    python scripts/course.py --profile cpu          # make course
    python scripts/course.py --sync                 # also refresh the committed student folder course/

One master, `notebooks/course_exercises.md` (the book's chapter, solutions in dropdowns), becomes
an otter-grader master notebook (`_build/course/master/course_exercises.ipynb`: an ASSIGNMENT CONFIG
cell, and per exercise a QUESTION with its prompt, SOLUTION and TESTS blocks), from which
``otter assign`` writes

- `_build/course/student/`: the student notebook (stubs, no solutions; an install cell that
  fetches the companion on Colab and does nothing in a checkout; ``grader.check`` cells) and its
  public tests (`tests/<exercise>.py`), copied into the committed `course/` by ``--sync``;
- `_build/course/autograder/autograder.zip`: the autograder (public and hidden tests), for
  Gradescope or for local grading with ``otter run -a autograder.zip submission.ipynb``;
- `_build/course/html/`: the student notebook executed with papermill (every check says "not
  implemented yet") as a small Jupyter Book.

Every test is one call of a check of :mod:`mspd_core.course` (the same checks the book page runs):
public tests on the checks' public inputs, hidden tests (``hidden=True``) on other seeded inputs.
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
FENCE = re.compile(r"^\s*````\{(exercise|solution)-(start|end)\}")


def assignment_config(url: str) -> str:
    """Otter Assign's configuration (raw cell): exception-based tests in files, an autograder zip whose
    Gradescope image installs the companion from the repository."""
    return "\n".join([
        "# ASSIGNMENT CONFIG",
        "name: course_exercises",
        "init_cell: true",
        "check_all_cell: true",
        "export_cell: false",
        "run_tests: true",
        "solutions_pdf: false",
        "python_version: 3.11",  # Gradescope's image; otter's default (3.9) cannot install mspd-core (>= 3.10)
        "requirements:",
        f"  - mspd-core[course] @ git+{url}",
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


GRADING_TEST = """def test_{name}{suffix}({name}):
    from importlib.util import find_spec, module_from_spec, spec_from_file_location
    from pathlib import Path

    spec = spec_from_file_location("mspd_grading", Path(find_spec("mspd_core").origin).with_name("grading.py"))
    grading = module_from_spec(spec)
    spec.loader.exec_module(grading)
    grading.grade({name!r}, {name}, hidden={hidden})"""


def test_cells(name: str):
    """The public and the hidden test of one exercise: each runs the exercise's check of mspd_core.course,
    loaded afresh by mspd_core.grading (public inputs, then other seeded inputs)."""
    import nbformat

    public = GRADING_TEST.format(name=name, suffix="", hidden=False)
    hidden = '""" # BEGIN TEST CONFIG\nhidden: true\n""" # END TEST CONFIG\n' + \
        GRADING_TEST.format(name=name, suffix="_hidden", hidden=True)
    return [nbformat.v4.new_code_cell(public), nbformat.v4.new_code_cell(hidden)]


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

    from sync_notebooks import setup_cell

    source = jupytext.read(SOURCE)
    cells = [_raw(assignment_config(url))]
    prompt: list[str] = []  # markdown of the exercise being read (between its fences)
    state = {"exercise": False, "solution": False}
    stub = None
    for cell in source.cells:
        tags = _tags(cell)
        if cell.cell_type == "markdown":
            if "score" in tags:
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
    cells.insert(first_code, nbformat.v4.new_code_cell(setup_cell(url, "course"), metadata={"tags": ["otter_ignore"]}))
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
            if p.is_file() and "__pycache__" not in p.parts}


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


def otter(*args: str, cwd: Path) -> None:
    exe = Path(sys.executable).with_name("otter")
    subprocess.run([str(exe), *args], cwd=cwd, check=True)


def build(profile: str, sync: bool) -> int:
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
    shutil.move(str(OUT / "dist" / "autograder"), str(OUT / "autograder"))
    shutil.rmtree(OUT / "dist")
    normalise(OUT / "student" / NOTEBOOK)
    zips = sorted((OUT / "autograder").glob("*.zip"))
    if len(zips) != 1:
        raise SystemExit(f"otter assign wrote {len(zips)} autograder zips in {OUT / 'autograder'}")
    zips[0].rename(OUT / "autograder" / "autograder.zip")
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
               "html": str(OUT / "html" / "index.html")}
    print("[course] " + json.dumps(summary, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu", help="the profile the student edition's open question runs with")
    parser.add_argument("--sync", action="store_true", help="also copy the student folder into the committed course/")
    args = parser.parse_args(argv)
    return build(args.profile, args.sync)


if __name__ == "__main__":
    sys.exit(main())
