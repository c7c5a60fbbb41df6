"""Temperature scaling of a trained model, folded into its weights (no new layer, no op).

Each head's logits are its `<head>_conv10` outputs averaged by the pool: a linear map of the
features, so dividing that conv's kernel and bias by T divides the logits by T exactly, and
the exported graph (and its int8 path) stays as it was. T is fitted per head on the
validation split (notsure.fit_temperature); ECE before and after is recorded on val and test.
"""
from __future__ import annotations

from pipeline.core import notsure
from pipeline.core.heads import Heads


def conv10(net, head_name: str):
    """The head's last conv, found by its name (backbones name it `<head>_conv10`)."""
    return net.get_layer(f"{head_name}_conv10")


def fold_temperature(net, head_name: str, temperature: float) -> None:
    layer = conv10(net, head_name)
    layer.set_weights([w / temperature for w in layer.get_weights()])


def calibrate(net, heads: Heads, scored: dict) -> dict:
    """Fit and fold one temperature per head. scored: {split: (labels [N, H], probs)} of the
    uncalibrated model, with "val" among them. Returns {head: {temperature, ece_before/after
    per split}}."""
    labels, probs = scored["val"]
    report = {}
    for i, head in enumerate(heads):
        t = notsure.fit_temperature(probs[head.name], labels[:, i])
        fold_temperature(net, head.name, t)
        report[head.name] = {"temperature": round(t, 4), **{
            f"ece_{when}_{split}": notsure.ece(p if when == "before" else
                                               notsure.tempered(p, t), y[:, i])
            for split, (y, probs_split) in scored.items()
            for p in [probs_split[head.name]] for when in ("before", "after")}}
    return report
