"""`pipeline data synth`: a data set of procedural flower photographs (drawn by synth_draw).

Type lives in the shape, colour in the petals; background, light, white balance, pose and
occluders vary so that neither shows in a plain statistic such as the mean colour. Labels are
balanced over (type, colour) by index; `--with-background` adds a third head, the kind of
background each image was drawn on (truthful, not balanced), to try tasks of your own.
All of it is written into a temporary folder and swapped into place at the end.
"""
from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import typer
from PIL import Image, ImageDraw, ImageFont

from pipeline.core.errors import PipelineError
from pipeline.heads.schema import FLOWER_HEADS, Head, Heads, write_schema
from pipeline.data.labels import Sample, write_label_file
from pipeline.data.synth_draw import BACKGROUND_CLASSES, COMBOS, NAME, render

BACKGROUND_HEAD = Head("background", "background", BACKGROUND_CLASSES)


def _write_one(job: tuple[int, int, int, str]) -> tuple[int, tuple[int, ...]]:
    seed, index, size, folder = job
    img, labels, quality = render(seed, index, size)
    img.save(Path(folder) / NAME.format(index), "JPEG", quality=quality)
    return index, labels


def _render_all(folder: Path, count: int, size: int, seed: int, workers: int) -> dict:
    """Draw every image in `workers` processes (spawned: safe even if the caller has threads;
    they ignore Ctrl-C, which the parent turns into a clean stop)."""
    jobs = [(seed, i, size, str(folder)) for i in range(count)]
    pool = multiprocessing.get_context("spawn").Pool(
        workers, signal.signal, (signal.SIGINT, signal.SIG_IGN)) if workers > 1 else nullcontext()
    labels = {}
    with pool, typer.progressbar(length=count, label="drawing flowers", file=sys.stderr) as bar:
        done = pool.imap_unordered(_write_one, jobs, 8) if workers > 1 else map(_write_one, jobs)
        for index, image_labels in done:
            labels[index] = image_labels
            bar.update(1)
    return labels  # {index: (type, colour, background)}


def preview(folder: Path, count: int, per_row: int = 6) -> Image.Image:
    """A contact sheet: one labelled row per (type, colour), the first images of each."""
    thumb, label_w = 96, 120
    sheet = Image.new("RGB", (label_w + per_row * thumb, len(COMBOS) * thumb), "white")
    draw, font = ImageDraw.Draw(sheet), ImageFont.load_default(size=16)
    types, colours = (head.classes for head in FLOWER_HEADS)
    for row, (t, c) in enumerate(COMBOS):
        draw.text((8, row * thumb + thumb // 2 - 10), f"{types[t]}\n{colours[c]}", "black", font)
        for col, index in enumerate(range(row, count, len(COMBOS))[:per_row]):
            with Image.open(folder / "images" / NAME.format(index)) as img:
                sheet.paste(img.resize((thumb, thumb), Image.BILINEAR),
                            (label_w + col * thumb, row * thumb))
    return sheet


def _prepare_out(out: Path) -> None:
    """Refuse to replace a folder that is not an earlier synthetic set; drop stale temp folders."""
    if out.exists() and not out.is_dir():
        raise PipelineError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / "all.txt").is_file():
        raise PipelineError(f"{out} is not empty and holds no all.txt, so it is not a synthetic "
                            "data set to replace; choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in out.parent.glob(f".{out.name}.tmp-*-*"):  # left by a killed run, not a live one
        pid = stale.name.rsplit(".tmp-", 1)[1].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def make(out: Path, count: int = 3200, size: int = 224, seed: int = 0,
        workers: int | None = None, with_background: bool = False) -> Path:
    """Write out/images/*.jpg, out/all.txt, out/heads.json and out/preview.png: all or nothing."""
    out, start = Path(out), time.monotonic()
    if count < len(COMBOS) or size < 32:
        raise PipelineError(f"need --count >= {len(COMBOS)} and --size >= 32")
    workers = max(1, min(workers or os.cpu_count() or 1, count))
    _prepare_out(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))
    try:
        (tmp / "images").mkdir()
        labels = _render_all(tmp / "images", count, size, seed, workers)
        heads = Heads((*FLOWER_HEADS, BACKGROUND_HEAD)) if with_background else FLOWER_HEADS
        samples = [Sample(tmp / "images" / NAME.format(i), labels[i][:len(heads)])
                   for i in range(count)]
        write_label_file(tmp / "all.txt", samples,
                         f"pipeline data synth --count {count} --size {size} --seed {seed}"
                         + (" --with-background" if with_background else ""))
        write_schema(tmp, heads)
        preview(tmp, count).save(tmp / "preview.png")
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        if out.exists():  # swap: the old set stays whole until the new one is complete
            os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    typer.echo(f"wrote {count} images ({size} px, seed {seed}), all.txt, heads.json and "
               f"preview.png to {out} "
               f"in {time.monotonic() - start:.1f} s with {workers} workers", err=True)
    return out


def run(o) -> Path:
    """`pipeline data synth` (options.SynthOptions)."""
    return make(o.out, o.count, o.size, o.seed, o.workers, o.with_background)
