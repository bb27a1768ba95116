"""Execute the book's notebooks with papermill (MyST .md -> .ipynb with jupytext first).

    python scripts/run_notebooks.py --profile smoke            # every notebook
    python scripts/run_notebooks.py --profile cpu 00_data      # some notebooks
    python scripts/run_notebooks.py --profile paper-dry --out _build/paper-dry/notebooks

Executed notebooks go to notebooks/_executed/, where _toc.yml expects them (``--out`` puts them
elsewhere, e.g. the paper-dry run, which is not a book). A failing notebook stops the run with
papermill's error (e.g. an unknown profile name).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "notebooks"
EXECUTED = SOURCES / "_executed"


def notebook_names() -> list[str]:
    """Notebooks in the order of _toc.yml (the summary page reads what earlier pages recorded)."""
    import re

    toc = (ROOT / "_toc.yml").read_text()
    ordered = re.findall(r"notebooks/_executed/([A-Za-z0-9_]+)", toc)
    sources = {p.stem for p in SOURCES.glob("*.md")}
    return [n for n in ordered if n in sources] + sorted(sources - set(ordered))


STUDENT_EDITIONS = {"course_exercises": ROOT / "course" / "course_exercises.ipynb"}
"""Chapters the book shows in their student edition (no solutions): the committed student notebook is executed,
in its folder (its public tests beside it), instead of the master ``notebooks/<name>.md`` (the teacher's edition)."""


def run(name: str, profile: str, seed: int, device: str, timeout: int | None, out: Path = EXECUTED) -> float:
    import jupytext
    import papermill as pm

    out.mkdir(parents=True, exist_ok=True)
    unexecuted = out / f"{name}.input.ipynb"
    if name in STUDENT_EDITIONS:  # run in a copy of its folder: otter's log and the checks' files stay out of course/
        import shutil
        import tempfile

        cwd = Path(tempfile.mkdtemp(prefix=f"{name}-")) / "student"
        shutil.copytree(STUDENT_EDITIONS[name].parent, cwd, ignore=shutil.ignore_patterns(".*", "__pycache__"))
        jupytext.write(jupytext.read(STUDENT_EDITIONS[name]), unexecuted)
    else:
        jupytext.write(jupytext.read(SOURCES / f"{name}.md"), unexecuted)
        cwd = SOURCES
    start = time.time()
    pm.execute_notebook(str(unexecuted), str(out / f"{name}.ipynb"), parameters={"profile": profile, "seed": seed, "device": device},
                        kernel_name="python3", cwd=str(cwd), progress_bar=False, execution_timeout=timeout)
    unexecuted.unlink()
    hide_default_parameters(out / f"{name}.ipynb")
    return time.time() - start


def hide_default_parameters(path: Path) -> None:
    """Keep one parameters cell on the page: papermill's injected one (the values this build ran with);
    the notebook's defaults get Jupyter Book's ``remove-cell`` tag."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    if not any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells):
        return
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
    nbformat.write(nb, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help=f"notebooks to run (default: all): {', '.join(notebook_names())}")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--timeout", type=int, default=None, help="seconds per cell")
    parser.add_argument("--out", type=Path, default=EXECUTED, help="folder for the executed notebooks (default: the book's)")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    sys.path.insert(0, str(ROOT))
    from mspd_core.evaluate import BUILD_ENV
    from mspd_core.paths import absolutize_user_paths
    from mspd_core.profiles import get_profile

    absolutize_user_paths()  # MSPD_CIFAR10=../shared/... means: relative to where the command was typed

    profile = get_profile(args.profile)  # fail fast, naming the valid profiles
    from mspd_core.notebook import resolve_device

    try:  # a GPU profile on a machine without a usable GPU stops here, before any chapter runs
        resolve_device(args.device, profile.needs_gpu, profile.name)
    except (RuntimeError, ValueError) as err:
        parser.error(str(err))
    if profile.needs_lossless:  # the papers' numbers are on lossless CIFAR-10: a JPEG copy stops here
        from mspd_core.data import DataUnavailableError, load_cifar10_uint8, require_lossless

        try:
            require_lossless(load_cifar10_uint8("test")[2], f"profile {profile.name!r}")
        except DataUnavailableError as err:
            parser.error(str(err))
    from mspd_core.zoo.registry import ModelUnavailableError, preflight, zoo_for

    try:  # every model of the profile's zoo, before the first chapter: one report of everything missing or damaged
        problems = preflight(zoo_for(profile.zoo))
    except ModelUnavailableError as err:
        problems = [str(err)]
    if problems:
        parser.error(f"{len(problems)} model(s) of the {profile.zoo} zoo cannot be loaded; no chapter ran:\n  - "
                     + "\n  - ".join(problems))
    names = args.names or notebook_names()
    unknown = sorted(set(names) - set(notebook_names()))
    if unknown:
        parser.error(f"unknown notebook(s) {unknown}; known: {', '.join(notebook_names())}")
    import os
    import shutil

    claims = out / "claims"
    if not args.names:  # a full run starts with no claims: the summary shows only this build's
        shutil.rmtree(claims, ignore_errors=True)
    os.environ["MSPD_CLAIMS_DIR"] = str(claims)
    os.environ.setdefault(BUILD_ENV, f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
    from mspd_core.bench import calibration_seconds
    from mspd_core.claims.engine import FRONT_PAGE_DIR
    from mspd_core.evaluate import cpu_model

    if not (FRONT_PAGE_DIR / "verdicts.md").exists():  # book/index.md includes it; the summary page rewrites it
        FRONT_PAGE_DIR.mkdir(parents=True, exist_ok=True)
        (FRONT_PAGE_DIR / "verdicts.md").write_text("*The summary page has not run in this build: no verdicts to show here.*\n")
    calibration = calibration_seconds()
    from mspd_core.claims.design import CALIBRATION_ENV

    os.environ[CALIBRATION_ENV] = str(calibration["seconds"])  # "needs n = X (about Y minutes on this CPU)" on claim rows
    print(f"[notebooks] calibration: {calibration['seconds']:.1f} s for {calibration['workload']} ({cpu_model()})", flush=True)
    timings = {}
    from mspd_core.grid import CELL_LOG_ENV

    cell_log = out / f"cells-{args.profile}.jsonl"  # every grid cell's wall-clock seconds, by chapter
    if not args.names:
        cell_log.unlink(missing_ok=True)
    os.environ[CELL_LOG_ENV] = str(cell_log)
    for name in names:
        print(f"[notebooks] {name} (profile {args.profile}) ...", flush=True)
        os.environ["MSPD_NOTEBOOK"] = name
        timings[name] = run(name, args.profile, args.seed, args.device, args.timeout, out)
        print(f"[notebooks] {name} done in {timings[name]:.1f} s", flush=True)
    total = sum(timings.values())
    unit = calibration["seconds"]
    record = {"profile": args.profile, "cpu": cpu_model(), "calibration": calibration, "notebooks_s": timings,
              "total_s": round(total, 1), "total_calibration_units": round(total / unit, 1),
              "notebooks_calibration_units": {k: round(v / unit, 2) for k, v in timings.items()}}
    (out / f"timings-{args.profile}.json").write_text(json.dumps(record, indent=2))
    if cell_log.exists():  # where the time went: the slowest cells of this run
        cells = [json.loads(line) for line in cell_log.read_text().splitlines() if line.strip()]
        for c in sorted(cells, key=lambda c: -c["seconds"])[:15]:
            print(f"[notebooks]   {c['seconds']:7.1f} s  {c['notebook']}: {c['cell']} (n = {c['n']})")
    print(f"[notebooks] {len(names)} notebook(s), {total:.0f} s in all = {total / unit:.0f} calibration units "
          f"(1 unit = {unit:.1f} s here: {calibration['workload']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
