"""The evaluation engine on tiny models: sanity checks, caching, sharding, paired statistics."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mspd_core import cells, evaluate
from mspd_core.data import ImageSet
from mspd_core.evaluate import Attack, Defense, ResultCache, run_grid
from mspd_core.metrics import accuracy, mcnemar_exact, wilson
from mspd_core.zoo.registry import Zoo
from tests.conftest import tiny_cnn

MODELS = {"clf": tiny_cnn(0), "bb": tiny_cnn(1), "t1": tiny_cnn(2), "t2": tiny_cnn(3)}


@pytest.fixture
def fake_zoo(monkeypatch):
    """Route the registry to tiny in-memory models (the engine's logic, not the zoo, is under test)."""
    monkeypatch.setattr(cells, "load_cached", lambda name, device="cpu": MODELS[name])
    monkeypatch.setattr(cells, "model_fingerprint", lambda name: f"tiny:{name}")
    return Zoo("clf", "bb", ("t1", "t2"), ("bb",), "test")


@pytest.fixture
def data():
    g = torch.Generator().manual_seed(0)
    x = torch.round(torch.rand(12, 3, 32, 32, generator=g) * 255) / 255
    y = MODELS["t1"](x).argmax(1)  # labels the target gets right: clean accuracy 100% on t1
    return ImageSet(x, y, torch.arange(12), "test", "synthetic")


DEFENSES = [Defense("No Pre."), Defense("MSPD", "mcgs", {"n_samples": 2}), Defense("UnAdv", "unadv", {"epochs": 2}, labels="couple")]
ATTACKS = [Attack("clean"), Attack("AA", "autoattack", {"version": "custom", "attacks": ("apgd-ce",)}), Attack("PGD-5", "pgd", {"steps": 5})]


def test_grid_shape_and_invariants(fake_zoo, data, tmp_path):
    table = run_grid(DEFENSES, ATTACKS, ["t1", "t2"], data, fake_zoo, cache=ResultCache(tmp_path), progress=False)
    assert len(table) == len(DEFENSES) * len(ATTACKS) * 2
    assert set(table.columns) >= {"defense", "attack", "target", "acc", "ci_low", "ci_high", "p_vs_baseline", "ssim", "lpips"}
    assert (table.ci_low <= table.acc).all() and (table.acc <= table.ci_high).all()
    clean = table[table.attack == "clean"].set_index(["defense", "target"]).acc
    for attack in ("AA", "PGD-5"):
        robust = table[table.attack == attack].set_index(["defense", "target"]).acc
        assert (robust <= clean + 1e-9).all(), "robust accuracy can never exceed clean accuracy on the same images"
    none = table[(table.defense == "No Pre.")]
    assert none.linf.max() == 0 and none.ssim.min() == pytest.approx(1.0)
    protected = table[table.defense != "No Pre."]
    assert (protected.linf_max if "linf_max" in protected else protected.linf).max() <= 8 / 255 + 1e-6
    assert table[table.defense == "No Pre."].p_vs_baseline.isna().all()
    assert table[table.defense != "No Pre."].p_vs_baseline.between(0, 1).all(), "paired test against No Pre. on every other row"


def test_cell_log_names_every_cell_with_its_chapter(fake_zoo, data, tmp_path, monkeypatch):
    import json

    log = tmp_path / "cells.jsonl"
    monkeypatch.setenv("MSPD_CELL_LOG", str(log))
    monkeypatch.setenv("MSPD_NOTEBOOK", "table99")
    run_grid(DEFENSES[:2], ATTACKS[:2], ["t1"], data, fake_zoo, cache=ResultCache(tmp_path / "c"), progress=False)
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["cell"] for r in rows] == ["No Pre.", "No Pre. | clean | t1", "No Pre. | AA | t1",
                                         "MSPD", "MSPD | clean | t1", "MSPD | AA | t1"]
    assert all(r["notebook"] == "table99" and r["n"] == len(data) and r["seconds"] >= 0 for r in rows)
    monkeypatch.delenv("MSPD_CELL_LOG")
    run_grid(DEFENSES[:1], ATTACKS[:1], ["t1"], data, fake_zoo, cache=ResultCache(tmp_path / "c"), progress=False)
    assert len(log.read_text().splitlines()) == 6, "no log without MSPD_CELL_LOG"


