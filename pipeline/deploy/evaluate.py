"""`pipeline evaluate`: score an exported model on any label file, through LiteRT only.

No TensorFlow import: a run directory resolves to its exported default variant, and the
heads, input size and normalization come from the .tflite's own metadata (or, for a file
without any, the model.json beside it), so the figures are those a phone would produce on the
same pixels.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.data import negatives
from pipeline.heads import notsure
from pipeline.core.errors import PipelineError
from pipeline.heads.schema import Heads, schema_of
from pipeline.data.images import iter_resized
from pipeline.core.io import write_json
from pipeline.data.labels import Sample, load_label_file, select_heads
from pipeline.heads.metrics import format_table, head_metrics
from pipeline.options import EvaluateOptions
from pipeline.modelfile.runtime import TFLiteModel, resolve_model


def labels_array(samples: list[Sample], heads: Heads) -> np.ndarray:
    return heads.encode(samples)


def predict(model: TFLiteModel, pixels: np.ndarray) -> dict[str, np.ndarray]:
    """{head name: [N, C] probabilities}, one image at a time (the signature has batch 1);
    pixels: an array or any iterable of images."""
    outputs = [model(image) for image in pixels]
    return {h.name: np.stack([o[h.name] for o in outputs]) if outputs
            else np.zeros((0, h.impl.output_size(h)), np.float32) for h in model.heads}


def open_model(model: Path) -> TFLiteModel:
    path = resolve_model(Path(model))
    tflite = TFLiteModel(path)
    if list(tflite.input["shape"][:1]) != [1] or len(tflite.input["shape"]) != 4:
        raise PipelineError(f"{path}: input shape {list(tflite.input['shape'])} is not "
                            "[1, size, size, 3]")
    return tflite


def score(model: TFLiteModel, samples: list[Sample], heads: Heads,
          workers: int | None = None) -> dict:
    # Streamed: decoded ahead in threads, run in order, only the scores kept (bounded memory).
    probs = predict(model, iter_resized([s.path for s in samples], model.image_size, workers))
    return head_metrics(heads, labels_array(samples, heads), probs, model.thresholds)


def score_negatives(model: TFLiteModel, path: Path, heads: Heads,
                    workers: int | None = None) -> dict:
    """{head: {kind: {"n", "not_sure"}, ..., "all": {...}}}: how often each head says "not
    sure" on photos that are none of its classes, per kind of photo."""
    samples, kinds = negatives.read(path, heads)
    probs = predict(model, iter_resized([s.path for s in samples], model.image_size, workers))
    out = {}
    for head in (h for h in heads if h.impl.declines):
        unsure = notsure.answers(probs[head.name], model.thresholds[head.name]) \
            == notsure.NOT_SURE
        groups = {kind: [i for i, k in enumerate(kinds) if k == kind] for kind in sorted(set(kinds))}
        groups["all"] = list(range(len(kinds)))
        out[head.name] = {kind: {"n": len(rows), "not_sure": float(unsure[rows].mean()),
                                 "interval": notsure.wilson(unsure[rows].sum(), len(rows))}
                          for kind, rows in groups.items()}
    return out


def format_negatives(found: dict) -> str:
    lines = ["not sure on the negatives (photos of none of the classes), by kind "
             "[95% interval]:"]
    for head, kinds in found.items():
        lines.append(f"  {head}: " + ", ".join(
            f"{kind} {v['not_sure']:.1%}{notsure.interval_text(v.get('interval'), True)} "
            f"of {v['n']}" for kind, v in kinds.items()))
    return "\n".join(lines)


def run(o: EvaluateOptions) -> dict:
    """Score the model's heads on a label file read with its own schema (heads.json beside
    it, else the flower heads): a file may hold more columns than the model has heads. With
    a negatives file (`path, kind`), also the share of "not sure" per kind."""
    model, labels, out, negatives_file, workers = o.model, o.labels, o.out, o.negatives, o.workers
    tflite = open_model(model)
    heads = tflite.heads
    schema = schema_of(labels)
    samples = select_heads(load_label_file(labels, schema), schema, heads, str(labels))
    if negatives_file is not None:
        negatives.read(negatives_file, heads)  # every line and image checked before scoring
    metrics = score(tflite, samples, heads, workers)
    result = {"model": str(tflite.path), "variant": tflite.variant, "labels": str(Path(labels)),
              "n": len(samples), "metrics": metrics}
    print(format_table(metrics, heads, title=f"{tflite.path} ({tflite.variant}) on {labels}: "
                                             f"{len(samples)} images"))
    if negatives_file is not None:
        result["negatives"] = score_negatives(tflite, Path(negatives_file), heads, workers)
        result["negatives_file"] = str(negatives_file)
        print(format_negatives(result["negatives"]))
    if out is not None:
        write_json(out, result)
    return result
