"""Temperature scaling of a trained model, folded into its weights (no new layer, no op).

Each head's logits (its classes and "none of these") are its `<head>_conv10` outputs averaged
by the pool: a linear map of the features, so dividing that conv's kernel and bias by T
divides the logits by T exactly, and the exported graph (and its int8 path) stays as it was. T is fitted per head on the
validation split (notsure.fit_temperature); ECE before and after is recorded on val and test.

QAT fine-tuning sharpens the scores again (on the real photos the val NLL of the QAT model
wants T = 1.3-1.4 on top of the trained one), so `pipeline quantize` calibrates the QAT model
once more before conversion (recalibrate_qat): a temperature and a bias on the "none" logit,
folded into the QAT-wrapped conv10 together with the quantizers' stored ranges, so that the
int8 file computes the calibrated logits on the same integer grid.
"""
from __future__ import annotations

import numpy as np

from pipeline.data.images import normalize

from pipeline.heads import notsure
from pipeline.heads.schema import NONE, Heads
from pipeline.training.backbones import logits_layer


def conv10(net, head_name: str):
    """The head's last linear layer, named by the backbone contract (LOGITS_LAYER)."""
    return net.get_layer(logits_layer(head_name))


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
        if not head.impl.calibrated:
            continue
        t = notsure.fit_temperature(*with_none(probs[head.name], heads.block(labels, i)))
        fold_temperature(net, head.name, t)
        entry = {"temperature": round(t, 4)}
        for split, (y, split_probs) in scored.items():
            p, truth = split_probs[head.name], heads.block(y, i)
            after = notsure.tempered(with_none(p, truth)[0], t)[:, :head.num_classes]
            entry[f"ece_before_{split}"] = notsure.ece(p, truth)
            entry[f"ece_after_{split}"] = notsure.ece(after, truth)
        report[head.name] = entry
    return report


def describe(report: dict) -> str:
    """One line: each head's temperature and its ECE on test before -> after."""
    def fmt(value):
        return "-" if value is None else f"{value:.3f}"

    def bias(c):
        return f" none bias {c['none_bias']:+.2f}" if "none_bias" in c else ""

    return "calibration (temperature; ECE on test before -> after): " + "; ".join(
        f"{name} T={c['temperature']:.3f}{bias(c)} {fmt(c.get('ece_before_test'))} -> "
        f"{fmt(c.get('ece_after_test'))}" for name, c in report.items())


# ---- after QAT: fold T and a "none" bias into the QAT-wrapped conv10 --------------------

def _variables(layer) -> dict:
    """A QAT wrapper's variables by short name: kernel, bias, kernel_min, output_max, ..."""
    return {v.name.split("/")[-1].split(":")[0]: v for v in layer.weights}


def _shift_range(found: dict, lo: str, hi: str, temperature: float, shift: np.ndarray) -> None:
    """An activation range after logits -> logits / T + shift: scaled like the values, and
    widened by the shift (kept around 0, as tfmot's ranges are), so nothing is clipped that
    was not clipped before."""
    found[lo].assign(min(0.0, float(found[lo].numpy()) / temperature + float(shift.min())))
    found[hi].assign(max(0.0, float(found[hi].numpy()) / temperature + float(shift.max())))


def fold_qat(qat, head_name: str, temperature: float, none_bias: float = 0.0) -> None:
    """logits -> logits / T + none_bias on the "none" logit, in the QAT model.

    The wrapper's weight quantizer keeps the kernel's per-channel min/max in variables that
    inference and the converter use (it refreshes them only in training): scaled by 1/T with
    the kernel, the int8 kernel is the same integers at 1/T the scale. The conv's output and
    the pool's output ranges move with the logits; the bias stays float (int32 in the file)."""
    conv = _variables(qat.get_layer(f"quant_{logits_layer(head_name)}"))
    shift = np.zeros(conv["bias"].shape[0])
    shift[-1] = none_bias
    conv["kernel"].assign(conv["kernel"].numpy() / temperature)
    conv["bias"].assign(conv["bias"].numpy() / temperature + shift)
    for name in ("kernel_min", "kernel_max"):
        conv[name].assign(conv[name].numpy() / temperature)
    _shift_range(conv, "post_activation_min", "post_activation_max", temperature, shift)
    pool = _variables(qat.get_layer(f"quant_{head_name}_pool"))
    _shift_range(pool, "output_min", "output_max", temperature, shift)


def qat_scores(qat, heads: Heads, pixels: np.ndarray, normalization: dict) -> tuple:
    """({head: whole softmax [N, classes + 1] of its logits}, {head: its output}) of the QAT
    model. The fit reads the logits (the pool's output): the head's output drops "none" and
    is fake-quantized coarsely. ECE is measured on the output, as an app reads it."""
    from pipeline.core.tfcompat import keras

    layers = [f"quant_{h.name}_pool" for h in heads] + [f"quant_{h.name}" for h in heads]
    probe = keras().Model(qat.inputs, [qat.get_layer(n).output for n in layers])
    out = [np.asarray(o, dtype=np.float64) for o in probe.predict(
        normalize(pixels, normalization), batch_size=32, verbose=0)]
    return ({h.name: _softmax(z) for h, z in zip(heads, out)},
            {h.name: p for h, p in zip(heads, out[len(heads):])})


def _softmax(z: np.ndarray) -> np.ndarray:
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def recalibrate_qat(qat, heads: Heads, arrays: dict, normalization: dict) -> dict:
    """Fit (T, none bias) per head by NLL on the QAT model's val logits and fold them.
    arrays: {split: (uint8 pixels, labels [N, H])}, "val" among them. Returns {head:
    {temperature, none_bias, ECE of the QAT Keras model's output before, per split}}."""
    softmax = Heads(tuple(h for h in heads if h.impl.calibrated))
    if not len(softmax):
        return {}
    scored = {split: qat_scores(qat, softmax, pixels, normalization)
              for split, (pixels, _) in arrays.items()}
    report = {}
    for i, head in enumerate(heads):
        if not head.impl.calibrated:
            continue
        full, truth = scored["val"][0][head.name], heads.block(arrays["val"][1], i)
        t, b = notsure.fit_temperature_none(full, np.where(truth == NONE, head.num_classes,
                                                           truth).astype(np.int64))
        fold_qat(qat, head.name, t, b)
        report[head.name] = {"temperature": round(t, 4), "none_bias": round(b, 4), **{
            f"ece_before_{split}": notsure.ece(scored[split][1][head.name],
                                               heads.block(arrays[split][1], i))
            for split in scored}}
    return report