def test_separability_reports_discordance_and_release_distance(fake_zoo, data, tmp_path):
    """Discordant images in both directions and how far apart the releases are; no discordance: 'cannot separate'."""
    from mspd_core import experiments as ex

    cache = ResultCache(tmp_path)
    table = run_grid(DEFENSES, ATTACKS[:1], ["t1"], data, fake_zoo, cache=cache, progress=False)
    known = np.array([True] * 6 + [False] * 6)
    other = np.array([True] * 4 + [False] * 4 + [True] * 4)  # only MSPD correct on 2, only the other on 4
    table.at[table.index[table.defense == "MSPD"][0], "per_image"] = known
    table.at[table.index[table.defense == "UnAdv"][0], "per_image"] = other
    table.at[table.index[table.defense == "No Pre."][0], "per_image"] = known.copy()
    sep = ex.separability(table, "MSPD", ["UnAdv", "No Pre."], ["clean"], cache=cache).set_index("comparison")
    assert sep.loc["MSPD vs UnAdv", "only MSPD correct"] == 2 and sep.loc["MSPD vs UnAdv", "only other correct"] == 4
    assert sep.loc["MSPD vs UnAdv", "separable here"] == "yes"
    assert sep.loc["MSPD vs No Pre.", "separable here"].startswith("no: the same robust set")
    assert 0 < sep.loc["MSPD vs No Pre.", "release distance: mean L-inf (/255)"] <= 8 + 1e-6


def test_autoattack_breaks_a_non_robust_model(fake_zoo, data, tmp_path):
    table = run_grid([Defense("No Pre.")], [Attack("clean"), Attack("AA", "autoattack", {"version": "standard"})], ["t1"],
                     data, fake_zoo, cache=ResultCache(tmp_path), progress=False)
    acc = table.set_index("attack").acc
    assert acc["clean"] == 100.0
    assert acc["AA"] <= 10.0


def test_cached_run_is_identical_and_changed_parameter_recomputes(fake_zoo, data, tmp_path, monkeypatch):
    store = ResultCache(tmp_path)
    first = run_grid(DEFENSES[:2], ATTACKS[:2], ["t1"], data, fake_zoo, cache=store, progress=False)
    n_files = len(list(tmp_path.glob("*.pt")))
    calls = []
    monkeypatch.setattr(cells, "protect", lambda *a, **k: calls.append(1) or (_ for _ in ()).throw(AssertionError("recomputed")))
    second = run_grid(DEFENSES[:2], ATTACKS[:2], ["t1"], data, fake_zoo, cache=store, progress=False)
    assert not calls and len(list(tmp_path.glob("*.pt"))) == n_files
    assert first.drop(columns="per_image").equals(second.drop(columns="per_image"))
    monkeypatch.undo()
    monkeypatch.setattr(cells, "load_cached", lambda name, device="cpu": MODELS[name])
    monkeypatch.setattr(cells, "model_fingerprint", lambda name: f"tiny:{name}")
    run_grid([Defense("MSPD", "mcgs", {"n_samples": 3})], ATTACKS[:1], ["t1"], data, fake_zoo, cache=store, progress=False)
    assert len(list(tmp_path.glob("*.pt"))) > n_files


def test_shards_fill_one_cache(fake_zoo, data, tmp_path):
    store = ResultCache(tmp_path)
    parts = [run_grid(DEFENSES, ATTACKS[:1], ["t1"], data, fake_zoo, cache=store, shard=(i, 2), progress=False) for i in range(2)]
    assert sum(len(p) for p in parts) == len(DEFENSES)
    merged = run_grid(DEFENSES, ATTACKS[:1], ["t1"], data, fake_zoo, cache=store, progress=False)
    assert len(merged) == len(DEFENSES)


def test_reversion_and_jpeg_post_processing(fake_zoo, data, tmp_path):
    defenses = [Defense("MSPD", "mcgs", {"n_samples": 2}), Defense("MSPD + white reversion", "mcgs", {"n_samples": 2}, post="reversion"),
                Defense("MSPD + JPEG", "mcgs", {"n_samples": 2}, post="jpeg")]
    table = run_grid(defenses, [Attack("clean")], ["t1"], data, fake_zoo, cache=ResultCache(tmp_path), progress=False)
    assert len(table) == 3 and table.ssim.between(0, 1).all()


