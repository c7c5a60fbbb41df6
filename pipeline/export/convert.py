"""TFLite conversion: the one place that turns a Keras model into .tflite bytes.

Each variant is converted through a batch-1 `tf.function` that returns a dict keyed by head
name, so the signature's outputs carry the real head names (not `quant_<name>`, not an
arbitrary order). Which variants exist is export/variants.py; each names a recipe here.
"""
from __future__ import annotations

import numpy as np

from pipeline.core.config import DEFAULT_NORMALIZATION
from pipeline.core.heads import Heads
from pipeline.core.images import normalize
from pipeline.core.tfcompat import tf as get_tf
from pipeline.export.spec import INPUT_NAME
from pipeline.export.variants import VARIANTS


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


def convert_float32(model, heads: Heads, image_size: int) -> bytes:
    return _converter(model, heads, image_size).convert()


def convert_dynamic(model, heads: Heads, image_size: int) -> bytes:
    """Int8 weights, float activations: no calibration data needed."""
    converter = _converter(model, heads, image_size)
    converter.optimizations = [get_tf().lite.Optimize.DEFAULT]
    return converter.convert()


def convert_int8(model, heads: Heads, image_size: int, representative_images: np.ndarray,
                 normalization: dict | None = None) -> bytes:
    """Full-integer model with a uint8 input and float32 outputs.

    Works for a float model (post-training quantization, calibrated on the images) and for a
    QAT model (its own fake-quant ranges win; the images cover ops without one).
    representative_images: uint8 [N, S, S, 3] pixels, ~100-300 training images; they are
    normalized here (default: the model builder's (pixel - 128) / 128).
    uint8 input, not int8: LiteRT.js has no int8 tensors. Float32 outputs: every client reads
    probabilities directly, and the final dequantize costs nothing.
    """
    tf = get_tf()
    representative_images = np.asarray(representative_images)
    if representative_images.dtype != np.uint8:
        # Normalizing twice would calibrate on the wrong range without any error.
        raise ValueError("representative_images must be uint8 pixels (0..255), got "
                         f"{representative_images.dtype}")
    data = normalize(representative_images, normalization or DEFAULT_NORMALIZATION)
    converter = _converter(model, heads, image_size)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([x[None]] for x in data)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    return converter.convert()


RECIPES = {"float32": lambda model, heads, size, calibration, norm: convert_float32(model, heads, size),
           "dynamic": lambda model, heads, size, calibration, norm: convert_dynamic(model, heads, size),
           "int8": convert_int8}


def convert_all(models: dict, heads: Heads, image_size: int, calibration: np.ndarray,
                normalization: dict) -> dict[str, bytes]:
    """Every registered variant's bytes, converted from its source model ({"float", "qat"})."""
    return {v.key: RECIPES[v.recipe](models[v.source], heads, image_size, calibration,
                                     normalization) for v in VARIANTS}
