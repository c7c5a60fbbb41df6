"""`pipeline evaluate`: score an exported model on any label file, through LiteRT only.

No TensorFlow import: a run directory resolves to its exported default variant, and the
heads, input size and normalization come from the .tflite's own metadata (or, for a file
without any, the model.json beside it), so the figures are those a phone would produce on the
same pixels.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pipeline.core.errors import PipelineError
from pipeline.core.heads import FLOWER_HEADS, Head, Heads
from pipeline.core.images import load_resized
from pipeline.core.labels import Sample, load_label_file
from pipeline.core.io import atomic_write_text
from pipeline.core.metrics import format_table, head_metrics
from pipeline.deploy.runtime import TFLiteModel, resolve_model


def spec_heads(spec: dict) -> Heads:
    """The model's heads in label-file column order, from model.json (beside or packed)."""
    labels = spec.get("heads") or {}
    tasks = spec.get("tasks") or [{"name": n} for n in labels]
    heads = []
    for task in tasks:
        name = task["name"]
        if name not in labels:
            raise PipelineError(f"model.json: task {name!r} has no labels under 'heads'")
        short = task.get("short") or _known_short(name)
        heads.append(Head(name, short, tuple(labels[name])))
    if not heads:
        raise PipelineError("model.json: no heads")
    return Heads(tuple(heads))


def _known_short(name: str) -> str:
    try:
        return FLOWER_HEADS.get(name).short
    except KeyError:
        return name


def load_pixels(samples: list[Sample], size: int) -> np.ndarray:
    """uint8 [N, size, size, 3] through the one shared decode/resize path."""
    pixels = np.zeros((len(samples), size, size, 3), dtype=np.uint8)
    for i, sample in enumerate(samples):
        pixels[i] = load_resized(sample.path, size)
    return pixels


def labels_array(samples: list[Sample], heads: Heads) -> np.ndarray:
    return np.array([s.labels for s in samples], dtype=np.int64).reshape(-1, len(heads))


def predict(model: TFLiteModel, pixels: np.ndarray) -> dict[str, np.ndarray]:
    """{head name: [N, C] probabilities}, one image at a time (the signature has batch 1)."""
    outputs = [model(image) for image in pixels]
    return {name: np.stack([o[name] for o in outputs]) if outputs
            else np.zeros((0, len(classes)), np.float32)
            for name, classes in model.labels.items()}


def open_model(model: Path) -> TFLiteModel:
    path = resolve_model(Path(model))
    tflite = TFLiteModel(path)
    if list(tflite.input["shape"][:1]) != [1] or len(tflite.input["shape"]) != 4:
        raise PipelineError(f"{path}: input shape {list(tflite.input['shape'])} is not "
                            "[1, size, size, 3]")
    return tflite


def score(model: TFLiteModel, samples: list[Sample], heads: Heads) -> dict:
    probs = predict(model, load_pixels(samples, model.image_size))
    return head_metrics(heads, labels_array(samples, heads), probs)


def run(model: Path, data: Path, json_out: Path | None = None) -> dict:
    tflite = open_model(model)
    heads = spec_heads(tflite.spec)
    samples = load_label_file(data, heads)
    metrics = score(tflite, samples, heads)
    result = {"model": str(tflite.path), "variant": tflite.variant, "data": str(Path(data)),
              "n": len(samples), "metrics": metrics}
    print(format_table(metrics, heads, title=f"{tflite.path} ({tflite.variant}) on {data}: "
                                             f"{len(samples)} images"))
    if json_out is not None:
        atomic_write_text(Path(json_out), json.dumps(result, indent=2) + "\n")
    return result
