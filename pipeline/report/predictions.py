"""The report's own LiteRT pass: every exported variant on the run's test split.

It feeds the gallery (the shipped variant's mistakes first, then its least confident correct
answers), the agreement of each variant with the float model, and a cross-check of the figures
in export/metrics.json. LiteRT only (pipeline.modelfile.runtime), never TensorFlow. A model file
or an image that cannot be read becomes an error on the page, not a crash: the page is where
the user looks for what went wrong.
"""
from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np

from pipeline.core.errors import PipelineError
from pipeline.heads.schema import MISSING, NONE, Heads
from pipeline.data.labels import Sample
from pipeline.data.images import ImageError, load_resized, open_rgb
from pipeline.heads.notsure import answer
from pipeline.heads.metrics import head_metrics
from pipeline.modelfile.variants import REFERENCE
from pipeline.report.gather import problem, variant_keys

THUMB = 128  # thumbnail side, pixels


def run(report: dict, root: Path, gallery: int) -> dict | None:
    """{"probs", "labels", "rows", "metrics", "agreement", "gallery"}, or None (nothing to run)."""
    rows = ((report["data"] or {}).get("splits") or {}).get("test")
    if not report["spec"] or not rows:
        return None
    exported = set((report["spec"].get("heads") or {}))
    if exported != set(report["heads"].names):
        problem(report, "error", f"export/model.json has heads {sorted(exported)}, labels.json "
                                 f"{report['heads'].names}: the export is not of this run's "
                                 "model; no gallery")
        return None
    models = open_models(report, report["export_dir"])
    if not models:
        return None
    rows, pixels = load_pixels(rows, {m.image_size for m in models.values()}, report)
    if not rows:
        return None
    probs = {key: predict(model, pixels[model.image_size]) for key, model in models.items()}
    thresholds = {key: model.thresholds for key, model in models.items()}
    heads = report["heads"]
    matrix = heads.encode([Sample(Path(path), labels) for path, labels in rows])
    metrics = {k: head_metrics(heads, matrix, p, thresholds[k]) for k, p in probs.items()}
    # The gallery, agreement and calibration plots read classification heads (the ones with
    # class answers and "not sure"); the others are in the metrics tables.
    classifying = Heads(tuple(h for h in heads if h.impl.one_class))
    labels = np.stack([heads.block(matrix, heads.names.index(h.name)) for h in classifying],
                      axis=1) if len(classifying) else np.zeros((len(rows), 0), np.int64)
    probs = {k: {h.name: p[h.name] for h in classifying} for k, p in probs.items()}
    out = {"probs": probs, "labels": labels, "rows": rows, "thresholds": thresholds,
           "metrics": metrics, "agreement": agreement(probs), "reference": REFERENCE,
           "classifying": classifying}
    cross_check(report, out)
    default = report["spec"].get("default")
    key = default if default in probs else list(probs)[-1]
    out["default"] = key
    out["gallery"] = select(classifying, rows, labels, probs[key], gallery, thresholds[key])
    out["gallery"]["variant"] = key
    return out


def open_models(report: dict, folder: Path) -> dict:
    from pipeline.modelfile.runtime import TFLiteModel

    models = {}
    for key in variant_keys(report)[1:]:
        path = folder / report["spec"]["variants"][key].get("file", "")
        try:
            models[key] = TFLiteModel(path)
        except (PipelineError, OSError) as exc:
            problem(report, "error", f"{path}: {exc}" if str(path) not in str(exc) else str(exc))
    return models


def load_pixels(rows: list, sizes: set, report: dict) -> tuple[list, dict]:
    """The rows whose image decodes, and their pixels at each input size the models use."""
    kept, pixels = [], {s: [] for s in sizes}
    for path, labels in rows:
        try:  # the loader predict and training use, at each size (reduced-scale JPEGs)
            resized = {size: load_resized(path, size) for size in sizes}
        except ImageError as exc:
            problem(report, "error", f"{path}: {exc} (test split; left out of the gallery)")
            continue
        kept.append((path, labels))
        for size in sizes:
            pixels[size].append(resized[size])
    return kept, {s: np.stack(p) if p else None for s, p in pixels.items()}


def predict(model, pixels: np.ndarray) -> dict:
    from pipeline.deploy.evaluate import predict as litert_predict

    return litert_predict(model, pixels)


def agreement(probs: dict) -> dict | None:
    """{variant: {head: share of images whose arg-max equals the float model's}}."""
    if REFERENCE not in probs:
        return None
    ref = {h: p.argmax(1) for h, p in probs[REFERENCE].items()}
    return {key: {h: float(np.mean(p[h].argmax(1) == ref[h])) for h in ref}
            for key, p in probs.items()}


def cross_check(report: dict, out: dict) -> None:
    """export/metrics.json against this pass: a difference means the split or model changed."""
    test_file = Path(report["data"]["folder"]) / "test.txt"
    for key, computed in out["metrics"].items():
        saved = report["metrics"].get(key)
        for head in report["heads"] if saved else ():
            a, b = (saved.get(head.name) or {}).get("accuracy"), computed[head.name]["accuracy"]
            if a is not None and b is not None and abs(a - b) > 1e-9:
                problem(report, "error", f"export/metrics.json gives {key} {head.name} accuracy "
                                         f"{a:.4f}, this report's LiteRT run on {test_file} "
                                         f"{b:.4f}: the test split or the model changed since "
                                         "the export")


def select(heads, rows: list, labels: np.ndarray, probs: dict, limit: int,
           thresholds: dict | None = None) -> dict:
    """Mistakes (a head answered a wrong class, or a class for a photo that is none of its
    classes), most confident first; then photos a head was not sure about; then correct
    ones, least confident first. Confidence of an image: its lowest top probability."""
    items = []
    if not len(heads):
        return {"items": [], "mistakes": 0, "unsure": 0, "total": len(rows)}
    for i, (path, _) in enumerate(rows):
        per_head = [judge(head, probs[head.name][i], int(labels[i, j]),
                          (thresholds or {}).get(head.name)) for j, head in enumerate(heads)]
        items.append({"path": str(path), "heads": per_head,
                      "wrong": any(h["wrong"] for h in per_head),
                      "unsure": any(h["pred"] is None for h in per_head),
                      "confidence": min(h["prob"] for h in per_head)})
    mistakes = sorted((it for it in items if it["wrong"]), key=lambda it: -max(
        h["prob"] for h in it["heads"] if h["wrong"]))
    unsure = [it for it in items if it["unsure"] and not it["wrong"]]
    correct = sorted((it for it in items if not it["wrong"] and not it["unsure"]),
                     key=lambda it: it["confidence"])
    shown = (mistakes + unsure + correct)[:limit]
    return {"items": shown, "mistakes": len(mistakes), "unsure": len(unsure),
            "total": len(items)}


def judge(head, p: np.ndarray, truth: int, threshold: float | None) -> dict:
    """One head on one photo: its answer (None: not sure), the truth, and whether it erred."""
    said = answer(p, threshold)
    truth_name = (head.classes[truth] if truth >= 0 else
                  "none of these" if truth == NONE else None)
    wrong = said is not None and truth != MISSING and said != truth
    return {"head": head.name, "pred": None if said is None else head.classes[said],
            "prob": float(p.max()), "truth": truth_name, "wrong": wrong}


def thumbnail(path: str) -> str | None:
    """A JPEG data URI of the image, at most THUMB pixels a side; None if it will not decode."""
    try:
        image = open_rgb(path)
    except ImageError:
        return None
    image.thumbnail((THUMB, THUMB))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