def test_post_processed_defenses_share_the_plain_release(fake_zoo, data, tmp_path, monkeypatch):
    """JPEG and reversion act on the defense's own release: it is computed once (one protect run for the release;
    white reversion adds its D' run) and the post-processed rows carry the same release and its timing."""
    plain = Defense("MSPD", "mcgs", {"n_samples": 2})
    jpeg_row = Defense("MSPD + JPEG", "mcgs", {"n_samples": 2}, post="jpeg")
    white_row = Defense("MSPD + white reversion", "mcgs", {"n_samples": 2}, post="reversion")
    runs = []
    real_protect = cells.protect
    monkeypatch.setattr(cells, "protect", lambda d, *a, **k: runs.append(d.name) or real_protect(d, *a, **k))
    store = ResultCache(tmp_path)
    out = {d.name: cells.released_images(d, data, fake_zoo, cache=store) for d in (jpeg_row, white_row, plain)}
    assert runs == ["MSPD + JPEG (release)", "MSPD + white reversion (D')"]
    for name in ("MSPD + JPEG", "MSPD + white reversion"):
        assert torch.equal(out[name]["x_released"], out["MSPD"]["x_released"])
        assert out[name]["seconds_per_image"] == out["MSPD"]["seconds_per_image"]
    assert not torch.equal(out["MSPD + JPEG"]["x_eval"], out["MSPD"]["x_eval"])


def test_unknown_methods_are_clear(fake_zoo, data, tmp_path):
    with pytest.raises(ValueError, match="unknown defense method"):
        run_grid([Defense("x", "magic")], [Attack("clean")], ["t1"], data, fake_zoo, cache=ResultCache(tmp_path), progress=False)
    with pytest.raises(ValueError, match="unknown attack method"):
        run_grid([Defense("No Pre.")], [Attack("x", "magic")], ["t1"], data, fake_zoo, cache=ResultCache(tmp_path), progress=False)


def test_wilson_and_mcnemar():
    p = wilson(50, 100)
    assert p.low < 0.5 < p.high and 0.39 < p.low < 0.41
    assert accuracy(np.ones(10, bool)).value == 1.0
    assert mcnemar_exact(np.ones(20, bool), np.zeros(20, bool)) < 1e-5
    assert mcnemar_exact(np.ones(5, bool), np.ones(5, bool)) == 1.0


