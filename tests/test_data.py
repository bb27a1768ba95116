"""CIFAR-10 loading: layout, determinism of the shared subset, and the offline error."""
from __future__ import annotations

import zipfile

import numpy as np
import torch
import pytest
from PIL import Image

from mspd_core import data
from mspd_core.data import CIFAR10_CLASSES, DataUnavailableError, balanced_indices, evaluation_subset, load_cifar10_uint8


@pytest.fixture
def tiny_zip(tmp_path, monkeypatch):
    """A 2-images-per-class zip in the cifar10-jpeg layout."""
    monkeypatch.setenv("MSPD_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "mini.zip"
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(path, "w") as zf:
        for split in ("train", "test"):
            for cls in CIFAR10_CLASSES:
                for i in range(2):
                    img = tmp_path / "x.jpg"
                    Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(img)
                    zf.write(img, f"{split}/{cls}/{i:04d}.jpg")
    return path


def test_local_zip_layout_and_cache(tiny_zip):
    images, labels, source = load_cifar10_uint8("test", tiny_zip)
    assert images.shape == (20, 32, 32, 3) and images.dtype == np.uint8
    assert list(np.bincount(labels)) == [2] * 10 and "local" in source
    again, labels2, _ = load_cifar10_uint8("test", tiny_zip)  # from the .npz cache
    assert np.array_equal(images, again) and np.array_equal(labels, labels2)


def test_evaluation_subset_is_balanced_deterministic_float(tiny_zip):
    a, b = evaluation_subset(10, seed=3, root=tiny_zip), evaluation_subset(10, seed=3, root=tiny_zip)
    assert a.x.shape == (10, 3, 32, 32) and a.x.dtype.is_floating_point
    assert 0 <= float(a.x.min()) and float(a.x.max()) <= 1
    assert (a.indices == b.indices).all() and sorted(a.y.tolist()) == list(range(10))


def test_balanced_indices_properties():
    labels = np.repeat(np.arange(10), 50)
    idx = balanced_indices(labels, 25, seed=1)
    counts = np.bincount(labels[idx], minlength=10)
    assert counts.max() - counts.min() <= 1 and len(set(idx)) == 25
    assert np.array_equal(idx, balanced_indices(labels, 25, seed=1))
    assert not np.array_equal(idx, balanced_indices(labels, 25, seed=2))
    with pytest.raises(ValueError):
        balanced_indices(labels, 0)


def test_offline_without_local_copy_fails_fast_with_instructions(monkeypatch, tmp_path):
    monkeypatch.delenv("MSPD_CIFAR10", raising=False)
    monkeypatch.setenv("MSPD_CACHE", str(tmp_path))

    def no_network(split):
        raise DataUnavailableError(data._missing_message(None) + " (torchvision download failed: no network)")

    monkeypatch.setattr(data, "_load_torchvision", no_network)
    with pytest.raises(DataUnavailableError, match="MSPD_CIFAR10"):
        load_cifar10_uint8("test")
    with pytest.raises(DataUnavailableError, match="does not exist"):
        load_cifar10_uint8("test", tmp_path / "nowhere.zip")
    with pytest.raises(ValueError, match="split"):
        load_cifar10_uint8("validation", tmp_path)


def _tiny_imagenet(root, wnids=("n01440764", "n01443537", "n01484850"), per_class=4):
    from PIL import Image

    rng = np.random.default_rng(0)
    for wnid in wnids:
        (root / wnid).mkdir(parents=True)
        for k in range(per_class):
            Image.fromarray(rng.integers(0, 256, (300 + k, 320, 3), dtype=np.uint8)).save(root / wnid / f"img{k}.JPEG")


def test_imagenet_subset_from_a_tiny_imagefolder(tmp_path):
    """ImageNet's loader on a synthetic ImageFolder: class-balanced, resized and cropped, in [0, 1]; labels
    from RobustBench's wnid map (not folder order), so a partial folder keeps the right classes."""
    from mspd_core.data import imagenet_subset, robustbench_imagenet_index

    _tiny_imagenet(tmp_path, wnids=("n01440764", "n01484850", "n15075141"))  # classes 0, 2 and 999
    data = imagenet_subset(6, root=tmp_path, size=32)
    assert data.x.shape == (6, 3, 32, 32) and data.x.min() >= 0 and data.x.max() <= 1
    assert sorted(set(data.y.tolist())) == [0, 2, 999] and sorted(np.bincount(data.y.numpy()).tolist())[-3:] == [2, 2, 2]
    wnids, listed = robustbench_imagenet_index()
    assert len(wnids) == 1000 and wnids["n15075141"] == 999 and len(listed) >= 4999
    again = imagenet_subset(6, root=tmp_path, size=32)
    assert torch.equal(again.x, data.x) and again.source == data.source
    assert "every image in the folder" in data.note


def test_imagenet_preprocessing_is_robustbenchs_per_model_and_in_the_fingerprint(tmp_path):
    """Swin (bicubic) and the default (bilinear) give other pixels and other data fingerprints; an unknown
    class folder is refused by name; RobustBench's own image list is used where the folder holds it."""
    from mspd_core.data import DataUnavailableError, imagenet_preprocessing, imagenet_subset, robustbench_imagenet_index

    assert "bicubic" in repr(imagenet_preprocessing("Liu2023Comprehensive_Swin-B")).lower()
    assert "bilinear" in repr(imagenet_preprocessing()).lower()
    _tiny_imagenet(tmp_path / "a", per_class=2)
    swin = imagenet_subset(3, root=tmp_path / "a", model="Liu2023Comprehensive_Swin-B")
    default = imagenet_subset(3, root=tmp_path / "a")
    assert swin.x.shape == default.x.shape == (3, 3, 224, 224)
    assert not torch.equal(swin.x, default.x) and swin.source != default.source
    (tmp_path / "a" / "cats").mkdir()
    with pytest.raises(DataUnavailableError, match="not an ImageNet class"):
        imagenet_subset(3, root=tmp_path / "a")
    _, listed = robustbench_imagenet_index()
    wnid, name = listed[0].split("/")
    _tiny_imagenet(tmp_path / "b" / "val", wnids=(wnid,), per_class=2)
    (tmp_path / "b" / "val" / wnid / "img0.JPEG").rename(tmp_path / "b" / "val" / wnid / name)
    listed_only = imagenet_subset(1, root=tmp_path / "b")  # RobustBench's layout: <root>/val/<wnid>/...
    assert "RobustBench's 5,000-image list" in listed_only.note and listed_only.indices.tolist() == [0]


def test_imagenet_absent_says_what_to_do(tmp_path, monkeypatch):
    from mspd_core.data import DataUnavailableError, imagenet_subset

    monkeypatch.delenv("MSPD_IMAGENET", raising=False)
    with pytest.raises(DataUnavailableError, match="MSPD_IMAGENET"):
        imagenet_subset(4)
    with pytest.raises(DataUnavailableError, match="not a folder"):
        imagenet_subset(4, root=tmp_path / "missing")


def test_table_iv_imagenet_rows_say_why_they_do_not_run_here():
    from mspd_core import claims
    from mspd_core import experiments as ex
    from mspd_core.notebook import start

    session = start("smoke")
    fake = ex.Setup(session, None, None, None)
    reason = ex.imagenet_setup(fake)
    assert isinstance(reason, str) and "paper profile" in reason
    out = claims.check("t4_imagenet", reason=reason)
    assert out.verdict == "not testable here" and "paper profile" in out.note
