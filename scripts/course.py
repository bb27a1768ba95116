"""Build the student edition of the Course part: no solutions in the HTML or the notebooks.

    python scripts/course.py --profile cpu     # make course

1. the student notebook: notebooks/course_exercises.md without the solution blocks (the cells
   from a ``{solution-start}`` marker to its ``{solution-end}``, and any cell tagged
   ``solution``), written as plain output-free ``_build/course/course_exercises.ipynb``;
2. executed with papermill (stubs report "not implemented yet": that is what a student sees);
3. a small Jupyter Book (teacher's page left out) with sphinx-exercise's ``hide_solutions``,
   built into ``_build/course/html``.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "notebooks" / "course_exercises.md"
OUT = ROOT / "_build" / "course"


SOLUTION = re.compile(r"^````\{solution-start\}.*?^````\{solution-end\}\n````\n?", re.S | re.M)


def student_notebook():
    """The course notebook with every solution removed: the text from each ``{solution-start}`` fence to
    its ``{solution-end}`` fence (code cells included), and any cell still tagged ``solution``."""
    import jupytext

    text, n = SOLUTION.subn("", SOURCE.read_text())
    if n == 0:
        raise SystemExit(f"no solution blocks found in {SOURCE}")
    nb = jupytext.reads(text, fmt="md:myst")
    nb.cells = [c for c in nb.cells if "solution" not in c.metadata.get("tags", [])]
    return nb


CONFIG = """title: "MSPD companion: the course (student edition)"
author: "The MSPD companion team"
only_build_toc_files: true
execute:
  execute_notebooks: "off"
parse:
  myst_enable_extensions: [dollarmath, amsmath, colon_fence]
sphinx:
  extra_extensions:
    - sphinx-mathjax-offline
    - sphinx_exercise
  config:
    hide_solutions: true
    nb_merge_streams: true
"""

TOC = """format: jb-book
root: intro
chapters:
  - file: course_exercises
"""

INTRO = """# The course (student edition)

Build MCGS yourself: seven exercises with automatic checks and one open question. Download
the notebook (`course_exercises.ipynb`, button at the top of the exercises page), replace each
`raise NotImplementedError` with your code and run the check below it.
"""


def main(argv: list[str] | None = None) -> int:
    import jupytext
    import papermill as pm

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from mspd_core.paths import absolutize_user_paths

    absolutize_user_paths()
    shutil.rmtree(OUT, ignore_errors=True)
    src = OUT / "src"
    src.mkdir(parents=True)
    nb = student_notebook()
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    jupytext.write(nb, OUT / "course_exercises.ipynb")  # for an LMS: no outputs, no solutions
    pm.execute_notebook(str(OUT / "course_exercises.ipynb"), str(src / "course_exercises.ipynb"),
                        parameters={"profile": args.profile}, cwd=str(ROOT / "notebooks"), kernel_name="python3",
                        progress_bar=False)
    sys.path.insert(0, str(ROOT / "scripts"))
    from run_notebooks import hide_default_parameters

    hide_default_parameters(src / "course_exercises.ipynb")
    (src / "_config.yml").write_text(CONFIG)
    (src / "_toc.yml").write_text(TOC)
    (src / "intro.md").write_text(INTRO)
    jb = Path(sys.executable).with_name("jupyter-book")
    subprocess.run([str(jb), "build", str(src), "-W", "-n", "--keep-going", "--path-output", str(OUT / "book")], check=True)
    shutil.move(str(OUT / "book" / "_build" / "html"), str(OUT / "html"))
    shutil.rmtree(OUT / "book")
    print(f"student edition: {OUT / 'html' / 'index.html'}; LMS notebook: {OUT / 'course_exercises.ipynb'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
