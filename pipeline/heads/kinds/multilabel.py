"""`multilabel`: any number of a head's classes at once, a sigmoid per class.

A label cell lists the class indices present joined by `+` (`0+2`), `-` for none of them, `-1`
for unknown. A class is answered when its score reaches the head's threshold (one per head,
0.5 unless `--threshold head=...`; the same value is the output's MediaPipe score threshold,
so MediaPipe's ImageClassifier drops the absent classes by itself). A negative photo has none
of the classes: it teaches every sigmoid to stay low.
"""
from __future__ import annotations

import numpy as np

from pipeline.heads.kinds.base import MISSING, Kind

EPSILON = 1e-7
DEFAULT_THRESHOLD = 0.5


def _ratio(num: float, den: float) -> float | None:
    return float(num) / float(den) if den else None


class Multilabel(Kind):
    name = "multilabel"
    fixed_threshold = DEFAULT_THRESHOLD
    stratify = False

    def check_entry(self, entry, where):
        classes = entry.get("classes")
        if not (isinstance(classes, list) and classes
                and all(isinstance(c, str) and c.strip() and not set(c) & set(",\n")
                        for c in classes) and len(set(classes)) == len(classes)):
            return "classes must be 1 or more distinct, non-empty names without commas"
        if "minus_one" in entry:
            return "minus_one applies to classification heads (a multilabel cell says - for none)"
        return None

    def parse_cell(self, field, head):
        if field == "-":
            return ()
        if field == str(MISSING):
            return MISSING
        found = []
        for part in field.split("+"):
            try:
                value = int(part)
            except ValueError:
                return (f"{head.short} label {field!r}: expected class indices joined by + "
                        "(0+2), - for none of them, or -1 for unknown")
            if not 0 <= value < head.num_classes:
                return (f"{head.short} label {field!r}: class {value} does not exist "
                        f"(0..{head.num_classes - 1})")
            if value in found:
                return f"{head.short} label {field!r}: class {value} listed twice"
            found.append(value)
        return tuple(sorted(found))

    def format_cell(self, value):
        if value == MISSING:
            return str(MISSING)
        return "+".join(map(str, value)) if value else "-"

    def is_missing(self, value):
        return value == MISSING

    def none_value(self):
        return ()

    def counts_key(self, value, head):
        if value == MISSING:
            return ["unknown"]
        return [head.classes[i] for i in value] or ["none of them"]

    def count_columns(self, head):
        return [*head.classes, "none of them", "unknown"]

    def gap_values(self, value):
        return [] if value == MISSING else list(value)

    def width(self, head):
        return head.num_classes

    def encode(self, value, head):
        if value == MISSING:
            return [float(MISSING)] * head.num_classes
        return [1.0 if i in value else 0.0 for i in range(head.num_classes)]

    def known(self, block):
        block = np.asarray(block)
        return block.reshape(len(block), -1)[:, 0] >= 0

    def output_description(self, head, threshold):
        threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        return (f"{head.name}: independent probabilities (sigmoid) of {head.num_classes} "
                f"classes ({', '.join(head.classes)}); a class is present when it reaches "
                f"{threshold:g}")

    def agreement(self, a, b, head):
        """The same classes present at 0.5."""
        return ((np.asarray(a) >= DEFAULT_THRESHOLD) == (np.asarray(b) >= DEFAULT_THRESHOLD)
                ).all(axis=1)

    def units(self, head):
        return head.num_classes

    def output(self, logits, head):
        from pipeline.core.tfcompat import keras

        return keras().layers.Activation("sigmoid", name=head.name)(logits)

    def loss(self, y, out, head, none_weight):
        """Binary cross-entropy summed over the head's classes (each class is a task of its
        own, as the heads are); unknown rows cost 0."""
        from pipeline.core.tfcompat import tf

        t = tf()
        y = t.cast(t.reshape(y, [-1, head.num_classes]), t.float32)
        mask = t.cast(y[:, 0] >= 0, t.float32)
        target = t.maximum(y, 0.0)
        p = t.clip_by_value(out, EPSILON, 1.0 - EPSILON)
        bce = -(target * t.math.log(p) + (1.0 - target) * t.math.log(1.0 - p))
        return t.reduce_sum(bce, axis=-1) * mask, mask

    def hits(self, y, out, head):
        """The share of the head's classes decided right at 0.5, per image."""
        from pipeline.core.tfcompat import tf

        t = tf()
        y = t.cast(t.reshape(y, [-1, head.num_classes]), t.float32)
        right = t.cast(t.equal(t.cast(out >= DEFAULT_THRESHOLD, t.float32), y), t.float32)
        return t.reduce_mean(right, axis=-1), t.cast(y[:, 0] >= 0, t.float32)

    def metrics(self, block, scores, head, threshold):
        """Exact-match accuracy (every class right), per-class precision and recall and the
        share of class decisions that are right (label accuracy), at the head's threshold."""
        threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        block = np.asarray(block).reshape(-1, head.num_classes)
        known = block[:, 0] >= 0
        truth, said = block[known] > 0.5, np.asarray(scores)[known] >= threshold
        per_class = {}
        for i, name in enumerate(head.classes):
            hits = int((truth[:, i] & said[:, i]).sum())
            per_class[name] = {"precision": _ratio(hits, said[:, i].sum()),
                               "recall": _ratio(hits, truth[:, i].sum()),
                               "n": int(truth[:, i].sum())}
        return {"kind": self.name, "n": int(known.sum()), "threshold": threshold,
                "accuracy": _ratio(int((truth == said).all(axis=1).sum()), known.sum()),
                "label_accuracy": _ratio(int((truth == said).sum()), truth.size),
                "per_class": per_class}

    def answer(self, scores, head, threshold):
        threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        p = [float(v) for v in scores]
        return {"labels": [c for c, v in zip(head.classes, p) if v >= threshold],
                "threshold": threshold,
                "probabilities": {c: round(v, 6) for c, v in zip(head.classes, p)}}

    def describe(self, answer, head):
        scores = ", ".join(f"{c} {p:.1%}" for c, p in answer["probabilities"].items())
        return f"{'+'.join(answer['labels']) or 'none of them'} ({scores})"

    def summary(self, m):
        acc = "  -  " if m["accuracy"] is None else f"{m['accuracy']:.3f}"
        lab = "  -  " if m["label_accuracy"] is None else f"{m['label_accuracy']:.3f}"
        return f"exact match {acc}, label accuracy {lab} on {m['n']} (threshold {m['threshold']})"


KIND = Multilabel()
