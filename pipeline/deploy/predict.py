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

from pipeline.core.decode_pool import decode_ordered
from pipeline.core.images import ImageError, is_image_file, load_resized
from pipeline.core.notsure import answer
from pipeline.core.options import PredictOptions
from pipeline.deploy.runtime import TFLiteModel, resolve_model

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
    predictions = {}
    for head, classes in model.labels.items():
        p = [float(v) for v in probs[head]]
        best = answer(probs[head], model.thresholds[head])  # None: not sure
        predictions[head] = {"label": None if best is None else classes[best],
                             "probability": None if best is None else round(p[best], 6),
                             "threshold": model.thresholds[head],
                             "probabilities": {c: round(v, 6) for c, v in zip(classes, p)}}
    return {"file": str(image), "variant": model.variant,
            "inference_ms": round(elapsed_ms, 3), "predictions": predictions}


def format_text(result: dict) -> str:
    """`a.jpg  flower_type: rose 93.1% (daisy 6.9%)  flower_color: not sure (red 41.0%, ...)
    [int8, 0.6 ms]`."""
    parts = [result["file"]]
    for head, pred in result["predictions"].items():
        ranked = sorted(pred["probabilities"].items(), key=lambda item: -item[1])
        others = ", ".join(f"{c} {p:.1%}" for c, p in ranked if c != pred["label"])
        said = "not sure" if pred["label"] is None else \
            f"{pred['label']} {pred['probability']:.1%}"
        parts.append(f"{head}: {said} ({others})")
    parts.append(f"[{result['variant']}, {result['inference_ms']:.1f} ms]")
    return "  ".join(parts)


def answers(inputs: list[Path], model: Path, threads: int = 1, workers: int | None = None):
    """(image, result dict or the ImageError / InputError it raised), one per input image, in
    input order, as each is answered (decoding runs ahead in threads, memory stays bounded)."""
    net = TFLiteModel(resolve_model(model), threads=threads)
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
    for image, result in answers(o.inputs, o.model, o.threads, o.workers):
        if isinstance(result, Exception):
            failures += 1
            print(f"error: {image}: {result}", file=sys.stderr)
            continue
        print(json.dumps(result) if as_json else format_text(result), flush=True)
    if failures:
        print(f"{failures} input(s) failed", file=sys.stderr)
    return failures
