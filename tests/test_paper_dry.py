"""The paper-dry path: random RobustBench checkpoints in RobustBench's layout, loaded by RobustBench's
own loader; safety around real weights; verdicts withheld; the paper zoo's model facts."""
from __future__ import annotations

import pytest
import torch

from mspd_core import claims, experiments as ex
from mspd_core.profiles import get_profile
from mspd_core.zoo import registry
from mspd_core.zoo.dry import RealWeightsError, dry_models, write_random_checkpoints

CHEAP = ["Wong2020Fast", "Chen2020Adversarial", "Debenedetti2022Light_XCiT-S12"]  # plain, ensemble, timm


@pytest.fixture(scope="module")
def dry_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("robustbench-dry")
    written = write_random_checkpoints(folder, CHEAP, progress=False)
    assert {p.name for p in written} == {"Wong2020Fast.pt", "Debenedetti2022Light_XCiT-S12.pt",
                                         *(f"Chen2020Adversarial.pt_m{i}.pt" for i in range(3))}
    return folder


@pytest.mark.parametrize("name", CHEAP)
def test_random_checkpoints_load_through_robustbench_with_the_written_weights(dry_dir, name):
    model = registry.load_robustbench(name, model_dir=dry_dir)
    out = model(torch.rand(2, 3, 32, 32))
    assert out.shape == (2, 10) and torch.isfinite(out).all()
    files = registry.robustbench_checkpoint_files(name, dry_dir)
    saved = torch.load(files[0], map_location="cpu", weights_only=True)
    key = next(k for k, v in saved.items() if k.endswith("weight") and v.ndim >= 2)
    fresh = registry.robustbench_architecture(name)  # another random draw
    loaded, other = ((model.models[0].state_dict(), fresh.models[0].state_dict()) if len(files) > 1
                     else (model.state_dict(), fresh.state_dict()))
    if key not in loaded:  # a released-format file holds the inner model of Sequential(normalize, model)
        loaded, other = ({k.removeprefix("model."): v for k, v in sd.items()} for sd in (loaded, other))
    assert torch.equal(loaded[key], saved[key]) and not torch.equal(other[key], saved[key])


@pytest.mark.parametrize("wrap", [None, "state_dict", "model"])
def test_a_released_format_timm_checkpoint_loads(tmp_path, wrap):
    """RobustBench's XCiT checkpoints are the inner timm model's state dict (timm loads them before the
    normalisation wrapper), bare or under a "state_dict"/"model" key: each loads, with its weights."""
    name = "Debenedetti2022Light_XCiT-S12"
    torch.manual_seed(7)
    inner = registry.robustbench_architecture(name).model.state_dict()
    path = registry.robustbench_checkpoint(name, tmp_path)
    path.parent.mkdir(parents=True)
    torch.save(inner if wrap is None else {wrap: inner, "epoch": 300}, path)
    model = registry.load_robustbench(name, model_dir=tmp_path)
    key = next(k for k, v in inner.items() if k.endswith("weight") and v.ndim >= 2)
    assert torch.equal(model.model.state_dict()[key], inner[key])
    assert model(torch.rand(1, 3, 32, 32)).shape == (1, 10)


def test_a_released_format_cifar_checkpoint_loads(tmp_path):
    """A plain RobustBench CIFAR-10 checkpoint as released (``{"state_dict": ...}`` with DataParallel's
    ``module.`` prefix) loads through robustbench.utils.load_model with its weights."""
    name = "Wong2020Fast"
    torch.manual_seed(8)
    state = registry.robustbench_architecture(name).state_dict()
    path = registry.robustbench_checkpoint(name, tmp_path)
    path.parent.mkdir(parents=True)
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 15}, path)
    model = registry.load_robustbench(name, model_dir=tmp_path)
    key = next(k for k, v in state.items() if k.endswith("weight") and v.ndim >= 2)
    assert torch.equal(model.state_dict()[key], state[key])


