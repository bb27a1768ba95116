"""Write the committed, output-free notebooks/<name>.ipynb from the MyST sources notebooks/<name>.md.

    python scripts/sync_notebooks.py          # rewrite every .ipynb (make notebooks-sync)
    python scripts/sync_notebooks.py --check  # exit 1 if any .ipynb is missing or stale

The .md files are the sources (reviewed, diffed, executed by the book build); the .ipynb twins
are what readers open: Colab and Binder launch buttons, `papermill notebooks/<name>.ipynb ...`
and `mspd notebook <name> ...` on a fresh clone. Each twin starts with one extra cell, tagged
``remove-cell``, that installs the companion when the notebook runs outside a checkout (Colab)
and does nothing inside one. `tests/test_notebooks.py` fails when a twin is stale.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "notebooks"

SETUP_CELL = '''# Outside a checkout of the companion (e.g. on Colab): fetch and install it. Inside one: nothing.
import importlib.util, os, subprocess, sys
if importlib.util.find_spec("mspd_core") is None:
    subprocess.run(["git", "clone", "--depth", "1", "{url}", "mspd-companion"], check=True)
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    subprocess.run(pip + ["--require-hashes", "-r", "mspd-companion/requirements/lock.txt"], check=True)  # the locked set
    subprocess.run(pip + ["--no-deps", "-e", "mspd-companion"], check=True)
    sys.path.insert(0, os.path.abspath("mspd-companion"))
if os.path.isdir("mspd-companion/{folder}"):
    os.chdir("mspd-companion/{folder}")  # also after a runtime restart; CIFAR-10 then comes from torchvision's download'''


COURSE_SETUP_CELL = '''# Outside a checkout of the companion (Colab, a hub): fetch the student tree (no solutions) and install it.
# Inside a checkout: nothing. Idempotent: after a runtime restart it only moves back into the student tree.
import glob, importlib, importlib.util, os, subprocess, sys
if os.path.isdir("mspd-course"):
    os.chdir("mspd-course")
if importlib.util.find_spec("mspd_core") is None:
    if not os.path.isdir("wheels"):  # the notebook came alone (Colab): the student tree is branch {branch}
        subprocess.run(["git", "clone", "--depth", "1", "--branch", "{branch}", "{url}", "mspd-course"], check=True)
        os.chdir("mspd-course")
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    subprocess.run(pip + ["--require-hashes", "-r", "requirements.txt"], check=True)  # the locked set
    subprocess.run(pip + ["--no-deps", *glob.glob("wheels/*.whl")], check=True)  # the companion (library only)
    importlib.invalidate_caches()
if os.path.isdir("zoo"):
    os.environ["MSPD_ZOO_DIR"] = os.path.abspath("zoo")  # the student tree's models (CIFAR-10 comes from torchvision)'''


def setup_cell(url: str, folder: str = "notebooks") -> str:
    """The install cell that starts every notebook of the book handed to readers (its twins): it clones the
    repository and installs the locked set (otter-grader included)."""
    return SETUP_CELL.format(url=url, folder=folder)


def course_setup_cell(url: str, branch: str) -> str:
    """The install cell of the course's student notebook: it fetches only the student tree (branch ``branch``:
    the notebook, its public tests, the lock, the companion's wheel, the zoo; no solutions), never the repository."""
    return COURSE_SETUP_CELL.format(url=url, branch=branch)


def repository_url() -> str:
    """The repository named in _config.yml (the one place it is written)."""
    match = re.search(r'^repository:\s*\n\s+url:\s*"?([^"\n]+)"?', (ROOT / "_config.yml").read_text(), re.M)
    if not match:
        raise SystemExit("_config.yml names no repository url")
    return match.group(1).strip()


def twin(source: Path):
    """The output-free notebook for one MyST source, with the setup cell first."""
    import jupytext
    import nbformat

    nb = jupytext.read(source)
    cell = nbformat.v4.new_code_cell(setup_cell(repository_url()), metadata={"tags": ["remove-cell"]})
    nb.cells.insert(0, cell)
    for i, c in enumerate(nb.cells):
        c["id"] = f"cell-{i}"  # stable ids: the twin changes only when the source does
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
    nb.metadata.pop("jupytext", None)
    return nb


def main(argv: list[str] | None = None) -> int:
    import jupytext

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report missing or stale twins")
    args = parser.parse_args(argv)
    stale = []
    for source in sorted(SOURCES.glob("*.md")):
        target = source.with_suffix(".ipynb")
        text = jupytext.writes(twin(source), fmt="ipynb")
        if not target.exists() or target.read_text() != text:
            stale.append(target.name)
            if not args.check:
                target.write_text(text)
    if args.check and stale:
        print(f"stale or missing: {', '.join(stale)}; run `make notebooks-sync`")
        return 1
    print(f"{'stale' if args.check else 'written'}: {len(stale)} notebook(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
