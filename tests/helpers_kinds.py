"""A dataset with one head of each kind and a known truth, drawn at 32 px.

- `shape` (classification): the centre object is a disc or a square;
- `marks` (multilabel: red, blue, yellow): a red bar across the middle, a blue bar down the
  middle, a yellow background instead of green; any combination (all survive the training
  crops, which may cut an image's corners off);
- `shade` (regression, unit "level"): the centre object's grey level, 40 to 250 (not its
  size: the training crops rescale the image, so a size would not be a photo's truth).
A plain module for tests (see helpers_runs.py).
"""
from __future__ import annotations

import json
import random
from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 32
MARKS = ("red", "blue", "yellow")
HEADS = {"heads": [
    {"name": "shape", "classes": ["disc", "square"]},
    {"name": "marks", "kind": "multilabel", "classes": list(MARKS)},
    {"name": "shade", "kind": "regression", "unit": "level"},
]}


def draw(shape: int, marks: tuple, grey: int, radius: int = 9) -> Image.Image:
    img = Image.new("RGB", (SIZE, SIZE), (200, 180, 30) if 2 in marks else (60, 120, 60))
    d = ImageDraw.Draw(img)
    c = SIZE // 2
    box = [c - radius, c - radius, c + radius, c + radius]
    (d.ellipse if shape == 0 else d.rectangle)(box, fill=(grey, grey, grey))
    if 0 in marks:
        d.rectangle([0, c - 1, SIZE, c + 1], fill=(215, 30, 30))
    if 1 in marks:
        d.rectangle([c - 1, 0, c + 1, SIZE], fill=(30, 60, 220))
    return img


def write_dataset(folder: Path, count: int = 96, seed: int = 0) -> Path:
    """images/, all.txt (path, shape, marks, shade) and heads.json; returns all.txt."""
    rng = random.Random(seed)
    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(count):
        shape, grey = i % 2, rng.randint(40, 250)
        marks = tuple(m for m in range(len(MARKS)) if rng.random() < 0.5)
        draw(shape, marks, grey).save(folder / "images" / f"{i}.png")
        cell = "+".join(map(str, marks)) or "-"
        lines.append(f"images/{i}.png, {shape}, {cell}, {grey}")
    (folder / "all.txt").write_text("\n".join(lines) + "\n")
    (folder / "heads.json").write_text(json.dumps(HEADS))
    return folder / "all.txt"
