"""Image decoding shared by every stage: any common file -> 8-bit RGB, upright, then a bilinear
resize. This is the project's only image loader.

Training, packing, evaluation, `predict`, the representative dataset, the report and `data
check` all go through `open_rgb`, so the pixels a model sees in Python are the same wherever
they come from. A JPEG much larger than the model's input is decoded at reduced scale
(`jpeg_scale`: libjpeg's DCT scaling, 1/2, 1/4 or 1/8, through Pillow's `draft`) before the
same bilinear resize: a 12-MP photo then costs a fraction of a full decode in time and memory,
and its pixels differ from a full decode's by about 0.1 level on average (docs/images.md). LOADER names this rule; packs and run manifests record it. Phones
store most photos as the sensor read them and say in the EXIF Orientation tag how to turn
them; `open_rgb` applies it, as every photo viewer (and a browser's <img>) does, so a photo
taken sideways is learnt and classified the way a person sees it.
"""
from __future__ import annotations

import struct
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, ImageOps

# A real photo is well under this; a larger header is a decompression bomb, not a flower.
MAX_PIXELS = 40_000_000
# Pillow warns from 89 MP (and refuses from 179 MP) by itself; MAX_PIXELS refuses those files
# first with a line of its own, so the warning would only be a second, stray line. A global
# filter, not `warnings.catch_warnings`, which is not thread-safe and images decode in threads.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

# A JPEG is decoded at 1/s scale (s in 8, 4, 2, 1: libjpeg's DCT scaling) when its smaller
# side still has at least REDUCE_GAP * s * size pixels: the bilinear resize that follows then
# still averages 2 or more decoded pixels per output pixel. Gap 2, measured against 1, 3 and 4
# by scripts/bench_loader.py --sweep on 12-MP photos at 224 px: 1 (1/8 scale) triples the mean
# error (max 10 levels), 4 takes 1.7x the time of 2; 3 decodes the same scale as 2 there.
REDUCE_GAP = 2
# Which loader made a set of pixels: a pack or a run made by another rule has other pixels.
LOADER = f"pil-jpeg-dct-scale-gap{REDUCE_GAP}-bilinear/1"


class ImageError(Exception):
    """The file is not an image we can use (missing, empty, truncated, not an image, too large)."""


IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def is_image_file(path: Path, below: Path | None = None) -> bool:
    """An image by its suffix, not hidden (no part of its path below `below`, or its own name,
    starts with '.': macOS's ._x.jpg companions are not photos)."""
    parts = path.relative_to(below).parts if below is not None else (path.name,)
    hidden = any(part.startswith(".") for part in parts)
    return path.is_file() and not hidden and path.suffix.lower() in IMAGE_SUFFIXES


def jpeg_scale(width: int, height: int, size: int) -> int:
    """The DCT scaling denominator for a JPEG of width x height going to size x size: the
    largest s in 8, 4, 2, 1 with min(width, height) >= REDUCE_GAP * s * size. libjpeg then
    decodes ceil(width / s) x ceil(height / s) pixels (the rule Pillow's `draft` applies)."""
    side = min(width, height)
    return next(s for s in (8, 4, 2, 1) if side >= REDUCE_GAP * s * size or s == 1)


def open_rgb(path: Path | str, size: int | None = None) -> Image.Image:
    """Decode `path` as 8-bit RGB, upright; raise ImageError with a short reason.

    size: the side it will be resized to; a JPEG at least 2 x REDUCE_GAP x size on its smaller
    side is then decoded at reduced scale (`jpeg_scale`). None: full scale."""
    path = Path(path)
    if not path.is_file():
        raise ImageError("image not found" if not path.exists() else "not a file")
    if path.stat().st_size == 0:
        raise ImageError("image file is empty (0 bytes)")
    try:
        with Image.open(path) as img:
            width, height = img.size
            if width * height > MAX_PIXELS:
                raise ImageError(f"image is {width}x{height}: too large to be a photo "
                                 f"(limit {MAX_PIXELS:,} pixels)")
            if size and img.format == "JPEG":  # Pillow's draft picks jpeg_scale's s
                img.draft(None, (REDUCE_GAP * size, REDUCE_GAP * size))
            img.load()  # decode now so a truncated file fails here, not in training
            return _to_rgb(upright(img))
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
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
    """The model's pixels of one file: uint8 size x size x 3 (reduced-scale JPEG decoding)."""
    return resize(open_rgb(path, size), size)


def check_decodes(path: Path | str) -> None:
    """Raise ImageError if a stage could not use the file. A JPEG is decoded at its smallest
    scale: the entropy-coded data (where truncation and damage are) is read in full all the
    same, and the inverse DCT, most of a full decode's time, shrinks to one value a block."""
    open_rgb(path, size=1)


def iter_resized(paths, size: int, workers: int | None = None) -> Iterator[np.ndarray]:
    """load_resized of each path, in order, decoded ahead in threads (decode_pool: memory
    bounded whatever the count); the first file that fails raises ImageError naming it."""
    from pipeline.data.decode_pool import decode_ordered

    for path, pixels in decode_ordered(paths, lambda p: load_resized(p, size), (ImageError,),
                                       workers):
        if isinstance(pixels, ImageError):
            raise ImageError(f"{path}: {pixels}")
        yield pixels


def load_batch(paths, size: int, workers: int | None = None) -> np.ndarray:
    """uint8 [N, size, size, 3] of many files (iter_resized), filled in place."""
    paths = list(paths)
    out = np.zeros((len(paths), size, size, 3), np.uint8)
    for i, pixels in enumerate(iter_resized(paths, size, workers)):
        out[i] = pixels
    return out
