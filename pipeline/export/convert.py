"""TFLite conversion: the one place that turns a Keras model into .tflite bytes.

Each variant is converted through a batch-1 `tf.function` that returns a dict keyed by head
name, so the signature's outputs carry the real head names (not `quant_<name>`, not an
arbitrary order). Which variants exist, and each one's converter settings, is
modelfile/variants.py; `convert` applies the settings.
"""
from __future__ import annotations

import numpy as np

from pipeline.core.config import DEFAULT_NORMALIZATION
from pipeline.heads.schema import Heads
from pipeline.data.images import normalize
from pipeline.core.tfcompat import tf as get_tf
from pipeline.modelfile.spec import INPUT_NAME
from pipeline.modelfile.variants import VARIANTS, Conversion


def serving_function(model, heads: Heads, image_size: int):
    """Batch 1 (LiteRT.js refuses a dynamic batch) and outputs keyed by head name."""
    tf = get_tf()
    spec = tf.TensorSpec([1, image_size, image_size, 3], tf.float32, name=INPUT_NAME)

    @tf.function(input_signature=[spec])
    def serve(image):
        out = model(image, training=False)
        # Keyed by head name, not by the model's output_names (QAT renames those quant_*).
        return {name: out[name] for name in heads.names}

    return serve


def _converter(model, heads: Heads, image_size: int):
    tf = get_tf()
    concrete = serving_function(model, heads, image_size).get_concrete_function()
    # The converter saves its trackable as a SavedModel to keep the signature. Handing it the
    # Keras model makes that save re-trace every layer (~6x the whole conversion time); a bare
    # module holding just the captured variables keeps the signature at a fraction of the cost.
    holder = tf.Module()
    holder.captured = list(concrete.variables)
    return tf.lite.TFLiteConverter.from_concrete_functions([concrete], holder)


def convert(model, heads: Heads, image_size: int, conversion: Conversion,
            representative_images: np.ndarray | None = None,
            normalization: dict | None = None) -> bytes:
    """The .tflite bytes of a model under one registry entry's converter settings.

    representative_images (full-integer only): uint8 [N, S, S, 3] pixels, ~100-300 training
    images, normalized here (default: the model builder's (pixel - 128) / 128). Works for a
    float model (post-training quantization, calibrated on the images) and for a QAT model
    (its own fake-quant ranges win; the images cover ops without one).
    """
    tf = get_tf()
    if conversion.full_integer:  # checked before the (slow) tracing
        data = _calibration_data(representative_images, normalization)
    converter = _converter(model, heads, image_size)
    if conversion.optimize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if conversion.supported_types:
        converter.target_spec.supported_types = [getattr(tf, t)
                                                 for t in conversion.supported_types]
    if conversion.full_integer:
        converter.representative_dataset = lambda: ([x[None]] for x in data)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if conversion.input_type != "float32":
        converter.inference_input_type = getattr(tf, conversion.input_type)
    return converter.convert()


def _calibration_data(representative_images, normalization: dict | None) -> np.ndarray:
    if representative_images is None:
        raise ValueError("a full-integer conversion needs representative_images")
    representative_images = np.asarray(representative_images)
    if representative_images.dtype != np.uint8:
        # Normalizing twice would calibrate on the wrong range without any error.
        raise ValueError("representative_images must be uint8 pixels (0..255), got "
                         f"{representative_images.dtype}")
    return normalize(representative_images, normalization or DEFAULT_NORMALIZATION)


def convert_all(models: dict, heads: Heads, image_size: int, calibration: np.ndarray,
                normalization: dict, variants=VARIANTS) -> dict[str, bytes]:
    """Each variant's bytes (default: every registered one), converted from its source model
    ({"float", "qat"})."""
    return {v.key: convert(models[v.source], heads, image_size, v.conversion, calibration,
                           normalization) for v in variants}
