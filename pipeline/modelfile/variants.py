"""The registry of exported variants: every stage that names a variant reads it from here.

Adding a variant is one entry: the export converts it (its converter settings are data here,
applied by convert.py), checks, scores and describes it; `pipeline export --variants`,
`pipeline android --variant`, the benchmark, the report and the client checks list it.
Data only (no TensorFlow): the report and the deploy side import it.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Conversion:
    """TFLiteConverter settings, as data; export/convert.py applies them, in this order."""
    optimize: bool = False  # converter.optimizations = [tf.lite.Optimize.DEFAULT]
    # converter.target_spec.supported_types, as tf dtype names: ("float16",) stores float16
    # weights; with optimize and nothing here, weights are int8 (dynamic range)
    supported_types: tuple[str, ...] = ()
    # full-integer: a representative dataset of training images, builtin int8 ops only
    full_integer: bool = False
    input_type: str = "float32"  # converter.inference_input_type, the file's input dtype


FLOAT32 = Conversion()
DYNAMIC_RANGE = Conversion(optimize=True)
# uint8 input, not int8: LiteRT.js has no int8 tensors; outputs stay float32 (dequantized).
FULL_INT8 = Conversion(optimize=True, full_integer=True, input_type="uint8")
# float16 weights, float32 input, outputs and arithmetic on CPU (LiteRT dequantizes the
# weights at load); what GPU delegates run in half precision.
FLOAT16 = Conversion(optimize=True, supported_types=("float16",))


@dataclass(frozen=True)
class ExportVariant:
    key: str  # model.json "variants" key and metrics.json key
    file: str  # file name in export/
    conversion: Conversion
    source: str  # the Keras model converted and compared with: "float" or "qat"
    bench_key: str  # benchmark/results.json key
    label: str  # what people call it
    # float32 or int8: which practical peak (a large fully-connected model's GMAC/s) the
    # benchmark holds it against; dynamic range quantizes activations on the fly and runs
    # int8 GEMMs
    arithmetic: str
    # the client checks run MediaPipe Tasks' ImageClassifier on it: float input, or a uint8
    # input that takes the raw pixels (MediaPipe feeds uint8 inputs the bytes unnormalized)
    mediapipe: bool = False

    @property
    def input_dtype(self) -> str:
        return self.conversion.input_type


VARIANTS = (
    ExportVariant("float32", "model_float32.tflite", FLOAT32, "float", "tflite_float32",
                  "TFLite float32", "float32", mediapipe=True),
    ExportVariant("dynamic", "model_dynamic.tflite", DYNAMIC_RANGE, "float", "tflite_dynamic",
                  "TFLite dynamic range", "int8"),
    ExportVariant("int8_ptq", "model_int8_ptq.tflite", FULL_INT8, "float", "tflite_int8_ptq",
                  "TFLite int8 PTQ", "int8"),
    ExportVariant("int8", "model_int8.tflite", FULL_INT8, "qat", "tflite_int8_qat",
                  "TFLite int8 QAT", "int8", mediapipe=True),
    ExportVariant("float16", "model_float16.tflite", FLOAT16, "float", "tflite_float16",
                  "TFLite float16", "float32", mediapipe=True),
)
BY_KEY = {v.key: v for v in VARIANTS}
BY_BENCH_KEY = {v.bench_key: v for v in VARIANTS}
DEFAULT = "int8"  # what predict, evaluate and android use unless told otherwise
REFERENCE = "float32"  # the variant held to Keras float: others' agreement is measured on it
# benchmark/results.json keys of the two rows that are not exported variants (the benchmark
# writes them, the report reads them): the Keras model, and two single-task int8 models.
BENCH_KERAS, BENCH_PAIR = "keras_float", "two_single_task_int8"


def select(names: list[str] | None) -> tuple[ExportVariant, ...]:
    """The registered variants named (None: all), in the registry's order; an unknown name is
    a one-line error naming it."""
    from pipeline.core.errors import PipelineError

    if names is None:
        return VARIANTS
    unknown = [n for n in names if n not in BY_KEY]
    if unknown:
        raise PipelineError(f"--variants: unknown variant {unknown[0]!r} (registered: "
                            f"{', '.join(BY_KEY)})")
    if not names:
        raise PipelineError("--variants: name at least one variant (registered: "
                            f"{', '.join(BY_KEY)})")
    return tuple(v for v in VARIANTS if v.key in names)


def lead(keys) -> str:
    """The variant a set of exported ones is described by: DEFAULT if there, else the first."""
    keys = list(keys)
    return DEFAULT if DEFAULT in keys else keys[0]
