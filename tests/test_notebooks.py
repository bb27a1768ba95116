"""The notebooks as sources: parseable, parameterized, listed in the table of contents, no library copies."""
from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest

from mspd_core.profiles import PROFILES, get_profile

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.md"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_a_parameters_cell_and_is_in_the_toc(path):
    nb = jupytext.read(path)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    for name in ("profile", "seed", "device"):
        assert re.search(rf"^{name} = ", params[0].source, re.M), f"{path.name}: parameter {name} missing"
    assert f"notebooks/_executed/{path.stem}" in (ROOT / "_toc.yml").read_text()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_define_no_algorithms(path):
    """Notebooks hold narrative and calls into mspd_core; functions they define are plotting/format helpers only.
    The course is the exception: its solutions are the students' own implementations, checked
    against the library by mspd_core.course (tests/test_course.py)."""
    if path.stem == "course_exercises":
        return
    code = "\n".join(c.source for c in jupytext.read(path).cells if c.cell_type == "code")
    for banned in ("autograd.grad", ".backward(", "torch.sign(", ".sign()"):
        assert banned not in code, f"{path.name} computes gradients itself ({banned}); use mspd_core"


def test_unknown_profile_names_the_valid_ones():
    with pytest.raises(ValueError, match="valid profiles are: smoke, cpu, paper, paper-dry"):
        get_profile("nonsense")
    assert set(PROFILES) == {"smoke", "cpu", "paper", "paper-dry"}


def test_papermill_rejects_an_unknown_profile(tmp_path, cifar_root, monkeypatch):
    import papermill as pm

    monkeypatch.setenv("MSPD_CIFAR10", cifar_root)
    src = tmp_path / "00_data.ipynb"
    jupytext.write(jupytext.read(ROOT / "notebooks" / "00_data.md"), src)
    with pytest.raises(pm.PapermillExecutionError, match="valid profiles are: smoke, cpu, paper"):
        pm.execute_notebook(str(src), str(tmp_path / "out.ipynb"), parameters={"profile": "nonsense"},
                            kernel_name="python3", progress_bar=False, cwd=str(ROOT / "notebooks"))


def test_every_registered_claim_is_checked_by_its_own_chapter():
    """The registry is the one list of claims: each is checked in the notebook it names, and notebooks
    check no unregistered claim."""
    from mspd_core.claims import REGISTRY

    checked = {}
    for path in NOTEBOOKS:
        code = "\n".join(c.source for c in jupytext.read(path).cells if c.cell_type == "code")
        for key in re.findall(r'claims\.check\(\s*"([a-z0-9_]+)"', code):
            checked[key] = path.stem
    assert set(checked) <= set(REGISTRY), set(checked) - set(REGISTRY)
    for key, spec in REGISTRY.items():
        assert checked.get(key) == spec.notebook, f"{key} should be checked in {spec.notebook}"


def test_committed_ipynb_twins_are_in_sync_and_output_free():
    import importlib.util

    import nbformat

    spec = importlib.util.spec_from_file_location("sync_notebooks", ROOT / "scripts" / "sync_notebooks.py")
    sync = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sync)
    assert sync.main(["--check"]) == 0, "run `make notebooks-sync`"
    for path in NOTEBOOKS:
        nb = nbformat.read(path.with_suffix(".ipynb"), as_version=4)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
        assert "remove-cell" in nb.cells[0].metadata["tags"] and "find_spec" in nb.cells[0].source


def test_chapter_parameters_are_validated():
    from mspd_core import experiments as ex
    from mspd_core.notebook import start
    from mspd_core.zoo.registry import Zoo

    with pytest.raises(ValueError, match=r"eps must be a number in \(0, 1\)"):
        start("smoke", eps=8)
    with pytest.raises(ValueError, match="n_images must be an integer"):
        start("smoke", n_images=1)
    session = start("smoke", n_images=30, eps=4 / 255)
    assert session.profile.n_images == 30 and session.profile.n_large == 30 and session.eps == 4 / 255
    small = start("cpu", n_images=20).profile  # fewer images than two of the profile's batches: smaller batches
    assert small.n_images == 20 and small.batch_size == 10 and small.n_large == get_profile("cpu").n_large
    zoo = Zoo("c", "b", ("t1", "t2"), ("b", "b2"), "test")
    with pytest.raises(ValueError, match="valid targets of the test zoo: t1, t2"):
        ex.choose(zoo, target="nope")
    with pytest.raises(ValueError, match="valid backbones of the test zoo: b, b2"):
        ex.choose(zoo, backbone="nope")
    chosen = ex.choose(zoo, target="t2", backbone="b2")
    assert chosen.main_target == "t2" and chosen.backbone == "b2"


@pytest.mark.slow
def test_a_reader_reruns_a_chapter_with_other_parameters(tmp_path, cifar_root, monkeypatch):
    """`mspd notebook` on the committed .ipynb: changed parameters take effect (sample size, target)."""
    import json

    from mspd_core.cli import main

    monkeypatch.setenv("MSPD_CIFAR10", cifar_root)
    monkeypatch.setenv("MSPD_CLAIMS_DIR", str(tmp_path / "claims"))
    out = tmp_path / "out.ipynb"
    rc = main(["notebook", "table15_attack_budget", "-p", "profile", "smoke", "-p", "n_large", "12",
               "-p", "target", "tg-cnn-pgd", "-o", str(out), "--quiet"])
    assert rc == 0
    claim = json.loads((tmp_path / "claims" / "table15_attack_budget.json").read_text())["claims"][0]
    assert claim["n"] == 12
    assert "Target: `tg-cnn-pgd`" in out.read_text()
    assert main(["notebook", "table15_attack_budget", "-p", "nonsense", "1", "-o", str(out)]) == 2


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_sample_has_at_least_two_batches(name):
    """Time-ratio claims compare per-batch seconds (Welch t on logs): each sample must span two batches or more.
    (The cpu book of 2026-12-02 stopped at Table IV when the paired subset shrank to one batch.)"""
    p = get_profile(name)
    assert p.n_images >= 2 * p.batch_size, f"{name}: {p.n_images} paired images in batches of {p.batch_size}"
    assert p.n_large >= 2 * p.batch_size, f"{name}: {p.n_large} large-sample images in batches of {p.batch_size}"
