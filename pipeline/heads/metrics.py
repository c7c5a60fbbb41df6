"""Per-head metrics in the metrics.json shape of DESIGN.md (pure numpy).

Train, QAT, evaluate and benchmark all score models through `head_metrics`, so every
figure in every metrics.json means the same thing. Each head is scored by its kind
(core/kinds: classification accuracy and not-sure figures, multilabel exact match and
per-class precision/recall, regression MAE/RMSE). An unknown label leaves that image out of
that head's figures; NONE ("none of these") leaves it out of accuracy and counts in the
not-sure figures; joint accuracy only counts images labelled with a class by every
classification head.
"""
from __future__ import annotations

import numpy as np

from pipeline.heads.schema import Heads
from pipeline.heads.kinds.classification import (_ratio, confusion,  # noqa: F401
                                                predictions, single_head)
from pipeline.heads.notsure import interval_texts


def head_metrics(heads: Heads, labels, probs: dict, thresholds: dict | None = None) -> dict:
    """labels: the label matrix [N, heads.width] (heads.Heads.slices; a classification column
    holds class indices, -1 = no label, NONE = none of these); probs: {head name: [N, C]};
    thresholds: {head name: threshold or None}.

    Returns {head name: {...}, "joint_accuracy": float|None, "joint_n": int}.
    """
    labels = np.asarray(labels).reshape(-1, heads.width)
    out: dict = {}
    correct = np.ones(len(labels), dtype=bool)
    complete = np.ones(len(labels), dtype=bool)
    for i, head in enumerate(heads):
        if head.name not in probs:
            raise KeyError(f"no predictions for head {head.name!r}")
        block = heads.block(labels, i)
        out[head.name] = head.impl.metrics(block, probs[head.name], head,
                                           (thresholds or {}).get(head.name))
        if head.impl.one_class:
            truth = block.astype(np.int64)
            correct &= predictions(probs[head.name]) == truth
            complete &= truth >= 0
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
        if not head.impl.one_class:
            for name, c in m.get("per_class", {}).items():
                lines.append(f"{head.name:<14}{name:<10}{c['n']:>6}"
                             f"{_fmt(c['precision']):>11}{_fmt(c['recall']):>8}")
            lines.append(f"{head.name:<14}{'ALL':<10}{head.impl.summary(m)}")
            continue
        for name, c in m["per_class"].items():
            lines.append(f"{head.name:<14}{name:<10}{c['n']:>6}{_fmt(c['precision']):>11}"
                         f"{_fmt(c['recall']):>8}")
        lines.append(f"{head.name:<14}{'ALL':<10}{m['n']:>6}   accuracy {_fmt(m['accuracy'])}"
                     f"   mean recall {_fmt(m['mean_recall'])}   ECE {_fmt(m.get('ece'))}"
                     f" (calibrated: ~{_fmt(m.get('ece_noise_floor'))})")
        if m.get("threshold") is not None:
            ci = interval_texts(m)
            lines.append(f"{head.name:<14}{'not sure':<10}threshold {m['threshold']:.4f}: "
                         f"answers {_fmt(m['coverage'])}{ci.get('coverage', '')} of labelled, "
                         f"selective accuracy {_fmt(m['selective_accuracy'])}"
                         f"{ci.get('selective_accuracy', '')}" +
                         (f"; not sure on {_fmt(m['not_sure_on_none'])}"
                          f"{ci.get('not_sure_on_none', '')} of {m['n_none']} "
                          "'none of these'" if m["n_none"] else "") +
                         (" (95% intervals)" if ci else ""))
    if sum(h.impl.one_class for h in heads) > 1:
        lines.append(f"joint accuracy (all heads right) {_fmt(metrics['joint_accuracy'])}"
                     f" on {metrics['joint_n']} images")
    return "\n".join(lines)
