"""The evaluation grid on a local Ray (2 CPUs): same cells as the local engine, failures lose nothing."""
from __future__ import annotations

import os
import textwrap

import numpy as np
import pytest
import torch

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install -e .[ray]")

from mspd_core.data import evaluation_subset  # noqa: E402
from mspd_core.distributed import CACHE_FOLDER_ENV, GridCellsFailed, RayPreflightFailed  # noqa: E402
from mspd_core.evaluate import Attack, CellsNotVisible, Defense, ResultCache, run_grid  # noqa: E402
from mspd_core.zoo.registry import zoo_for  # noqa: E402

pytestmark = pytest.mark.slow

FLAKY = '''
import os
from pathlib import Path


def dies_once(model, x, y, eps=8 / 255, seed=0, marker=""):
    """A defense whose worker dies the first time it runs (os._exit), then releases x unchanged."""
    if not Path(marker).exists():
        Path(marker).write_text("killed once")
        os._exit(1)
    return x


def raises_value_error(model, x, y, eps=8 / 255, seed=0, counter=""):
    """A deterministic bug: counts its calls in a file, then raises."""
    with open(counter, "a") as f:
        f.write("x")
    raise ValueError("a bug, the same every time")
'''


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    module_dir = tmp_path_factory.mktemp("flaky")
    (module_dir / "flaky_defenses.py").write_text(textwrap.dedent(FLAKY))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(module_dir), "OMP_NUM_THREADS": "1"}})
    yield module_dir
    ray.shutdown()


@pytest.fixture(scope="module")
def grid_inputs(cifar_root):
    os.environ["MSPD_CIFAR10"] = cifar_root
    data = evaluation_subset(4, 0)
    zoo = zoo_for("embedded", 1)
    defenses = [Defense("No Pre."), Defense("MSPD (N=2)", "mcgs", {"n_samples": 2})]
    attacks = [Attack("clean"), Attack("PGD-2", "pgd", {"steps": 2})]
    return data, zoo, defenses, attacks


def _cells(table):
    return {(r.defense, r.attack, r.target): (int(r.correct), tuple(np.asarray(r.per_image, bool))) for r in table.itertuples()}


def test_ray_grid_equals_local_grid_and_reruns_compute_nothing(local_ray, grid_inputs, tmp_path):
    data, zoo, defenses, attacks = grid_inputs
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same arithmetic as the 1-thread Ray workers
    try:
        local = run_grid(defenses, attacks, [zoo.main_target], data, zoo, batch_size=2, progress=False,
                         cache=ResultCache(tmp_path / "local"))
    finally:
        torch.set_num_threads(threads)
    store = ResultCache(tmp_path / "ray")
    on_ray = run_grid(defenses, attacks, [zoo.main_target], data, zoo, batch_size=2, progress=False, cache=store, engine="ray")
    assert _cells(on_ray) == _cells(local)
    files = sorted(p.name for p in store.folder.glob("*.pt"))
    assert len(files) == len(defenses) * (1 + len(attacks))
    again = run_grid(defenses, attacks, [zoo.main_target], data, zoo, batch_size=2, progress=False, cache=store, engine="ray")
    assert sorted(p.name for p in store.folder.glob("*.pt")) == files  # nothing new computed
    assert _cells(again) == _cells(on_ray)


def test_a_killed_worker_is_retried_and_a_failing_cell_is_named(local_ray, grid_inputs, tmp_path):
    data, zoo, defenses, attacks = grid_inputs
    store = ResultCache(tmp_path / "ray")
    flaky = Defense("dies once", "flaky_defenses:dies_once", {"marker": str(tmp_path / "marker")})
    table = run_grid(defenses[:1] + [flaky], attacks, [zoo.main_target], data, zoo, batch_size=2, progress=False,
                     cache=store, engine="ray", max_retries=2)
    assert (tmp_path / "marker").exists()  # its worker really died once
    assert set(table.defense) == {"No Pre.", "dies once"}
    before = sorted(p.name for p in store.folder.glob("*.pt"))
    broken = Defense("broken", "no_such_module:defense")
    with pytest.raises(GridCellsFailed) as err:
        run_grid(defenses[:1] + [flaky, broken], attacks, [zoo.main_target], data, zoo, batch_size=2, progress=False,
                 cache=store, engine="ray", max_retries=1)
    assert "broken" in err.value.failed and "broken | clean | " + zoo.main_target in err.value.failed
    assert not any(k.startswith(("No Pre.", "dies once")) for k in err.value.failed)
    assert sorted(p.name for p in store.folder.glob("*.pt")) == before  # finished cells kept, nothing recomputed


def test_workers_that_cannot_see_the_cache_fail_the_preflight(local_ray, grid_inputs, tmp_path):
    """Workers whose environment points at another folder (as on a node without the shared mount): the
    pre-flight fails before any cell runs, naming the problem."""
    data, zoo, defenses, attacks = grid_inputs
    store = ResultCache(tmp_path / "driver")
    elsewhere = {"env_vars": {CACHE_FOLDER_ENV: str(tmp_path / "worker-only")}}
    (tmp_path / "worker-only").mkdir()
    with pytest.raises(RayPreflightFailed, match="cannot read the driver's sentinel"):
        run_grid(defenses, attacks, [zoo.main_target], data, zoo, batch_size=2, progress=False, cache=store,
                 engine="ray", runtime_env=elsewhere)
    assert not list(store.folder.glob("*.pt")) and not list((tmp_path / "worker-only").glob("*.pt"))
    assert not list(store.folder.glob(".ray-preflight*"))  # the sentinel is cleaned up


def test_the_driver_never_recomputes_what_the_workers_wrote_elsewhere(local_ray, grid_inputs, tmp_path):
    """Without the pre-flight, cells written where the driver cannot see them are an error naming them,
    not a silent recomputation by the driver."""
    data, zoo, defenses, attacks = grid_inputs
    store = ResultCache(tmp_path / "driver")
    elsewhere = {"env_vars": {CACHE_FOLDER_ENV: str(tmp_path / "worker-only")}}
    with pytest.raises(CellsNotVisible) as err:
        run_grid(defenses[:1], attacks[:1], [zoo.main_target], data, zoo, batch_size=2, progress=False, cache=store,
                 engine="ray", runtime_env=elsewhere, preflight=False)
    assert err.value.missing == ["No Pre.", f"No Pre. | clean | {zoo.main_target}"]
    assert not list(store.folder.glob("*.pt"))  # the driver computed nothing
    assert len(list((tmp_path / "worker-only").glob("*.pt"))) == 2


def test_a_deterministic_bug_is_not_retried(local_ray, grid_inputs, tmp_path):
    """Only dead workers and declared transient errors are retried: a defense that raises ValueError runs once."""
    data, zoo, defenses, attacks = grid_inputs
    counter = tmp_path / "calls"
    buggy = Defense("buggy", "flaky_defenses:raises_value_error", {"counter": str(counter)})
    with pytest.raises(GridCellsFailed):
        run_grid([buggy], attacks[:1], [zoo.main_target], data, zoo, batch_size=4, progress=False,
                 cache=ResultCache(tmp_path / "ray"), engine="ray", max_retries=3)
    assert counter.read_text() == "x"
