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
    """Notebooks hold narrative and calls into mspd_core; functions they define are plotting/format helpers only."""
    code = "\n".join(c.source for c in jupytext.read(path).cells if c.cell_type == "code")
    for banned in ("autograd.grad", ".backward(", "torch.sign(", ".sign()"):
        assert banned not in code, f"{path.name} computes gradients itself ({banned}); use mspd_core"


def test_unknown_profile_names_the_valid_ones():
    with pytest.raises(ValueError, match="valid profiles are: smoke, cpu, paper"):
        get_profile("nonsense")
    assert set(PROFILES) == {"smoke", "cpu", "paper"}


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