def test_each_random_checkpoint_carries_its_mark_and_a_copied_one_is_refused(dry_dir, tmp_path):
    """The mark travels with the file: a random checkpoint copied into a folder of real weights (no folder
    marker) is refused by name; a plain state dict is not marked."""
    import shutil

    for name in CHEAP:
        assert all(registry.checkpoint_is_random(f) for f in registry.robustbench_checkpoint_files(name, dry_dir))
    copied = registry.robustbench_checkpoint_files("Wong2020Fast", tmp_path)[0]
    copied.parent.mkdir(parents=True)
    shutil.copy(registry.robustbench_checkpoint_files("Wong2020Fast", dry_dir)[0], copied)
    with pytest.raises(registry.ModelUnavailableError, match="holds RANDOM weights"):
        registry.load_robustbench("Wong2020Fast", model_dir=tmp_path)
    plain = tmp_path / "plain.pt"
    torch.save(registry.robustbench_architecture("Wong2020Fast").state_dict(), plain)
    assert not registry.checkpoint_is_random(plain)


def test_existing_files_are_never_overwritten(dry_dir):
    path = registry.robustbench_checkpoint_files("Wong2020Fast", dry_dir)[0]
    before = path.read_bytes()
    assert write_random_checkpoints(dry_dir, ["Wong2020Fast"], seed=123, progress=False) == []
    assert path.read_bytes() == before


def test_a_folder_with_real_looking_weights_is_refused(tmp_path):
    real = tmp_path / "cifar10" / "Linf" / "Wong2020Fast.pt"
    real.parent.mkdir(parents=True)
    real.write_bytes(b"someone's real weights")
    with pytest.raises(RealWeightsError, match="may be real RobustBench weights"):
        write_random_checkpoints(tmp_path, ["Wong2020Fast"], progress=False)
    assert real.read_bytes() == b"someone's real weights"