def test_changing_a_source_byte_changes_the_cache_key(tmp_path):
    import shutil
    from pathlib import Path

    pkg = tmp_path / "mspd_core"
    shutil.copytree(Path(evaluate.__file__).parent, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    before = evaluate.code_fingerprint(pkg)
    smoothing = pkg / "smoothing.py"
    smoothing.write_bytes(smoothing.read_bytes() + b" ")
    assert evaluate.code_fingerprint(pkg) != before
    # presentation code does not invalidate results
    after = evaluate.code_fingerprint(pkg)
    for rel in ("claims/stats.py", "course.py", "grading.py", "distributed.py", "zoo/dry.py"):
        source = pkg / rel
        source.write_bytes(source.read_bytes() + b"\n")
        assert evaluate.code_fingerprint(pkg) == after, rel


def test_cache_key_names_code_torch_device_and_dtype(fake_zoo, data, monkeypatch):
    d = DEFENSES[1]
    cpu = evaluate.release_key(d, data, fake_zoo, 8 / 255, 0, True, 4, "cpu")
    assert evaluate.release_key(d, data, fake_zoo, 8 / 255, 0, True, 4, "meta") != cpu
    monkeypatch.setattr(cells, "code_fingerprint_cached", lambda: "edited")
    assert evaluate.release_key(d, data, fake_zoo, 8 / 255, 0, True, 4, "cpu") != cpu
    monkeypatch.undo()
    monkeypatch.setattr(cells, "load_cached", lambda name, device="cpu": MODELS[name])
    monkeypatch.setattr(cells, "model_fingerprint", lambda name: f"tiny:{name}")
    real = torch.__version__
    monkeypatch.setattr(cells.torch, "__version__", "0.0-other")
    assert evaluate.release_key(d, data, fake_zoo, 8 / 255, 0, True, 4, "cpu") != cpu
    # naming the default backbone explicitly is the same computation
    same = Defense("MSPD via bb", "mcgs", {"n_samples": 2}, backbone="bb")
    monkeypatch.setattr(cells.torch, "__version__", real)
    assert evaluate.release_key(same, data, fake_zoo, 8 / 255, 0, True, 4, "cpu") == cpu


def test_cached_timings_say_where_and_when(fake_zoo, data, tmp_path, monkeypatch):
    cache = ResultCache(tmp_path)
    monkeypatch.setenv(evaluate.BUILD_ENV, "build-1")
    t1 = run_grid(DEFENSES[:2], ATTACKS[:1], ["t1"], data, fake_zoo, batch_size=4, cache=cache, progress=False)
    assert all(v.startswith("this build") for v in t1.timed)
    assert len(t1[t1.defense == "MSPD"].batch_seconds.iloc[0]) == 3  # 12 images in batches of 4
    monkeypatch.setenv(evaluate.BUILD_ENV, "build-2")
    t2 = run_grid(DEFENSES[:2], ATTACKS[:1], ["t1"], data, fake_zoo, batch_size=4, cache=cache, progress=False)
    assert all(v.startswith("cached: measured on") for v in t2.timed)


@pytest.mark.parametrize("method", ["cw", "square", "pgd", "eot_pgd"])
def test_attack_budget_is_around_its_input(method, data):
    """The attack's eps-ball is centred on the image it is given (the release x_p), and stays in [0, 1]."""
    model = MODELS["t1"]
    x_p = (data.x + 4 / 255 * torch.sign(torch.randn_like(data.x))).clamp(0, 1)
    params = {"cw": {"steps": 3}, "square": {"n_queries": 20}, "pgd": {"steps": 3}, "eot_pgd": {"steps": 2, "eot_iter": 2}}[method]
    eps = 8 / 255
    x_adv = evaluate.ATTACK_METHODS[method](model, x_p, data.y, eps=eps, seed=0, **params)
    assert (x_adv - x_p).abs().max() <= eps + 1e-6
    assert x_adv.min() >= 0 and x_adv.max() <= 1


def test_zoo_helpers_for_fast_preemption_tables():
    from mspd_core.parts import fast_preemption as fpp
    from mspd_core.zoo.registry import zoo_for

    zoo = zoo_for("embedded")
    swapped = fpp.with_classifier(zoo, zoo.backbone)
    assert swapped.classifier == zoo.backbone and swapped.targets == zoo.targets and swapped.backbone == zoo.backbone
    with pytest.raises(ValueError, match="valid models"):
        fpp.with_classifier(zoo, "no-such-model")
    victims = fpp.transfer_victims(zoo)
    assert victims[0] == zoo.main_target and victims[1] in zoo.targets and victims[1] != victims[0]
    with pytest.raises(ValueError, match="one target"):
        fpp.transfer_victims(Zoo("clf", "bb", ("t1",), ("bb",), "test"))


def test_backbone_robustness_comes_from_the_manifest_not_the_page():
    import pandas as pd

    from mspd_core.parts import fast_preemption as fpp
    from mspd_core.zoo.registry import zoo_for

    zoo = zoo_for("embedded")
    page = pd.Series({b: 50.0 for b in zoo.backbones})  # what a page measured: ignored when the manifest has all
    rob, basis = fpp.backbone_robustness(zoo, page)
    assert "manifest" in basis and set(rob.index) == set(zoo.backbones) and rob.idxmin() == "bb-preact-std"
    other = Zoo("clf", "bb", ("t1",), ("bb", "bb2"), "test")
    rob, basis = fpp.backbone_robustness(other, pd.Series({"bb": 10.0, "bb2": 20.0, "t1": 5.0}))
    assert "this page" in basis and rob.idxmax() == "bb2" and list(rob.index) == ["bb", "bb2"]


def test_the_reversion_protocol_labeller_is_the_zoos_least_accurate_model():
    """Fast Preemption Table 2's protocol "selects a poor classifier": by the manifest's clean accuracy, never the
    excluded victim; a zoo without manifest accuracies falls back to its backbone."""
    from mspd_core.parts import fast_preemption as fpp
    from mspd_core.zoo.registry import read_manifest, zoo_for

    zoo = zoo_for("embedded")
    pool = [m for m in dict.fromkeys((zoo.classifier,) + zoo.targets + zoo.backbones) if m != zoo.main_target]
    accs = {m: read_manifest()[m]["eval"]["clean_acc"] for m in pool}
    weak = fpp.least_accurate_model(zoo, exclude=(zoo.main_target,))
    assert weak != zoo.main_target and accs[weak] == min(accs.values())
    assert fpp.least_accurate_model(Zoo("clf", "bb", ("t1",), ("bb",), "test")) == "bb"
