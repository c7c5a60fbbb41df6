"""Image decoding shared by every stage: any common file -> 8-bit RGB, upright, then a bilinear
resize.

Training, evaluation, `predict`, the representative dataset and `data check` all go through
`open_rgb`, so the pixels a model sees in Python are the same wherever they come from. Phones
store most photos as the sensor read them and say in the EXIF Orientation tag how to turn
them; `open_rgb` applies it, as every photo viewer (and a browser's <img>) does, so a photo
taken sideways is learnt and classified the way a person sees it.
"""
from __future__ import annotations

import os
import struct
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

# A real photo is well under this; a larger header is a decompression bomb, not a flower.
MAX_PIXELS = 40_000_000


class ImageError(Exception):
    """The file is not an image we can use (missing, empty, truncated, not an image, too large)."""


IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def is_image_file(path: Path, below: Path | None = None) -> bool:
    """An image by its suffix, not hidden (no part of its path below `below`, or its own name,
    starts with '.': macOS's ._x.jpg companions are not photos)."""
    parts = path.relative_to(below).parts if below is not None else (path.name,)
    hidden = any(part.startswith(".") for part in parts)
    return path.is_file() and not hidden and path.suffix.lower() in IMAGE_SUFFIXES


def open_rgb(path: Path | str) -> Image.Image:
    """Decode `path` fully and return it as 8-bit RGB; raise ImageError with a short reason."""
    path = Path(path)
    if not path.is_file():
        raise ImageError("image not found" if not path.exists() else "not a file")
    if path.stat().st_size == 0:
        raise ImageError("image file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                width, height = img.size
                if width * height > MAX_PIXELS:
                    raise ImageError(f"image is {width}x{height}: too large to be a photo "
                                     f"(limit {MAX_PIXELS:,} pixels)")
                img.load()  # decode now so a truncated file fails here, not in training
                return _to_rgb(upright(img))
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"image too large to be a photo ({exc})") from None
    except Image.UnidentifiedImageError:
        raise ImageError("not an image file (unknown format)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"cannot decode image ({exc})") from None


def upright(img: Image.Image) -> Image.Image:
    """The image turned as its EXIF Orientation tag says (1..8: rotations and mirrorings)."""
    try:
        ImageOps.exif_transpose(img, in_place=True)  # in place: no copy of an upright photo
    except (SyntaxError, ValueError, TypeError, KeyError, struct.error) as exc:
        raise ImageError(f"unreadable EXIF data ({exc})") from None
    return img


def _to_rgb(img: Image.Image) -> Image.Image:
    """Grayscale, palette, RGBA, CMYK and 16-bit images become plain 8-bit RGB."""
    if img.mode.startswith("I"):  # 16/32-bit integer grayscale: scale, do not clip
        values = np.asarray(img, dtype=np.float64)
        if img.mode.startswith("I;16") or values.max() > 255:
            values = values / 257.0
        img = Image.fromarray(np.clip(values + 0.5, 0, 255).astype(np.uint8), "L")
    elif img.mode == "F":
        values = np.asarray(img, dtype=np.float64)
        img = Image.fromarray(np.clip(values, 0, 255).astype(np.uint8), "L")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    return img.convert("RGB")


def resize(img: Image.Image, size: int) -> np.ndarray:
    """Bilinear resize of the whole image (no crop) to size x size, uint8 HxWx3."""
    if img.size != (size, size):
        img = img.resize((size, size), Image.BILINEAR)
    return np.asarray(img, dtype=np.uint8)


def normalize(pixels, normalization: dict):
    """RGB pixels 0..255 -> the float input every model is trained on: (pixel - mean) / std.

    The one definition: numpy arrays here and in LiteRT clients, float32 tensors inside
    tf.data (which cast before calling)."""
    if isinstance(pixels, np.ndarray):
        pixels = pixels.astype(np.float32)
    return (pixels - np.float32(normalization["mean"])) / np.float32(normalization["std"])


def load_resized(path: Path | str, size: int) -> np.ndarray:
    return resize(open_rgb(path), size)


def load_batch(paths, size: int, workers: int | None = None) -> np.ndarray:
    """uint8 [N, size, size, 3] of many files, decoded in threads (PIL releases the GIL while
    decoding and resizing, so threads scale on real photos)."""
    paths = list(paths)
    if not paths:
        return np.zeros((0, size, size, 3), np.uint8)
    workers = workers or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(workers) as pool:
        return np.stack(list(pool.map(lambda p: load_resized(p, size), paths)))
