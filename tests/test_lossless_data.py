"""The paper profile needs lossless CIFAR-10; every page names its images' format (issue 37, item 2)."""
from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from mspd_core import data
from mspd_core.data import ALLOW_LOSSY_ENV, LossyDataError, image_format, is_lossy, load_cifar10_uint8, require_lossless


def _zip(path, suffix: str, fmt: str, stray: str | None = None):
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(path, "w") as zf:
        if stray:
            zf.writestr(stray, b"not an image of the data set")
        for split in ("train", "test"):
            for cls in data.CIFAR10_CLASSES:
                buf = io.BytesIO()
                Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(buf, format=fmt)
                zf.writestr(f"{split}/{cls}/0000.{suffix}", buf.getvalue())
    return path


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MSPD_CACHE", str(tmp_path / "cache"))


def test_a_png_copy_is_lossless_and_exact(tmp_path, isolated_cache):
    path = _zip(tmp_path / "png.zip", "png", "PNG")
    images, labels, source = load_cifar10_uint8("test", path)
    with zipfile.ZipFile(path) as zf:
        first = np.asarray(Image.open(io.BytesIO(zf.read("test/airplane/0000.png"))))
    assert not is_lossy(source) and image_format(source).startswith("lossless")
    assert np.array_equal(images[0], first) and len(labels) == 10


def test_a_jpeg_copy_is_named_lossy_and_refused_where_lossless_is_needed(tmp_path, isolated_cache, monkeypatch):
    source = load_cifar10_uint8("test", _zip(tmp_path / "jpg.zip", "jpg", "JPEG"))[2]
    assert is_lossy(source) and image_format(source).startswith("JPEG (lossy")
    monkeypatch.delenv(ALLOW_LOSSY_ENV, raising=False)
    with pytest.raises(LossyDataError, match="needs lossless CIFAR-10") as err:
        require_lossless(source, "profile 'paper'")
    assert ALLOW_LOSSY_ENV in str(err.value) and "cifar-10-batches-py" in str(err.value)
    monkeypatch.setenv(ALLOW_LOSSY_ENV, "1")
    require_lossless(source, "profile 'paper'")  # allowed knowingly


def test_a_stray_png_does_not_make_a_jpeg_copy_lossless(tmp_path, isolated_cache):
    source = load_cifar10_uint8("test", _zip(tmp_path / "jpg.zip", "jpg", "JPEG", stray="README.png"))[2]
    assert is_lossy(source)


def test_a_local_torchvision_folder_is_recognised(tmp_path):
    """torchvision's own format (pickled batches, lossless) is found from the folder or its parent."""
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "test_batch").write_bytes(b"")
    assert data._torchvision_folder(tmp_path) == tmp_path == data._torchvision_folder(folder)
    assert data._torchvision_folder(tmp_path / "elsewhere") is None


def test_the_paper_profile_refuses_the_offline_jpeg_copy_before_loading_any_model(monkeypatch):
    import torch

    from mspd_core import experiments
    from mspd_core.data import ImageSet
    from mspd_core.notebook import start

    jpeg = ImageSet(torch.rand(2, 3, 32, 32), torch.tensor([0, 1]), torch.tensor([0, 1]), "test",
                    "local JPEG copy (cifar10-jpeg.zip)")
    monkeypatch.delenv(ALLOW_LOSSY_ENV, raising=False)
    monkeypatch.setattr(experiments, "evaluation_subset", lambda n, seed: jpeg)
    monkeypatch.setattr(experiments, "zoo_for", lambda source: pytest.fail("models loaded before the data check"))
    with pytest.raises(LossyDataError, match="profile 'paper' needs lossless"):
        experiments.setup(start("paper", device="cpu"))
