"""The registry of exported variants: every stage that names a variant reads it from here.

Adding a variant is one entry: the export converts, checks, scores and describes it, the
benchmark times it, the report shows it. A new conversion recipe also needs its function in
convert.RECIPES. Data only (no TensorFlow): the report and the deploy side import it.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExportVariant:
    key: str  # model.json "variants" key and metrics.json key
    file: str  # file name in export/
    recipe: str  # convert.RECIPES: float32 | dynamic | int8
    source: str  # the Keras model converted and compared with: "float" or "qat"
    bench_key: str  # benchmark/results.json key
    label: str  # what people call it

    @property
    def input_dtype(self) -> str:
        return "uint8" if self.recipe == "int8" else "float32"

    @property
    def arithmetic(self) -> str:
        """float32 or int8: which practical peak the benchmark holds it against (dynamic
        range quantizes activations on the fly and runs int8 GEMMs)."""
        return "float32" if self.recipe == "float32" else "int8"


VARIANTS = (
    ExportVariant("float32", "model_float32.tflite", "float32", "float", "tflite_float32",
                  "TFLite float32"),
    ExportVariant("dynamic", "model_dynamic.tflite", "dynamic", "float", "tflite_dynamic",
                  "TFLite dynamic range"),
    ExportVariant("int8_ptq", "model_int8_ptq.tflite", "int8", "float", "tflite_int8_ptq",
                  "TFLite int8 PTQ"),
    ExportVariant("int8", "model_int8.tflite", "int8", "qat", "tflite_int8_qat",
                  "TFLite int8 QAT"),
)
BY_KEY = {v.key: v for v in VARIANTS}
BY_BENCH_KEY = {v.bench_key: v for v in VARIANTS}
DEFAULT = "int8"  # what predict, evaluate and android use unless told otherwise
REFERENCE = "float32"  # the variant held to Keras float: others' agreement is measured on it
# benchmark/results.json keys of the two rows that are not exported variants (the benchmark
# writes them, the report reads them): the Keras model, and two single-task int8 models.
BENCH_KERAS, BENCH_PAIR = "keras_float", "two_single_task_int8"
