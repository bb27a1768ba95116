"""The GPU bundle (scripts/gpu_bundle.py, `make gpu-bundle`): what a bare, offline GPU machine lacks, from the lock,
hashed; a slimmed wheel stays a consistent wheel; the CIFAR-10 subset is copied byte for byte (no re-encoding)."""
from __future__ import annotations

import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import gpu_bundle  # noqa: E402


def _names(requirements: str) -> dict[str, str]:
    pins = [line.split()[0] for line in requirements.splitlines() if line]
    assert all("--hash=sha256:" in line for line in requirements.splitlines() if line)  # hashes checked on download
    return dict(pin.split("==") for pin in pins)


def test_the_device_bundle_holds_what_the_image_lacks():
    from packaging.utils import canonicalize_name

    present = {canonicalize_name(n) for n in gpu_bundle.DEVICE_IMAGE}
    requirements, left_out = gpu_bundle.bundle_requirements("3.12", present)
    names = _names(requirements)
    for needed in ("robustbench", "pyautoattack", "adversarial-robustness-toolbox", "lpips", "bound-propagation",
                   "papermill", "jupytext", "ipykernel", "pyzmq", "setuptools"):
        assert needed in names, needed
    assert int(names["setuptools"].split(".")[0]) < 81  # pyproject caps it: the image's own may be newer, so it travels
    for image_has in ("torch", "torchvision", "numpy", "scipy", "timm", "pandas", "triton"):
        assert image_has not in names and image_has in left_out, image_has


def test_a_bare_python_bundle_holds_everything_for_its_version():
    names = _names(gpu_bundle.bundle_requirements("3.11", set())[0])
    assert {"torch", "torchvision", "numpy", "scipy", "papermill"} <= set(names)
    from mspd_core.dependencies import lock_entries

    numpy_311 = [e.pin.version for e in lock_entries() if e.pin.name == "numpy"
                 and e.pin.applies(gpu_bundle.target_environment("3.11"))]
    assert [names["numpy"]] == numpy_311  # the lock's pin for that Python, not this interpreter's guess


def test_a_slimmed_wheel_drops_the_members_and_their_record_lines(tmp_path):
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("pkg/__init__.py", "x = 1\n")
        archive.writestr("pkg/examples/big.pt", b"\0" * 10000)
        archive.writestr("pkg/examples/keep.txt", "kept")
        archive.writestr("pkg-1.0.dist-info/RECORD", "pkg/__init__.py,sha256=a,6\npkg/examples/big.pt,sha256=b,10000\n"
                                                      "pkg/examples/keep.txt,sha256=c,4\npkg-1.0.dist-info/RECORD,,\n")
    saved = gpu_bundle.slim_wheel(wheel, "pkg/examples/", keep=("keep.txt",))
    with zipfile.ZipFile(wheel) as archive:
        assert archive.namelist() == ["pkg/__init__.py", "pkg/examples/keep.txt", "pkg-1.0.dist-info/RECORD"]
        record = archive.read("pkg-1.0.dist-info/RECORD").decode()
        assert "big.pt" not in record and "keep.txt" in record
    assert saved > 0


def test_the_cifar10_subset_copies_the_first_images_of_each_class_unchanged(tmp_path):
    source = tmp_path / "cifar"
    for split in ("train", "test"):
        for label in ("cat", "dog"):
            for i in range(4):
                path = source / split / label / f"{i:04d}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(f"{split}-{label}-{i}".encode())
    count = gpu_bundle.cifar10_subset(source, 2, tmp_path / "subset.zip")
    with zipfile.ZipFile(tmp_path / "subset.zip") as archive:
        assert sorted(archive.namelist()) == ["test/cat/0000.jpg", "test/cat/0001.jpg", "test/dog/0000.jpg", "test/dog/0001.jpg"]
        assert archive.read("test/dog/0001.jpg") == b"test-dog-1"
    assert count == 4
