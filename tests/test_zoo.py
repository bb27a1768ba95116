"""The model registry: embedded checkpoints (hash-verified) and RobustBench architectures offline."""
from __future__ import annotations

import json
import shutil

import pytest
import torch

from mspd_core.zoo import registry
from mspd_core.zoo.architectures import ARCHITECTURES, build
from mspd_core.zoo.recipes import RECIPES
from mspd_core.zoo.registry import ChecksumError, ModelUnavailableError


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_embedded_architectures_take_unit_images(arch):
    model = build(arch).eval()
    out = model(torch.rand(2, 3, 32, 32))
    assert out.shape == (2, 10) and torch.isfinite(out).all()


def test_unknown_names_are_clear_errors():
    with pytest.raises(ValueError, match="unknown model"):
        registry.spec("resnet-9000")
    with pytest.raises(ValueError, match="unknown architecture"):
        build("resnet-9000")
    with pytest.raises(ValueError, match="unknown zoo"):
        registry.zoo_for("huggingface")


@pytest.fixture
def tiny_zoo(tmp_path):
    """A one-model zoo folder with a real checkpoint and manifest."""
    model = build("plain_cnn", width=4)
    path = tmp_path / "tiny.pt"
    torch.save(model.state_dict(), path)
    manifest = {"bb-preact-fgsm": {"file": "tiny.pt", "sha256": registry.sha256_of(path), "arch": "plain_cnn", "arch_kwargs": {"width": 4}}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return tmp_path, model


def test_verified_checkpoint_loads_identically(tiny_zoo):
    folder, model = tiny_zoo
    loaded = registry.load_embedded("bb-preact-fgsm", zoo_dir=folder)
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(loaded(x), model.eval()(x)) and not loaded.training


@pytest.mark.parametrize("damage", ["flip", "truncate", "append"])
def test_damaged_checkpoint_is_refused_with_rebuild_hint(tiny_zoo, damage):
    folder, _ = tiny_zoo
    path = folder / "tiny.pt"
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x01
    elif damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data += b"\x00"
    path.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match=r"tiny\.pt.*SHA-256.*mspd_core\.zoo\.train bb-preact-fgsm"):
        registry.load_embedded("bb-preact-fgsm", zoo_dir=folder)


def test_missing_checkpoint_is_clear_error(tiny_zoo):
    folder, _ = tiny_zoo
    (folder / "tiny.pt").unlink()
    with pytest.raises(ModelUnavailableError, match="missing"):
        registry.load_embedded("bb-preact-fgsm", zoo_dir=folder)


def test_pickle_payload_is_not_executed(tiny_zoo, tmp_path):
    """A checkpoint that is a pickle of arbitrary objects is refused by weights_only=True even if its hash is recorded."""
    folder, _ = tiny_zoo
    path = folder / "tiny.pt"
    torch.save({"payload": shutil.rmtree}, path)  # not a tensor dict: weights_only must refuse it
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["bb-preact-fgsm"]["sha256"] = registry.sha256_of(path)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelUnavailableError, match="could not be loaded"):
        registry.load_embedded("bb-preact-fgsm", zoo_dir=folder)


@pytest.mark.parametrize("name", list(registry.ROBUSTBENCH_MODELS))
def test_every_paper_model_resolves_to_an_architecture_offline(name):
    model = registry.robustbench_architecture(name)
    assert sum(p.numel() for p in model.parameters()) > 1_000_000


