"""Image files in and out for the creator CLI: tolerant reading with notes, atomic lossless writing."""
from __future__ import annotations

import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
#: Refuse images above this many pixels (decompression bombs, accidental huge inputs).
MAX_PIXELS = 40_000_000


class ImageReadError(ValueError):
    """An input file could not be read as an image (reason in the message)."""


@dataclass
class LoadedImage:
    path: Path
    pixels: Tensor  # 3 x H x W float in [0, 1]
    notes: list[str] = field(default_factory=list)


def find_images(inputs: list[str | os.PathLike]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Expand files and folders (non-recursive) into image paths; returns (paths, [(path, problem)])."""
    found, problems = [], []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found += sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() in IMAGE_SUFFIXES)
        elif p.is_file():
            found.append(p)
        else:
            problems.append((p, "no such file or folder"))
    return found, problems


def _to_rgb_array(im) -> tuple[np.ndarray, list[str]]:
    notes = []
    if getattr(im, "n_frames", 1) > 1:
        notes.append(f"animated ({im.n_frames} frames): used the first frame")
        im.seek(0)
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if arr.max() > 255 or mode.startswith("I;16") else 255.0
        grey = np.clip(np.round(arr / top * 255.0), 0, 255).astype(np.uint8)
        notes.append(f"{mode} (16-bit) image: scaled to 8 bits and converted to RGB")
        return np.repeat(grey[..., None], 3, axis=2), notes
    if mode != "RGB":
        notes.append(f"mode {mode} converted to RGB" + (" (alpha dropped)" if "A" in mode or "transparency" in im.info else ""))
        im = im.convert("RGB")
    return np.asarray(im, dtype=np.uint8), notes


def read_image(path: Path, size: int | None = None, resize: bool = False) -> LoadedImage:
    """Read any PNG/JPEG/WebP as RGB float in [0, 1]. Raises :class:`ImageReadError` with the reason.

    ``size``: the model's input side; a different size is refused unless ``resize``.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        if path.stat().st_size == 0:
            raise ImageReadError("empty file")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if im.width * im.height > MAX_PIXELS:
                    raise ImageReadError(f"too large ({im.width}x{im.height} > {MAX_PIXELS:,} pixels)")
                im.load()
                arr, notes = _to_rgb_array(im)
    except ImageReadError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as err:
        raise ImageReadError(f"cannot read image ({type(err).__name__}: {err})") from err
    h, w = arr.shape[:2]
    if size is not None and (h, w) != (size, size):
        if not resize:
            raise ImageReadError(f"size {w}x{h} differs from the model's input size {size}x{size}; pass --resize to resize it")
        arr = np.asarray(Image.fromarray(arr).resize((size, size), Image.BICUBIC))
        notes.append(f"resized from {w}x{h} to {size}x{size} (bicubic)")
    pixels = torch.from_numpy(arr.copy()).permute(2, 0, 1).float() / 255.0
    return LoadedImage(path, pixels, notes)


def write_png_atomic(pixels_uint8: Tensor, target: Path) -> None:
    """Write a 3 x H x W uint8 tensor as a lossless PNG: temp file in the same folder, then rename."""
    from PIL import Image

    arr = pixels_uint8.permute(1, 2, 0).cpu().numpy()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".png.tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            Image.fromarray(np.ascontiguousarray(arr)).save(fh, format="PNG")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
