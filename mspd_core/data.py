"""CIFAR-10 as float tensors in [0, 1], NCHW, offline first (SPEC, "Facts about this environment").

Sources, in order: (1) a local folder or zip in the layout of ``cifar10-jpeg.zip``
(``train/<class>/NNNN.jpg``, ``test/<class>/NNNN.jpg``), named by the ``root`` argument or
the ``MSPD_CIFAR10`` environment variable; (2) torchvision's download when online.
Decoded arrays are cached as ``.npz`` so the JPEGs are read once.
"""
from __future__ import annotations

import hashlib
import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .paths import CIFAR10_ENV, IMAGENET_ENV, cache_dir

CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)
SPLITS = ("train", "test")


class DataUnavailableError(RuntimeError):
    """CIFAR-10 could be found neither locally nor by download."""


class LossyDataError(DataUnavailableError):
    """A profile that reproduces the papers' numbers (``paper``) was given a lossy (JPEG) copy of CIFAR-10."""


#: Set to 1 to let a profile that needs lossless CIFAR-10 run on a lossy copy anyway (its pages then say so).
ALLOW_LOSSY_ENV = "MSPD_ALLOW_LOSSY_CIFAR10"
#: What a JPEG copy is (the offline ``cifar10-jpeg.zip``'s quantisation tables and sampling, checked 2026-12-05).
JPEG_FORMAT = "JPEG (lossy; the offline cifar10-jpeg.zip is quality 75 with 4:2:0 chroma subsampling)"
LOSSLESS_FORMAT = "lossless (CIFAR-10's original 8-bit pixels)"


def is_lossy(source: str) -> bool:
    """Whether a source description (:func:`load_cifar10_uint8`'s third value) names a lossy (JPEG) copy."""
    return "JPEG" in source


def image_format(source: str) -> str:
    """The pixel format of a source, in words (what every page says about its images)."""
    return JPEG_FORMAT if is_lossy(source) else LOSSLESS_FORMAT


def require_lossless(source: str, why: str) -> None:
    """Refuse a lossy source (``why``: who needs lossless images) unless :data:`ALLOW_LOSSY_ENV` is 1."""
    if is_lossy(source) and os.environ.get(ALLOW_LOSSY_ENV) != "1":
        raise LossyDataError(
            f"{why} needs lossless CIFAR-10 (RobustBench's and the papers' numbers are on the original pixels), but "
            f"the images come from a {source}: {JPEG_FORMAT}. Give a lossless copy: unset {CIFAR10_ENV} with network "
            f"(torchvision downloads CIFAR-10), or point {CIFAR10_ENV} at torchvision's cifar-10-batches-py folder or "
            f"a folder/zip of PNGs in the train/<class>/, test/<class>/ layout. To run on the lossy copy knowingly, "
            f"set {ALLOW_LOSSY_ENV}=1 (the pages then say the images are JPEG).")


@dataclass(frozen=True)
class ImageSet:
    """Images (float NCHW in [0, 1]), labels, and the indices they have in their split."""

    x: Tensor
    y: Tensor
    indices: Tensor
    split: str
    source: str
    note: str = ""  # how the images were chosen and preprocessed, when a page should say so (ImageNet)

    def __len__(self) -> int:
        return int(self.y.shape[0])


def _missing_message(root: str | os.PathLike | None) -> str:
    where = f"'{root}' does not exist or is not in the expected layout. " if root else ""
    return (
        f"CIFAR-10 is not available. {where}Offline, point {CIFAR10_ENV} (or the `root` "
        "argument) at a folder or zip with train/<class>/NNNN.jpg and test/<class>/NNNN.jpg, "
        f"e.g. `export {CIFAR10_ENV}=/path/to/cifar10-jpeg.zip`; online, torchvision downloads it."
    )


def _decode_entries(entries: list[tuple[str, bytes]]) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    images = np.empty((len(entries), 32, 32, 3), dtype=np.uint8)
    labels = np.empty(len(entries), dtype=np.int64)
    for i, (name, blob) in enumerate(entries):
        cls = Path(name).parent.name
        labels[i] = CIFAR10_CLASSES.index(cls)
        with Image.open(io.BytesIO(blob)) as im:
            images[i] = np.asarray(im.convert("RGB"), dtype=np.uint8)
    return images, labels