def test_paper_profile_refuses_random_weights_and_dry_profile_requires_them(dry_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("MSPD_ROBUSTBENCH_DIR", str(dry_dir))
    with pytest.raises(registry.ModelUnavailableError, match="RANDOM weights"):
        registry.zoo_for("robustbench")
    assert registry.zoo_for("robustbench-dry").source == "robustbench-dry"
    monkeypatch.setenv("MSPD_ROBUSTBENCH_DIR", str(tmp_path))
    with pytest.raises(registry.ModelUnavailableError, match="python -m mspd_core.zoo.dry"):
        registry.zoo_for("robustbench-dry")
    assert registry.zoo_for("robustbench").targets == registry.PAPER_TARGETS


def test_cache_keys_tell_random_weights_from_other_weights(tmp_path, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    write_random_checkpoints(a, ["Wong2020Fast"], seed=0, progress=False)
    write_random_checkpoints(b, ["Wong2020Fast"], seed=1, progress=False)
    keys = []
    for folder in (a, b):
        monkeypatch.setenv("MSPD_ROBUSTBENCH_DIR", str(folder))
        keys.append(registry.weights_fingerprint("Wong2020Fast"))
    assert len(set(keys)) == 2
    monkeypatch.setenv("MSPD_ROBUSTBENCH_DIR", str(tmp_path / "none"))
    monkeypatch.setattr(registry, "load_cached", lambda name, device="cpu": (_ for _ in ()).throw(
        registry.ModelUnavailableError("offline (simulated)")))
    with pytest.raises(registry.ModelUnavailableError):  # no key from a model's name alone: its weights are needed
        registry.weights_fingerprint("Wong2020Fast")


def test_dry_zoo_replaces_only_the_largest_models_by_smaller_named_robustbench_ones():
    paper_targets = [*registry.PAPER_TARGETS, registry.PAPER_IMAGENET_TARGET]
    for paper, stand_in in registry.DRY_SUBSTITUTES.items():
        assert paper in paper_targets and stand_in not in paper_targets
        assert registry.spec(stand_in).source == "robustbench"
        assert registry.spec(stand_in).dataset == registry.spec(paper).dataset
        size = [sum(p.numel() for p in registry.robustbench_architecture(n).parameters()) for n in (paper, stand_in)]
        assert size[1] < size[0], (paper, stand_in, size)
    names = dry_models()
    assert not set(registry.DRY_SUBSTITUTES) & set(names)
    assert {registry.PAPER_CLASSIFIER, registry.PAPER_BACKBONE, *registry.PAPER_ABLATION_BACKBONES} <= set(names)
    assert len([t for t in registry.PAPER_TARGETS if t not in registry.DRY_SUBSTITUTES]) == 5  # kept as in the paper
    assert {registry.PAPER_IMAGENET_CLASSIFIER, registry.PAPER_IMAGENET_BACKBONE} <= set(names)


def test_model_facts_for_both_zoos():
    assert registry.spec(registry.PAPER_BACKBONE).robust and not registry.spec("Standard").robust
    assert not registry.spec(registry.PAPER_CLASSIFIER).robust  # corruption-robust, not adversarially trained
    assert not registry.spec("bb-preact-std").robust and registry.spec("bb-preact-fgsm").robust
    assert registry.spec("Wong2020Fast").arch == registry.spec(registry.PAPER_BACKBONE).arch  # Lemma 4's gray box


def test_dry_profile_withholds_every_verdict(tmp_path, monkeypatch):
    monkeypatch.setenv("MSPD_CLAIMS_DIR", str(tmp_path))
    yes = torch.ones(40, dtype=torch.bool).numpy()
    no = torch.zeros(40, dtype=torch.bool).numpy()
    out = claims.check("t4_mspd_vs_none", a=yes, b=no)
    assert out.verdict == "reproduced"
    recorded = claims.record("table04_main", [out], "paper-dry")
    assert recorded[0].verdict == "not testable here" and "random-weight" in recorded[0].note
    assert claims.record("table04_main", [out], "smoke")[0].verdict == "reproduced"


def test_dry_profile_attacks_are_named_cheaper():
    p = get_profile("paper-dry")
    aa = ex.autoattack(p, "Linf")
    assert aa.params["version"] == "standard" and aa.params["n_iter"] == p.aa_iterations
    assert "2 iterations instead of 100" in ex.describe_attack(aa) and aa.name.startswith("AA (2 it.)")
    assert "n_iter" not in ex.autoattack(get_profile("paper"), "Linf").params
    assert ex.autoattack(get_profile("paper"), "Linf").name == "AA Linf"


@pytest.mark.parametrize("name", ["Singh2023Revisiting_ViT-S-ConvStem", "Liu2023Comprehensive_Swin-B"])
def test_imagenet_random_checkpoints_load_through_robustbench(tmp_path, name):
    """RobustBench's ImageNet checkpoints hold the inner model (the loader adds normalisation); Swin's go
    through timm's checkpoint filter: both load and keep the written weights."""
    write_random_checkpoints(tmp_path, [name], progress=False)
    model = registry.load_robustbench(name, model_dir=tmp_path)
    saved = torch.load(registry.robustbench_checkpoint_files(name, tmp_path)[0], map_location="cpu", weights_only=True)
    key = next(k for k, v in saved.items() if k.endswith("weight") and v.ndim >= 2)
    assert torch.equal(model.state_dict()[f"model.{key}"], saved[key])
    assert model(torch.rand(1, 3, 224, 224)).shape == (1, 1000)


def test_synthetic_imagefolder_feeds_the_imagenet_loader(tmp_path):
    from mspd_core.data import imagenet_subset
    from mspd_core.zoo.dry import write_synthetic_imagefolder

    assert len(write_synthetic_imagefolder(tmp_path)) == 2 and write_synthetic_imagefolder(tmp_path) == []
    data = imagenet_subset(2, root=tmp_path)
    assert data.x.shape == (2, 3, 224, 224) and sorted(data.y.tolist()) == [0, 1]
