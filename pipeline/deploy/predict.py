"""`pipeline predict`: type and colour of image files, from the exported .tflite.

LiteRT only, never TensorFlow: importing TF alone takes seconds and ~500 MB, and a phone-sized
model should answer from the shell in well under a second. A bad or missing image costs one
line on stderr and the others still run; the caller gets the number of failures.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from pipeline.data.decode_pool import decode_ordered
from pipeline.data.images import ImageError, is_image_file, load_resized
from pipeline.options import PredictOptions
from pipeline.modelfile.runtime import TFLiteModel, resolve_model

class InputError(Exception):
    """A command-line input that yields no image (missing path, empty folder)."""


def expand(inputs: Iterable[Path]) -> Iterator[tuple[Path, InputError | None]]:
    """Each file as given; each folder's image files (by suffix, sorted, not recursive)."""
    for item in map(Path, inputs):
        if item.is_dir():
            images = sorted(p for p in item.iterdir() if is_image_file(p))
            if not images:
                yield item, InputError("folder has no image files")
            yield from ((p, None) for p in images)
        elif item.exists():
            yield item, None
        else:
            yield item, InputError("no such file or folder")


def prepare_file(model: TFLiteModel, image: Path) -> np.ndarray:
    """The exact input tensor predict feeds the model (the Android and browser checks compare
    their own preprocessing against these bytes)."""
    return model.prepare(load_resized(image, model.image_size))


def decoded(items, size: int, workers: int | None = None):
    """expand()'s (path, problem) -> (path, model-size pixels or the error), in order, decoded
    ahead in `workers` threads with bounded memory (core.decode_pool)."""
    def load(item):
        path, problem = item
        if problem:
            raise problem
        return load_resized(path, size)
    for (path, _), pixels in decode_ordered(items, load, (ImageError, InputError), workers):
        yield path, pixels


def classify(model: TFLiteModel, image: Path, pixels: np.ndarray | None = None) -> dict:
    """One image -> {"file", "variant", "inference_ms", "predictions": {head: {...}}}."""
    x = prepare_file(model, image) if pixels is None else model.prepare(pixels)
    start = time.perf_counter()
    probs = model.run_prepared(x)
    elapsed_ms = (time.perf_counter() - start) * 1000
    predictions = {h.name: h.impl.answer(probs[h.name], h, model.thresholds[h.name])
                   for h in model.heads}  # a classification head's label None: not sure
    return {"file": str(image), "variant": model.variant,
            "inference_ms": round(elapsed_ms, 3), "predictions": predictions}


def format_text(result: dict, heads) -> str:
    """`a.jpg  flower_type: rose 93.1% (daisy 6.9%)  flower_color: not sure (red 41.0%, ...)
    [int8, 0.6 ms]` (each head as its kind says it: classes present, a number and unit)."""
    parts = [result["file"]]
    for head in heads:
        parts.append(f"{head.name}: "
                     f"{head.impl.describe(result['predictions'][head.name], head)}")
    parts.append(f"[{result['variant']}, {result['inference_ms']:.1f} ms]")
    return "  ".join(parts)


def answers(inputs: list[Path], model, threads: int = 1, workers: int | None = None):
    """(image, result dict or the ImageError / InputError it raised), one per input image, in
    input order, as each is answered (decoding runs ahead in threads, memory stays bounded)."""
    net = model if isinstance(model, TFLiteModel) else TFLiteModel(resolve_model(model),
                                                                     threads=threads)
    for image, pixels in decoded(expand(inputs), net.image_size, workers):
        try:
            if isinstance(pixels, Exception):
                raise pixels
            yield image, classify(net, image, pixels)
        except (ImageError, InputError) as exc:
            yield image, exc


def run(o: PredictOptions) -> int:
    """Print one line (text or JSON) per image as it is answered, in input order; return how
    many inputs failed."""
    failures, as_json = 0, o.json_output
    net = TFLiteModel(resolve_model(o.model), threads=o.threads)
    for image, result in answers(o.inputs, net, o.threads, o.workers):
        if isinstance(result, Exception):
            failures += 1
            print(f"error: {image}: {result}", file=sys.stderr)
            continue
        print(json.dumps(result) if as_json else format_text(result, net.heads), flush=True)
    if failures:
        print(f"{failures} input(s) failed", file=sys.stderr)
    return failures