def _sorted_members(names: list[str], split: str) -> list[str]:
    """Image members of one split, in a fixed order: by class index, then by file name."""
    members = []
    for name in names:
        parts = Path(name).parts
        if len(parts) >= 3 and parts[-3] == split and parts[-2] in CIFAR10_CLASSES and name.endswith((".jpg", ".png")):
            members.append(name)
    return sorted(members, key=lambda n: (CIFAR10_CLASSES.index(Path(n).parent.name), Path(n).name))


def _read_local(root: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    if root.is_file() and zipfile.is_zipfile(root):
        with zipfile.ZipFile(root) as zf:
            members = _sorted_members(zf.namelist(), split)
            entries = [(m, zf.read(m)) for m in members]
    elif root.is_dir():
        base = root
        members = _sorted_members([str(p.relative_to(base)) for p in base.rglob("*") if p.is_file()], split)
        entries = [(m, (base / m).read_bytes()) for m in members]
    else:
        raise DataUnavailableError(_missing_message(root))
    if not entries:
        raise DataUnavailableError(_missing_message(root))
    return _decode_entries(entries)


def _cache_key(root: Path, split: str) -> str:
    stat = root.stat()
    token = f"{root.resolve()}|{stat.st_size}|{int(stat.st_mtime)}|{split}|v1"
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def _load_local_cached(root: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    path = cache_dir() / "cifar10" / f"{split}-{_cache_key(root, split)}.npz"
    if path.exists():
        with np.load(path) as z:
            return z["images"], z["labels"]
    images, labels = _read_local(root, split)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, images=images, labels=labels)
    os.replace(tmp, path)
    return images, labels


def _load_torchvision(split: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        from torchvision.datasets import CIFAR10

        ds = CIFAR10(root=str(cache_dir() / "torchvision"), train=(split == "train"), download=True)
    except Exception as err:  # network failure, checksum, ...
        raise DataUnavailableError(_missing_message(None) + f" (torchvision download failed: {err})") from err
    return np.asarray(ds.data, dtype=np.uint8), np.asarray(ds.targets, dtype=np.int64)


def _torchvision_folder(path: Path) -> Path | None:
    """The folder that holds torchvision's ``cifar-10-batches-py`` when ``path`` is it or its parent, else None."""
    for candidate in (path, path / "cifar-10-batches-py"):
        if candidate.is_dir() and candidate.name == "cifar-10-batches-py" and (candidate / "test_batch").exists():
            return candidate.parent
    return None


def _local_kind(path: Path) -> str:
    """"PNG" or "JPEG": the image files of a local folder or zip (the test split's members decide, never a stray file
    elsewhere in the folder)."""
    if path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    else:
        names = [str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()] if path.is_dir() else []
    members = _sorted_members(names, "test")
    return "PNG" if members and all(m.endswith(".png") for m in members) else "JPEG"


def load_cifar10_uint8(split: str = "test", root: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """Return (images NHWC uint8, labels, source description) for one split. The description names the format
    (:func:`image_format`): the offline copy is JPEG; torchvision's arrays and PNG copies are lossless."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    root = root or os.environ.get(CIFAR10_ENV)
    if root:
        path = Path(root).expanduser()
        if not path.exists():
            raise DataUnavailableError(_missing_message(root))
        folder = _torchvision_folder(path)
        if folder is not None:
            from torchvision.datasets import CIFAR10

            ds = CIFAR10(root=str(folder), train=(split == "train"), download=False)
            return (np.asarray(ds.data, dtype=np.uint8), np.asarray(ds.targets, dtype=np.int64),
                    f"local torchvision copy ({path.name})")
        images, labels = _load_local_cached(path, split)
        return images, labels, f"local {_local_kind(path)} copy ({path.name})"
    images, labels = _load_torchvision(split)
    return images, labels, "torchvision CIFAR10"


def to_tensor_images(images: np.ndarray) -> Tensor:
    """NHWC uint8 -> NCHW float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous().float().div_(255.0)


def load_cifar10(split: str = "test", root: str | os.PathLike | None = None) -> ImageSet:
    """The whole split as an :class:`ImageSet`."""
    images, labels, source = load_cifar10_uint8(split, root)
    idx = torch.arange(len(labels))
    return ImageSet(to_tensor_images(images), torch.from_numpy(labels), idx, split, source)


def balanced_indices(labels: np.ndarray | Tensor, n: int, seed: int = 0, n_classes: int = 10) -> np.ndarray:
    """Deterministic class-balanced subset: ``n`` indices, as equal per class as possible.

    Classes 0..(n mod n_classes)-1 get one extra image. Same (labels, n, seed) -> same indices.
    """
    labels = np.asarray(labels)
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if n > len(labels):
        raise ValueError(f"asked for {n} images but the split has {len(labels)}")
    rng = np.random.default_rng(seed)
    chosen = []
    for c in range(n_classes):
        k = n // n_classes + (1 if c < n % n_classes else 0)
        pool = np.flatnonzero(labels == c)
        if k > len(pool):
            raise ValueError(f"class {c} has only {len(pool)} images, {k} requested")
        chosen.append(rng.permutation(pool)[:k])
    return np.sort(np.concatenate(chosen))


#: Offset of the evaluation seed stream so eval subsets never coincide with other draws.
EVAL_SEED_OFFSET = 10_000


def evaluation_subset(n: int, seed: int = 0, root: str | os.PathLike | None = None) -> ImageSet:
    """The shared class-balanced evaluation subset of the CIFAR-10 test split (every notebook uses it)."""
    images, labels, source = load_cifar10_uint8("test", root)
    idx = balanced_indices(labels, n, seed + EVAL_SEED_OFFSET)
    return ImageSet(to_tensor_images(images[idx]), torch.from_numpy(labels[idx]), torch.from_numpy(idx), "test", source)


#: ImageNet evaluation resolution (RobustBench's preprocessing: resize 256, centre crop 224).
IMAGENET_SIZE = 224
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def robustbench_imagenet_index() -> tuple[dict[str, int], list[str]]:
    """RobustBench's ImageNet evaluation facts, from the files it ships (``robustbench/helper_files``):
    the wnid -> class index map, and its fixed list of 5,000 validation images (``<wnid>/<file>``)."""
    import importlib.util
    import json

    found = importlib.util.find_spec("robustbench")
    if found is None or not found.submodule_search_locations:
        raise DataUnavailableError("ImageNet labels come from RobustBench's class map: pip install robustbench")
    helper = Path(list(found.submodule_search_locations)[0]) / "helper_files"
    wnids = json.loads((helper / "imagenet_class_to_id_map.json").read_text())
    return wnids, (helper / "imagenet_test_image_ids.txt").read_text().split()


def imagenet_preprocessing(model: str | None = None, size: int | None = None):
    """The transform an ImageNet image gets: RobustBench's own for ``model``
    (``robustbench.data.get_preprocessing``: e.g. bicubic resizing for its Swin and ConvStem models,
    bilinear Res256Crop224 for most), its default Res256Crop224 without a model, or (``size``) a
    bilinear resize to ``size * 8 / 7`` and centre crop to ``size``."""
    from torchvision import transforms

    if size is not None:
        return transforms.Compose([transforms.Resize(round(size * 8 / 7)), transforms.CenterCrop(size), transforms.ToTensor()])
    from ._compat import import_robustbench

    import_robustbench()
    from robustbench.data import PREPROCESSINGS, get_preprocessing
    from robustbench.model_zoo.enums import BenchmarkDataset, ThreatModel

    if model is None:
        return PREPROCESSINGS["Res256Crop224"]
    from .zoo.registry import spec

    return get_preprocessing(BenchmarkDataset.imagenet, ThreatModel(spec(model).threat_model), model, None)


def _imagenet_folder(root: Path) -> Path:
    """The folder holding the wnid class folders: ``root`` itself, or ``root/val`` (RobustBench's layout)."""
    if not any(d.is_dir() and d.name.startswith("n") for d in root.iterdir()) and (root / "val").is_dir():
        return root / "val"
    return root


def imagenet_subset(n: int, seed: int = 0, root: str | os.PathLike | None = None, size: int | None = None,
                    model: str | None = None) -> ImageSet:
    """A class-balanced ImageNet evaluation subset from a local ImageFolder (``root`` or ``$MSPD_IMAGENET``),
    preprocessed and labelled as RobustBench does.

    Labels: RobustBench's wnid -> index map (right whatever subset of the 1,000 class folders is present);
    a class folder that is not an ImageNet wnid is an error naming it. Images: RobustBench's fixed list of
    5,000 validation images where the folder holds them, else every image in the class folders; a seeded
    class-balanced draw of ``n`` among them. Transform: :func:`imagenet_preprocessing` for ``model`` (the
    model the images are evaluated on; RobustBench's default without one). The data fingerprint (``source``)
    covers the transform and the chosen files (names and sizes). No download: ImageNet's licence needs a
    manual one, so an absent folder is a clear :class:`DataUnavailableError`."""
    from PIL import Image

    root = root or os.environ.get(IMAGENET_ENV)
    if not root or not Path(root).is_dir():
        where = f"'{root}' is not a folder. " if root else ""
        raise DataUnavailableError(
            f"ImageNet is not available. {where}Point {IMAGENET_ENV} (or the `root` argument) at a folder in "
            "torchvision's ImageFolder layout (<root>/<wnid>/<image>.JPEG, e.g. the validation split sorted into "
            "class folders, or RobustBench's <root>/val/<wnid>/...); ImageNet needs a manual download (image-net.org).")
    folder = _imagenet_folder(Path(root))
    wnid_index, listed = robustbench_imagenet_index()
    classes = sorted(d.name for d in folder.iterdir() if d.is_dir())
    unknown = [c for c in classes if c not in wnid_index]
    if unknown:
        raise DataUnavailableError(f"ImageNet folder {str(folder)!r}: {unknown[:3]} {'are' if len(unknown) > 1 else 'is'} not "
                                   "an ImageNet class (wnid) folder; expected <root>/<wnid>/<image>.JPEG")
    files = [f for f in listed if (folder / f).is_file()]
    chosen_from = "RobustBench's 5,000-image list"
    if not files:
        files = [f"{c}/{p.name}" for c in classes for p in sorted((folder / c).iterdir())
                 if p.suffix.lower() in IMAGE_SUFFIXES]
        chosen_from = "every image in the folder (RobustBench's list is not there)"
    if not files:
        raise DataUnavailableError(f"ImageNet folder {str(folder)!r} has no class folders with images")
    labels = np.asarray([wnid_index[f.split("/")[0]] for f in files])
    present = np.unique(labels)
    local = np.searchsorted(present, labels)  # balance over the classes present
    idx = balanced_indices(local, n, seed + EVAL_SEED_OFFSET, n_classes=len(present))
    transform = imagenet_preprocessing(model, size)
    images = []
    for i in idx:
        try:
            with Image.open(folder / files[i]) as img:
                images.append(transform(img.convert("RGB")))
        except OSError as err:
            raise DataUnavailableError(f"cannot read ImageNet image {folder / files[i]}: {err}") from err
    identity = hashlib.sha256(repr(transform).encode() + b"\0" + chosen_from.encode())
    for i in idx:
        identity.update(f"{files[i]}:{(folder / files[i]).stat().st_size}\0".encode())
    source = f"imagenet:{folder.name}:{identity.hexdigest()[:16]}"
    how = f"RobustBench's preprocessing for {model}" if model else ("a bilinear resize and crop to "
                                                                     f"{size} px" if size else "RobustBench's default Res256Crop224")
    return ImageSet(torch.stack(images), torch.as_tensor(labels[idx]), torch.as_tensor(idx), "val", source,
                    note=f"{len(idx)} images from {chosen_from}, labels by RobustBench's wnid map, {how}")
