"""`regression`: one number per photo (a size, an age, a price), in the head's `unit`.

A label cell is a decimal number, `nan` for unknown. Training standardizes the targets with
the training split's mean and standard deviation (recorded in the run's labels.json and in
model.json as `center` and `scale`): the branch predicts a standardized value and a fixed,
non-trainable Dense layer (weight = scale, bias = center) turns it into the unit, so the
exported file outputs the number itself and no reader needs the statistics. The loss is
Huber (delta 1 standard deviation; `"loss": "mse"` in heads.json for squared error) on the
standardized error; scores are MAE and RMSE in the unit. There is no "not sure" and no labels
file: MediaPipe's ImageClassifier cannot read a regression output (read it with LiteRT).
"""
from __future__ import annotations

import math

import numpy as np

from pipeline.core.errors import PipelineError
from pipeline.heads.kinds.base import Kind

LOSSES = ("huber", "mse")
AGREEMENT_STD = 0.1  # two outputs "agree" within this many training standard deviations
MAX_UNIT = 20


class Regression(Kind):
    name = "regression"
    has_classes = False
    mediapipe = False
    metric = "mae"
    missing = math.nan
    dtype = "float64"
    # unit: what the number is in; loss: huber or mse; center, scale: the training targets'
    # mean and standard deviation (set by train)
    params = {"unit": "", "loss": "huber", "center": 0.0, "scale": 1.0}
    fitted_params = ("center", "scale")

    def check_entry(self, entry, where):
        if "classes" in entry:
            return "a regression head has no classes (it answers one number)"
        if "minus_one" in entry:
            return "minus_one applies to classification heads (a regression cell says nan)"
        unit = entry.get("unit", "")
        if not isinstance(unit, str) or len(unit) > MAX_UNIT or not unit.isprintable() \
                or "," in unit:
            return f"unit {unit!r} must be a short text (at most {MAX_UNIT} characters)"
        if entry.get("loss", "huber") not in LOSSES:
            return f"loss {entry.get('loss')!r} must be one of {', '.join(LOSSES)}"
        return None

    def parse_params(self, entry, where):
        values = {k: entry[k] for k in self.params if k in entry and k not in self.fitted_params}
        for key in self.fitted_params:  # a run's labels.json; absent in a dataset's heads.json
            if key in entry:
                value = entry[key]
                if not isinstance(value, (int, float)) or isinstance(value, bool) \
                        or not math.isfinite(value) or (key == "scale" and value <= 0):
                    raise PipelineError(f"{where} ({entry.get('name')}): {key} {value!r} is "
                                        "not a valid number")
                values[key] = float(value)
        return values

    def fitted(self, head, values):
        values = np.array(values, dtype=np.float64)
        values = values[~np.isnan(values)]
        center = float(values.mean()) if len(values) else 0.0
        scale = float(values.std()) if len(values) > 1 else 0.0
        return head.with_params(center=center, scale=scale if scale > 0 else 1.0)

    def value_scale(self, head):
        return head.param("scale")

    def values_text(self, head):
        unit = head.param("unit")
        return f"one number{' in ' + unit if unit else ''}"

    def shown(self, head):
        return {"unit": head.param("unit")} if head.param("unit") else {}

    def parse_cell(self, field, head):
        try:
            value = float(field)
        except ValueError:
            return f"{head.short} value {field!r} is not a number (nan for unknown)"
        if math.isinf(value):
            return f"{head.short} value {field!r} is not a finite number"
        return value

    def format_cell(self, value):
        return "nan" if math.isnan(value) else repr(float(value))

    def is_missing(self, value):
        return math.isnan(value)

    def none_value(self):
        return math.nan  # a photo of none of the classes has no value: unknown

    def counts_key(self, value, head):
        return ["unknown" if math.isnan(value) else "value"]

    def count_columns(self, head):
        return ["value", "unknown"]

    def encode(self, value, head):
        return [float(value)]

    def known(self, block):
        return ~np.isnan(np.asarray(block, dtype=np.float64).reshape(-1))

    def output_size(self, head):
        return 1

    def output_description(self, head, threshold):
        unit = head.param("unit")
        unit = f" in {unit}" if unit else ""
        return f"{head.name}: one number{unit} (regression)"

    def agreement(self, a, b, head):
        """Within a tenth of the training targets' standard deviation (scale)."""
        return np.abs(np.asarray(a) - np.asarray(b)).reshape(len(a), -1).max(axis=1) <= \
            AGREEMENT_STD * head.param("scale")

    def units(self, head):
        return 1

    def output(self, logits, head):
        from pipeline.core.tfcompat import keras

        k = keras()
        const = k.initializers.Constant
        return k.layers.Dense(1, trainable=False, name=head.name,
                              kernel_initializer=const(head.param("scale")),
                              bias_initializer=const(head.param("center")))(logits)

    def loss(self, y, out, head, none_weight):
        from pipeline.core.tfcompat import tf

        t = tf()
        y = t.cast(t.reshape(y, [-1]), t.float32)
        mask = t.cast(t.logical_not(t.math.is_nan(y)), t.float32)
        value = t.reshape(out, [-1])
        error = (value - t.where(mask > 0, y, value)) / head.param("scale")  # 0 where unknown
        if head.param("loss") == "mse":
            per_image = t.square(error)
        else:
            a = t.abs(error)
            per_image = t.where(a <= 1.0, 0.5 * t.square(error), a - 0.5)
        return per_image * mask, mask

    def hits(self, y, out, head):
        from pipeline.core.tfcompat import tf

        t = tf()
        y = t.cast(t.reshape(y, [-1]), t.float32)
        mask = t.cast(t.logical_not(t.math.is_nan(y)), t.float32)
        value = t.reshape(out, [-1])
        return t.abs(value - t.where(mask > 0, y, value)), mask

    def metrics(self, block, scores, head, threshold):
        truth = np.asarray(block, dtype=np.float64).reshape(-1)
        value = np.asarray(scores, dtype=np.float64).reshape(-1)
        known = ~np.isnan(truth)
        error = value[known] - truth[known]
        n = int(known.sum())
        return {"kind": self.name, "n": n, "unit": head.param("unit"), "accuracy": None,
                "mae": float(np.abs(error).mean()) if n else None,
                "rmse": float(np.sqrt((error ** 2).mean())) if n else None,
                "target_std": float(truth[known].std()) if n else None}

    def answer(self, scores, head, threshold):
        return {"value": round(float(np.asarray(scores).reshape(-1)[0]), 6),
                "unit": head.param("unit")}

    def describe(self, answer, head):
        return f"{answer['value']:.4g}{' ' + answer['unit'] if answer['unit'] else ''}"

    def summary(self, m):
        if not m["n"]:
            return "no labelled images"
        unit = f" {m['unit']}" if m["unit"] else ""
        return (f"MAE {m['mae']:.4g}{unit}, RMSE {m['rmse']:.4g}{unit} on {m['n']} "
                f"(target spread {m['target_std']:.4g}{unit})")


KIND = Regression()