def test_robustbench_weights_missing_offline_is_clear(tmp_path, monkeypatch):
    monkeypatch.setenv("MSPD_ROBUSTBENCH_DIR", str(tmp_path))
    from mspd_core._compat import import_robustbench

    import_robustbench()

    def no_network(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr("robustbench.utils.download_gdrive", no_network, raising=False)
    monkeypatch.setattr("robustbench.utils.download_gdrive_new", no_network, raising=False)
    with pytest.raises(ModelUnavailableError, match=r"Wong2020Fast.*cifar10/Linf/Wong2020Fast\.pt"):
        registry.load_robustbench("Wong2020Fast")


def test_every_recipe_is_registered():
    assert set(RECIPES) <= set(registry.EMBEDDED_MODELS)
    roles = {registry.spec(n).role for n in RECIPES}
    assert roles == {"classifier", "backbone", "target", "preemptive", "smoothed", "certified"}


@pytest.mark.parametrize("name", list(registry.read_manifest()))
def test_committed_checkpoints_load_and_clean_accuracy_re_measures(name, cifar_root, monkeypatch):
    """Every committed model loads (hash verified) and its clean accuracy on the manifest's
    1,000 held-out images re-measures within 1.5 points (PGD-20: `make zoo-check`)."""
    monkeypatch.setenv("MSPD_CIFAR10", cifar_root)
    from mspd_core.zoo.train import zoo_eval_set

    entry = registry.read_manifest()[name]
    model = registry.load(name)
    x, y = zoo_eval_set()
    with torch.no_grad():
        acc = 100 * float(torch.cat([model(x[i:i + 500]).argmax(1) for i in range(0, len(y), 500)]).eq(y).float().mean())
    assert abs(acc - entry["eval"]["clean_acc"]) <= 1.5


def test_budget_verdicts_flag_an_over_budget_zoo():
    import pandas as pd

    from mspd_core.zoo.check import budget_verdicts

    within = budget_verdicts(pd.Series([30.0, 20.0]), pd.Series([2.0, 3.0]))
    assert all(within.values())
    too_slow = budget_verdicts(pd.Series([46.0]), pd.Series([1.0]))
    assert [ok for ok in too_slow.values()] == [False, True, True, True]
    too_big = budget_verdicts(pd.Series([10.0] * 3), pd.Series([21.0, 20.0, 20.0]))
    assert [ok for ok in too_big.values()] == [True, True, False, False]


def test_committed_zoo_is_within_its_budgets():
    """The committed manifest and checkpoints respect the zoo issue's time and size budgets."""
    import pandas as pd

    from mspd_core.zoo.check import budget_verdicts, checkpoint_megabytes

    manifest = registry.read_manifest()
    minutes = pd.Series({name: e["train_minutes"] for name, e in manifest.items()})
    megabytes = pd.Series([checkpoint_megabytes(e) for e in manifest.values()])
    verdicts = budget_verdicts(minutes, megabytes)
    assert all(verdicts.values()), verdicts


def test_committed_zoo_meets_its_stored_thresholds():
    """Stored accuracies (re-measured by `make zoo-check`) meet the zoo issue's thresholds."""
    from mspd_core.zoo.check import meets_threshold

    for name, entry in registry.read_manifest().items():
        assert meets_threshold(name, entry, entry["eval"]["clean_acc"], entry["eval"]["pgd20_acc"]), name


def test_separation_target_recipe_lowers_its_adversarial_loss(cifar_root, monkeypatch):
    """A seeded run of the separation target's recipe (FGSM-RS on its architecture) on a tiny CIFAR-10 subset lowers
    the loss on adversarial examples of that subset (fixed random starts)."""
    import torch.nn.functional as F

    from mspd_core.data import load_cifar10_uint8, to_tensor_images
    from mspd_core.zoo.recipes import EMBEDDED_SEPARATION_TARGET
    from mspd_core.zoo.train import fgsm_rs_examples, training_inputs

    monkeypatch.setenv("MSPD_CIFAR10", cifar_root)
    recipe = RECIPES[EMBEDDED_SEPARATION_TARGET]
    assert recipe.role == "target" and recipe.training == "fgsm_rs"
    images, labels, _ = load_cifar10_uint8("test")  # any 64 CIFAR-10 images; the test split loads faster
    x, y = to_tensor_images(images[:64]), torch.from_numpy(labels[:64])
    torch.manual_seed(recipe.seed)
    model = build(recipe.arch, **recipe.arch_kwargs)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)

    def adversarial_loss() -> float:
        model.eval()
        x_adv = fgsm_rs_examples(model, x, y, 8 / 255, 10 / 255, torch.Generator().manual_seed(123))
        with torch.no_grad():
            return float(F.cross_entropy(model(x_adv), y))

    before = adversarial_loss()
    gen = torch.Generator().manual_seed(recipe.seed)
    for _ in range(15):
        model.train()
        loss = F.cross_entropy(model(training_inputs(recipe, model, x, y, gen)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert adversarial_loss() < before
