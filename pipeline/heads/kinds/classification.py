"""`classification`: one class of several (softmax), or "not sure" (today's flower heads).

The backbone branch ends in one logit per class plus one for "none of these"; a softmax spreads
the probability over all of them, and the output (named by the head) keeps the head's own
classes only, so its scores may sum to less than 1: what is missing is the model's belief that
the photo is none of the classes. Photos labelled NONE (negatives, and -1 where heads.json
declares "none") are trained towards that extra class, and the head says "not sure" when no
class reaches its threshold (heads/notsure.py).

The "drop the none column" step is a fixed, non-trainable Dense layer (an identity matrix with
one zero row), because tfmot quantizes Dense without annotation (a Lambda slice would not) and
its 0/1 weights are exact in int8.
"""
from __future__ import annotations

import numpy as np

from pipeline.heads import notsure
from pipeline.heads.kinds.base import MISSING, NONE, Kind

EPSILON = 1e-7  # as Keras clips probabilities before its log
MINUS_ONE = ("unknown", "none")  # what a -1 cell may mean, declared per head


def _ratio(num: float, den: float) -> float | None:
    # None (JSON null) rather than 0 or NaN: "no images" is not "all wrong", and NaN is not JSON.
    return float(num) / float(den) if den else None


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
    return {"kind": "classification", "accuracy": _ratio(int(np.trace(matrix)), len(truth)),
            "n": int(len(truth)), "confusion": matrix.tolist(), "per_class": per_class,
            "mean_recall": float(np.mean(recalls)) if recalls else None, **extra}


def selection(num_classes: int) -> list:
    """(classes + 1) x classes: keeps the first `num_classes` columns, drops the last."""
    return np.vstack([np.eye(num_classes), np.zeros((1, num_classes))]).astype(
        np.float32).tolist()


class Classification(Kind):
    name = "classification"
    one_class = declines = calibrated = True
    stratify = True

    def check_entry(self, entry, where):
        if not _class_names(entry.get("classes"), 2):
            return "classes must be 2 or more distinct, non-empty names without commas"
        if entry.get("minus_one", "unknown") not in MINUS_ONE:
            return (f"minus_one {entry.get('minus_one')!r} must be one of "
                    f"{', '.join(MINUS_ONE)} (what a -1 cell means)")
        return None

    def parse_cell(self, field, head):
        try:
            value = int(field)
        except ValueError:
            return f"{head.short} label {field!r} is not an integer"
        if value != MISSING and not 0 <= value < head.num_classes:
            return (f"{head.short} label {value} out of range "
                    f"(0..{head.num_classes - 1}, or -1 for no label)")
        return value

    def format_cell(self, value):
        return str(MISSING if value == NONE else value)  # NONE was read from a -1

    def is_missing(self, value):
        return value == MISSING

    def none_value(self):
        return NONE

    def counts_key(self, value, head):
        return [head.classes[value] if value >= 0 else "none"]

    def gap_values(self, value):
        return [value] if value >= 0 else []

    def encode(self, value, head):
        return [float(value)]

    def known(self, block):
        return np.asarray(block).reshape(-1) >= 0

    def output_description(self, head, threshold):
        return (f"{head.name}: softmax probabilities of {head.num_classes} classes "
                f"({', '.join(head.classes)})"
                + (f"; not sure when no class reaches {threshold:g}"
                   if threshold is not None else ""))

    def agreement(self, a, b, head):
        return np.asarray(a).argmax(1) == np.asarray(b).argmax(1)

    def units(self, head):
        return head.num_classes + 1

    def output(self, logits, head):
        from pipeline.core.tfcompat import keras

        k = keras()
        probs = k.layers.Softmax(name=f"{head.name}_softmax")(logits)
        return k.layers.Dense(head.num_classes, use_bias=False, trainable=False, name=head.name,
                              kernel_initializer=k.initializers.Constant(
                                  selection(head.num_classes)))(probs)

    def loss(self, y, out, head, none_weight):
        return masked_cross_entropy(y, out, none_weight)[1:]

    def hits(self, y, out, head):
        from pipeline.core.tfcompat import tf

        t = tf()
        labels = t.cast(t.reshape(y, [-1]), t.int64)
        correct = t.cast(t.equal(t.argmax(out, axis=-1), labels), t.float32)
        return correct, t.cast(labels >= 0, t.float32)  # a NONE image has no right class

    def metrics(self, block, scores, head, threshold):
        return single_head(head.classes, np.asarray(block).reshape(-1).astype(np.int64),
                           scores, threshold)

    def answer(self, scores, head, threshold):
        p = [float(v) for v in scores]
        best = notsure.answer(scores, threshold)  # None: not sure
        return {"label": None if best is None else head.classes[best],
                "probability": None if best is None else round(p[best], 6),
                "threshold": threshold,
                "probabilities": {c: round(v, 6) for c, v in zip(head.classes, p)}}

    def describe(self, answer, head):
        ranked = sorted(answer["probabilities"].items(), key=lambda item: -item[1])
        others = ", ".join(f"{c} {p:.1%}" for c, p in ranked if c != answer["label"])
        said = "not sure" if answer["label"] is None else \
            f"{answer['label']} {answer['probability']:.1%}"
        return f"{said} ({others})"

    def summary(self, m):
        return f"accuracy {_fmt(m.get('accuracy'))} on {m['n']}"


def masked_cross_entropy(labels, probs, none_weight: float = 1.0):
    """(mean loss over the images that count, per-image loss, mask of those images).

    `probs` are the head's classes' probabilities, which leave room for "none of these": a
    class label costs -log p(class), NONE costs -log(1 - sum of p), the cross-entropy of the
    head's full softmax either way. MISSING (-1) costs exactly 0, with a zero gradient.
    (Keras' own cross-entropy would renormalize p to sum to 1.) none_weight scales the NONE
    photos' loss (fewer of them pull the head's scores less towards "none")."""
    from pipeline.core.tfcompat import tf

    t = tf()
    labels = t.cast(t.reshape(labels, [-1]), t.int32)
    known = t.cast(labels >= 0, t.float32)
    none = t.cast(t.equal(labels, NONE), t.float32)
    picked = t.gather(probs, t.maximum(labels, 0), axis=1, batch_dims=1)
    rest = 1.0 - t.reduce_sum(probs, axis=-1)
    likelihood = known * picked + none * rest + (1.0 - known - none)  # log(1) = 0 when unused
    per_image = -t.math.log(t.clip_by_value(likelihood, EPSILON, 1.0)) * (known + none_weight * none
                                                                          + (1.0 - known - none))
    mask = known + none
    return t.reduce_sum(per_image) / t.maximum(t.reduce_sum(mask), 1.0), per_image, mask


def _class_names(classes, at_least: int) -> bool:
    return (isinstance(classes, list) and len(classes) >= at_least
            and all(isinstance(c, str) and c.strip() and not set(c) & set(",\n")
                    for c in classes) and len(set(classes)) == len(classes))


def _fmt(value) -> str:
    return "  -  " if value is None else f"{value:.3f}"


KIND = Classification()
