"""Temperature scaling of a trained model, folded into its weights (no new layer, no op).

Each head's logits (its classes and "none of these") are its `<head>_conv10` outputs averaged
by the pool: a linear map of the features, so dividing that conv's kernel and bias by T
divides the logits by T exactly, and the exported graph (and its int8 path) stays as it was. T is fitted per head on the
validation split (notsure.fit_temperature); ECE before and after is recorded on val and test.
"""
from __future__ import annotations

import numpy as np

from pipeline.core import notsure
from pipeline.core.heads import NONE, Heads


def conv10(net, head_name: str):
    """The head's last conv, found by its name (backbones name it `<head>_conv10`)."""
    return net.get_layer(f"{head_name}_conv10")


def fold_temperature(net, head_name: str, temperature: float) -> None:
    layer = conv10(net, head_name)
    layer.set_weights([w / temperature for w in layer.get_weights()])


def with_none(probs: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The head's whole softmax (its classes, then "none of these" = 1 - their sum) and the
    truth with NONE as that last class: what temperature scaling fits."""
    rest = np.clip(1.0 - probs.sum(axis=1, keepdims=True), 0.0, 1.0)
    full = np.concatenate([probs, rest], axis=1)
    return full, np.where(truth == NONE, probs.shape[1], truth)


def calibrate(net, heads: Heads, scored: dict) -> dict:
    """Fit and fold one temperature per head on its whole softmax (classes and "none of
    these"). scored: {split: (labels [N, H], probs)} of the uncalibrated model, "val" among
    them. Returns {head: {temperature, ECE of the classes' top score before/after, per split}}."""
    labels, probs = scored["val"]
    report = {}
    for i, head in enumerate(heads):
        t = notsure.fit_temperature(*with_none(probs[head.name], labels[:, i]))
        fold_temperature(net, head.name, t)
        entry = {"temperature": round(t, 4)}
        for split, (y, split_probs) in scored.items():
            p = split_probs[head.name]
            after = notsure.tempered(with_none(p, y[:, i])[0], t)[:, :head.num_classes]
            entry[f"ece_before_{split}"] = notsure.ece(p, y[:, i])
            entry[f"ece_after_{split}"] = notsure.ece(after, y[:, i])
        report[head.name] = entry
    return report


def describe(report: dict) -> str:
    """One line: each head's temperature and its ECE on test before -> after."""
    def fmt(value):
        return "-" if value is None else f"{value:.3f}"

    return "calibration (temperature; ECE on test before -> after): " + "; ".join(
        f"{name} T={c['temperature']:.3f} {fmt(c.get('ece_before_test'))} -> "
        f"{fmt(c.get('ece_after_test'))}" for name, c in report.items())
