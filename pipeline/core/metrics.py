"""Per-head classification metrics in the metrics.json shape of DESIGN.md (pure numpy).

Train, QAT, evaluate and benchmark all score models through `head_metrics`, so every
figure in every metrics.json means the same thing. A label of -1 (MISSING) leaves that
image out of that head's figures; NONE ("none of these") leaves it out of accuracy and counts
in the not-sure figures; joint accuracy only counts images labelled with a class by every head.
"""
from __future__ import annotations

import numpy as np

from pipeline.core import notsure
from pipeline.core.heads import Heads


def predictions(scores) -> np.ndarray:
    """Class indices from [N, C] probabilities/logits, or pass [N] indices through."""
    scores = np.asarray(scores)
    if scores.ndim == 1:
        return scores.astype(np.int64)
    if scores.ndim != 2:
        raise ValueError(f"expected [N, C] scores or [N] class indices, got shape {scores.shape}")
    return scores.argmax(axis=1).astype(np.int64)


def confusion(truth: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Rows = true class, columns = predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (truth, pred), 1)
    return matrix


def _ratio(num: float, den: float) -> float | None:
    # None (JSON null) rather than 0 or NaN: "no images" is not "all wrong", and NaN is not JSON.
    return float(num) / float(den) if den else None


def single_head(classes, truth, scores, threshold: float | None = None) -> dict:
    """Metrics of one head over the images labelled with a class (truth >= 0); with scores,
    also calibration (ECE) and the not-sure figures at `threshold` (notsure.selective)."""
    truth = np.asarray(truth, dtype=np.int64)
    pred = predictions(scores)
    if len(pred) != len(truth):
        raise ValueError(f"{len(truth)} labels but {len(pred)} predictions")
    extra = {}
    if np.asarray(scores).ndim == 2:
        extra = {"ece": notsure.ece(scores, truth),
                 "ece_noise_floor": notsure.ece_noise_floor(scores, truth),
                 "risk_coverage": notsure.risk_coverage(scores, truth),
                 **notsure.selective(scores, truth, threshold)}
    keep = truth >= 0
    truth, pred = truth[keep], pred[keep]
    matrix = confusion(truth, pred, len(classes))
    per_class, recalls = {}, []
    for i, name in enumerate(classes):
        n, predicted, hits = int(matrix[i].sum()), int(matrix[:, i].sum()), int(matrix[i, i])
        recall = _ratio(hits, n)
        # A class never predicted has precision 0 when it exists, undefined when it does not.
        precision = _ratio(hits, predicted) if predicted else (0.0 if n else None)
        per_class[name] = {"precision": precision, "recall": recall, "n": n}
        if recall is not None:
            recalls.append(recall)
    return {"accuracy": _ratio(int(np.trace(matrix)), len(truth)), "n": int(len(truth)),
            "confusion": matrix.tolist(), "per_class": per_class,
            "mean_recall": float(np.mean(recalls)) if recalls else None, **extra}


def head_metrics(heads: Heads, labels, probs: dict, thresholds: dict | None = None) -> dict:
    """labels: [N, H] ints (-1 = no label, NONE = none of these), columns in `heads` order;
    probs: {head name: [N, C]}; thresholds: {head name: threshold or None}.

    Returns {head name: {...}, "joint_accuracy": float|None, "joint_n": int}.
    """
    labels = np.asarray(labels, dtype=np.int64).reshape(-1, len(heads))
    out: dict = {}
    correct = np.ones(len(labels), dtype=bool)
    for i, head in enumerate(heads):
        if head.name not in probs:
            raise KeyError(f"no predictions for head {head.name!r}")
        out[head.name] = single_head(head.classes, labels[:, i], probs[head.name],
                                     (thresholds or {}).get(head.name))
        correct &= predictions(probs[head.name]) == labels[:, i]
    complete = (labels >= 0).all(axis=1)
    out["joint_accuracy"] = _ratio(int((correct & complete).sum()), int(complete.sum()))
    out["joint_n"] = int(complete.sum())
    return out


def _fmt(value) -> str:
    return "  -  " if value is None else f"{value:.3f}"


def format_table(metrics: dict, heads: Heads, title: str = "") -> str:
    """A plain-text table of a head_metrics() result, for the terminal."""
    lines = [title] if title else []
    lines.append(f"{'head':<14}{'class':<10}{'n':>6}{'precision':>11}{'recall':>8}")
    for head in heads:
        m = metrics[head.name]
        for name, c in m["per_class"].items():
            lines.append(f"{head.name:<14}{name:<10}{c['n']:>6}{_fmt(c['precision']):>11}"
                         f"{_fmt(c['recall']):>8}")
        lines.append(f"{head.name:<14}{'ALL':<10}{m['n']:>6}   accuracy {_fmt(m['accuracy'])}"
                     f"   mean recall {_fmt(m['mean_recall'])}   ECE {_fmt(m.get('ece'))}"
                     f" (calibrated: ~{_fmt(m.get('ece_noise_floor'))})")
        if m.get("threshold") is not None:
            lines.append(f"{head.name:<14}{'not sure':<10}threshold {m['threshold']:.4f}: "
                         f"answers {_fmt(m['coverage'])} of labelled, selective accuracy "
                         f"{_fmt(m['selective_accuracy'])}" +
                         (f"; not sure on {_fmt(m['not_sure_on_none'])} of {m['n_none']} "
                          "'none of these'" if m["n_none"] else ""))
    if len(heads) > 1:
        lines.append(f"joint accuracy (all heads right) {_fmt(metrics['joint_accuracy'])}"
                     f" on {metrics['joint_n']} images")
    return "\n".join(lines)
