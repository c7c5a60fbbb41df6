"""Each head's "not sure" threshold, chosen when a model is exported (or set by the user).

Rule (documented in docs/not-sure.md): run each exported variant through LiteRT on the
validation split, as a phone would. Per head: where the split has "none of these" photos for
it, the threshold that best separates them from the photos of its classes (answered +
declined, notsure.balanced_threshold); else, or with `--coverage`, the highest threshold that
still answers that share (default 0.95) of the photos of its classes
(notsure.choose_threshold). Each file gets the threshold of its own scores (an int8 file's
scores are not the float file's). A user's `--threshold type=0.8` replaces the chosen value
for that head in every file.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from pipeline.heads import notsure
from pipeline.core.errors import PipelineError
from pipeline.heads.schema import Heads
from pipeline.core.io import write_json

DEFAULT_COVERAGE = 0.95
CURVE = (0.5, 0.6, 0.7, 0.8, 0.9)  # thresholds shown beside the chosen one


def parse_overrides(text: str | None, heads: Heads, option: str = "--threshold"
                    ) -> dict[str, float]:
    """'type=0.8,color=0.6' -> {'flower_type': 0.8, 'flower_color': 0.6}; one line if wrong."""
    out = {}
    for item in filter(None, (p.strip() for p in (text or "").split(","))):
        key, sep, value = item.partition("=")
        try:
            name = heads.get(key.strip()).name
        except KeyError:
            raise PipelineError(f"{option} {item!r}: no head {key.strip()!r} (heads: "
                                f"{', '.join(h.short for h in heads)})") from None
        try:
            out[name] = notsure.check_threshold(float(value) if sep else None,
                                                f"{option} {item!r}")
        except (TypeError, ValueError) as exc:
            raise PipelineError(str(exc) if sep and _is_number(value) else
                                f"{option} {item!r}: expected e.g. "
                                f"{heads.heads[0].short}=0.8") from None
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def variant_scores(entry: dict, content: bytes, spec: dict, pixels: np.ndarray) -> dict:
    """{head: [N, C]} of one converted (metadata-less) file through the one runtime path."""
    from pipeline.deploy.evaluate import predict
    from pipeline.modelfile.runtime import TFLiteModel

    with tempfile.TemporaryDirectory(prefix="pipeline-thresholds-") as tmp:
        (Path(tmp) / entry["file"]).write_bytes(content)
        write_json(Path(tmp) / "model.json", spec)
        return predict(TFLiteModel(Path(tmp) / entry["file"]), pixels)


def choose(heads: Heads, scores: dict, labels: np.ndarray, coverage: float | None,
           overrides: dict[str, float], decline: dict[str, float] | None = None) -> dict:
    """{head: {"threshold", "rule", "val": notsure.selective figures, "val_curve"}}.

    A head with "none of these" photos in the validation split (negatives, or -1 declared
    "none") and no --coverage gets the threshold that best separates them from its classes'
    photos (notsure.balanced_threshold); else the one answering `coverage` (default 0.95) of
    its classes' photos (notsure.choose_threshold)."""
    out = {}
    for i, head in enumerate(heads):
        if not head.impl.declines:
            out[head.name] = fixed(head, overrides)
            continue
        probs, truth = scores[head.name], heads.block(labels, i).astype(np.int64)
        known, none = truth >= 0, truth < -1
        top = probs.max(axis=1)
        if head.name in overrides:
            value, rule = overrides[head.name], "set with --threshold"
        elif head.name in (decline or {}):
            value, rule = declining(head, top[none], decline[head.name])
        elif coverage is None and none.any():
            value = notsure.balanced_threshold(top[known], top[none], head.num_classes)
            rule = (f"best separates the {int(known.sum())} validation photos of a class from "
                    f"the {int(none.sum())} of none of them (most answered + declined)")
        else:
            share = DEFAULT_COVERAGE if coverage is None else coverage
            value = notsure.choose_threshold(top[known], share, head.num_classes)
            rule = (f"answers {share:.0%} of the {int(known.sum())} validation photos "
                    "labelled with a class")
        out[head.name] = {"threshold": value, "rule": rule,
                          "val": notsure.selective(probs, truth, value),
                          "val_curve": curve(probs, truth)}
    return out


def declining(head, none_top: np.ndarray, share: float) -> tuple[float, str]:
    """--decline: the lowest threshold that declines `share` of the head's validation "none
    of these" photos (the targets are stated that way: not sure on 95% of the negatives)."""
    if not len(none_top):
        raise PipelineError(f"--decline {head.short}={share:g}: the validation split has no "
                            f"'none of these' photos for {head.name} (negatives, or -1 declared "
                            "none)")
    value = notsure.declining_threshold(none_top, share)
    return value, (f"declines {share:.0%} of the {len(none_top)} validation photos of none of "
                   "its classes (--decline)")


def fixed(head, overrides: dict) -> dict:
    """The threshold of a head whose kind does not choose one on validation: its kind's fixed
    one (multilabel: a class is present at 0.5) unless --threshold says otherwise, or none
    (regression)."""
    default = head.impl.fixed_threshold
    if default is None:
        if head.name in overrides:
            raise PipelineError(f"--threshold {head.short}: a {head.kind} head has no "
                                "threshold")
        return {"threshold": None, "rule": f"none ({head.kind})", "val_curve": []}
    value = overrides.get(head.name, default)
    rule = "set with --threshold" if head.name in overrides else \
        f"{default:g} per class ({head.kind} default)"
    return {"threshold": value, "rule": rule, "val_curve": []}


def curve(probs: np.ndarray, truth: np.ndarray) -> list[list]:
    """[[threshold, coverage, selective accuracy, not sure on "none of these"]] on these
    photos for a few round thresholds: what another --threshold would give."""
    rows = []
    for t in CURVE:
        s = notsure.selective(probs, truth, t)
        rows.append([t, s["coverage"], s["selective_accuracy"], s["not_sure_on_none"]])
    return rows
