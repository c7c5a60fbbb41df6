"""TFLite conversion of every variant, the checks that gate the export, and model.json.

The one place that converts models. Each variant is converted through a batch-1 `tf.function`
that returns a dict keyed by head name, so the signature's outputs carry the real head names
(not `quant_<name>`, not an arbitrary order). model.json is written from what the LiteRT
interpreter reports about each file, not from what we asked the converter for; each file also
carries its own standard TFLite metadata (export/metadata.py): a bare .tflite describes itself.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.core.errors import PipelineError
from pipeline.core.heads import Heads
from pipeline.core.images import normalize
from pipeline.core.labels import write_bytes
from pipeline.core.config import DEFAULT_NORMALIZATION
from pipeline.export import metadata
from pipeline.core.runs import write_json
from pipeline.core.tfcompat import tf as get_tf

INPUT_NAME = "image"
SIGNATURE = "serving_default"
VARIANTS = {"float32": "model_float32.tflite", "dynamic": "model_dynamic.tflite",
            "int8_ptq": "model_int8_ptq.tflite", "int8": "model_int8.tflite"}
DEFAULT_VARIANT = "int8"
# Which Keras model each variant is compared against.
SOURCES = {"float32": "float", "dynamic": "float", "int8_ptq": "float", "int8": "qat"}
MAX_FLOAT_DIFF = 1e-4  # float32 .tflite vs Keras: same maths, only op-order rounding
MIN_INT8_AGREEMENT = 0.98  # QAT int8 .tflite vs the QAT Keras model, arg-max, per head
# Below this many test images one flipped near-tie already breaks 98%: the agreement is then
# reported and warned about, not gated (tiny test runs would fail at random otherwise).
MIN_GATED_IMAGES = 50


class ExportError(PipelineError):
    """A converted file failed a check; the export stage is not published."""


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


def _quantization(detail: dict) -> dict | None:
    scale, zero_point = detail["quantization"]
    if not scale:
        return None
    return {"scale": float(scale), "zero_point": int(zero_point)}


def raw_pixels(input_entry: dict) -> bool:
    """True when feeding camera bytes as they are equals normalize-then-quantize exactly."""
    quant = input_entry.get("quantization")
    if input_entry["dtype"] != "uint8" or not quant:
        return False
    norm, pixels = input_entry["normalization"], np.arange(256, dtype=np.float64)
    for mean, std in zip(norm["mean"], norm["std"]):
        q = np.round((pixels - mean) / std / quant["scale"] + quant["zero_point"])
        if not np.array_equal(q, pixels):
            return False
    return True


def signature_details(content: bytes) -> tuple[dict, dict, dict]:
    """(signature list, input details, output details) of serving_default, as LiteRT sees it."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=content)
    runner = interpreter.get_signature_runner(SIGNATURE)
    return (interpreter.get_signature_list(), runner.get_input_details(),
            runner.get_output_details())


def check_signature(content: bytes, heads: Heads, image_size: int, input_dtype: str,
                    name: str = "model") -> None:
    """One signature, input `image` of batch 1, outputs exactly the head names, float32."""
    signatures, inputs, outputs = signature_details(content)
    problems = []
    if list(signatures) != [SIGNATURE]:
        problems.append(f"signatures {list(signatures)}, expected [{SIGNATURE!r}]")
    if list(inputs) != [INPUT_NAME]:
        problems.append(f"inputs {list(inputs)}, expected [{INPUT_NAME!r}]")
    else:
        detail = inputs[INPUT_NAME]
        if list(detail["shape"]) != [1, image_size, image_size, 3]:
            problems.append(f"input shape {list(detail['shape'])}")
        if np.dtype(detail["dtype"]).name != input_dtype:
            problems.append(f"input dtype {np.dtype(detail['dtype']).name}, expected {input_dtype}")
    if sorted(outputs) != sorted(heads.names):
        problems.append(f"outputs {sorted(outputs)}, expected {sorted(heads.names)}")
    for head in heads:
        detail = outputs.get(head.name)
        if detail is not None and list(detail["shape"]) != [1, head.num_classes]:
            problems.append(f"output {head.name} shape {list(detail['shape'])}")
        if detail is not None and np.dtype(detail["dtype"]).name != "float32":
            problems.append(f"output {head.name} dtype {np.dtype(detail['dtype']).name}")
    if problems:
        raise ExportError(f"{name}: signature check failed: {'; '.join(problems)}")


def describe(content: bytes, file: str, heads: Heads, normalization: dict) -> dict:
    """The model.json entry of one variant, read back from the converted file."""
    _, inputs, outputs = signature_details(content)
    detail = inputs[INPUT_NAME]
    entry_input = {"name": INPUT_NAME, "dtype": np.dtype(detail["dtype"]).name,
                   "shape": [int(v) for v in detail["shape"]],
                   "quantization": _quantization(detail), "normalization": normalization}
    entry_input["raw_pixels"] = raw_pixels(entry_input)
    return {"file": file, "signature": SIGNATURE, "input": entry_input,
            "outputs": {h.name: {"dtype": np.dtype(outputs[h.name]["dtype"]).name,
                                 "shape": [int(v) for v in outputs[h.name]["shape"]],
                                 "quantization": _quantization(outputs[h.name]),
                                 "labels": list(h.classes)} for h in heads}}


def model_spec(heads: Heads, image_size: int, variants: dict) -> dict:
    """The whole model.json. `tasks` keeps the label-file column order and short names."""
    return {"heads": heads.labels_by_name(),
            "tasks": [{"name": h.name, "short": h.short} for h in heads],
            "image_size": image_size, "default": DEFAULT_VARIANT, "variants": variants}


def convert_all(float_model, qat_model, heads: Heads, image_size: int,
                calibration: np.ndarray, normalization: dict) -> dict[str, bytes]:
    """Every variant's bytes, converted from its source model."""
    return {
        "float32": convert_float32(float_model, heads, image_size),
        "dynamic": convert_dynamic(float_model, heads, image_size),
        "int8_ptq": convert_int8(float_model, heads, image_size, calibration, normalization),
        "int8": convert_int8(qat_model, heads, image_size, calibration, normalization),
    }


def write_variants(out_dir: Path, contents: dict[str, bytes], heads: Heads, image_size: int,
                   normalization: dict) -> dict:
    """Check each signature, embed the metadata, write the .tflite files and model.json."""
    out_dir = Path(out_dir)
    variants = {}
    for key, content in contents.items():
        input_dtype = "uint8" if key.startswith("int8") else "float32"
        check_signature(content, heads, image_size, input_dtype, name=VARIANTS[key])
        entry = describe(content, VARIANTS[key], heads, normalization)
        # The packed model.json lists this variant only, and no size: a file cannot hold its own.
        own = {**model_spec(heads, image_size, {key: entry}), "default": key}
        content = metadata.embed_variant(key, content, own, heads, normalization, VARIANTS[key])
        write_bytes(out_dir / VARIANTS[key], content)  # a full disk names the file
        variants[key] = {**entry, "size_bytes": len(content)}
    spec = model_spec(heads, image_size, variants)
    write_json(out_dir / "model.json", spec)
    return spec


def keras_probs(model, heads: Heads, pixels: np.ndarray, normalization: dict) -> dict:
    """The Keras model's probabilities on the same pixels the .tflite files see."""
    out = model.predict(normalize(pixels, normalization), batch_size=32, verbose=0)
    return {name: np.asarray(out[name], dtype=np.float32) for name in heads.names}


def compare(heads: Heads, probs: dict, reference: dict) -> dict:
    """Arg-max agreement per head and the largest probability difference."""
    agreement = {n: float(np.mean(probs[n].argmax(1) == reference[n].argmax(1)))
                 for n in heads.names}
    diff = max(float(np.max(np.abs(probs[n] - reference[n]))) for n in heads.names)
    return {"agreement": agreement, "max_abs_diff": diff}


def score_variants(out_dir: Path, spec: dict, heads: Heads, pixels: np.ndarray,
                   labels: np.ndarray, references: dict) -> dict:
    """Each variant run through LiteRT on the test images, as every consumer will run it."""
    from pipeline.deploy.evaluate import predict
    from pipeline.core.metrics import head_metrics
    from pipeline.deploy.runtime import TFLiteModel

    results = {}
    for key, entry in spec["variants"].items():
        probs = predict(TFLiteModel(Path(out_dir) / entry["file"]), pixels)
        test = head_metrics(heads, labels, probs)
        results[key] = {"accuracy": {n: test[n]["accuracy"] for n in heads.names},
                        "joint_accuracy": test["joint_accuracy"], "source": SOURCES[key],
                        **compare(heads, probs, references[SOURCES[key]]),
                        "size_bytes": entry["size_bytes"], "test": test}
    return results


def gate(results: dict, heads: Heads, n_images: int) -> tuple[list[str], list[str]]:
    """(failures, warnings): float32 parity, and QAT int8 agreement where n_images can judge it."""
    failures, warnings = [], []
    diff = results["float32"]["max_abs_diff"]
    if diff > MAX_FLOAT_DIFF:
        failures.append(f"float32 differs from Keras by {diff:.2e} (limit {MAX_FLOAT_DIFF:.0e})")
    for name, value in results["int8"]["agreement"].items():
        if value >= MIN_INT8_AGREEMENT:
            continue
        message = (f"int8 agrees with the QAT Keras model on {value:.1%} of {name} "
                   f"(limit {MIN_INT8_AGREEMENT:.0%})")
        if n_images >= MIN_GATED_IMAGES:
            failures.append(message)
        else:
            warnings.append(f"{message}, on only {n_images} test images "
                            f"(gated from {MIN_GATED_IMAGES})")
    return failures, warnings


def _pct(value) -> str:
    return "   -  " if value is None else f"{100 * value:6.2f}"


def format_table(results: dict, heads: Heads) -> str:
    columns = "".join(f"{n[:14]:>15}" for n in heads.names)
    lines = [f"{'variant':<10}{'KB':>8}{columns}{'joint':>8}   agreement (vs source)  max|dp|"]
    for key, r in results.items():
        accs = "".join(f"{_pct(r['accuracy'][n]):>15}" for n in heads.names)
        agree = "/".join(f"{100 * r['agreement'][n]:.1f}" for n in heads.names)
        lines.append(f"{key:<10}{r['size_bytes'] / 1024:8.0f}{accs}{_pct(r['joint_accuracy']):>8}"
                     f"   {agree:<12} ({r['source']:<5})  {r['max_abs_diff']:.1e}")
    return "\n".join(lines)


def export(out_dir: Path, float_model, qat_model, heads: Heads, image_size: int,
           normalization: dict, calibration: np.ndarray, test: tuple) -> dict:
    """Convert, check, score and write export/ (model.json, metrics.json, four .tflite).

    test: (uint8 pixels [N, S, S, 3], labels [N, H]). Raises ExportError if a check fails.
    """
    contents = convert_all(float_model, qat_model, heads, image_size, calibration, normalization)
    spec = write_variants(out_dir, contents, heads, image_size, normalization)
    pixels, labels = test
    references = {"float": keras_probs(float_model, heads, pixels, normalization),
                  "qat": keras_probs(qat_model, heads, pixels, normalization)}
    results = score_variants(out_dir, spec, heads, pixels, labels, references)
    sizes = {k: r["size_bytes"] for k, r in results.items()}
    metrics = {"variants": results, "n_test": int(len(labels)),
               "size_ratio_int8_to_float32": sizes["int8"] / sizes["float32"]}
    write_json(Path(out_dir) / "metrics.json", metrics)
    print(format_table(results, heads))
    print(f"model_int8.tflite is {metrics['size_ratio_int8_to_float32']:.3f}x the size of "
          "model_float32.tflite")
    failures, warnings = gate(results, heads, len(labels))
    for warning in warnings:
        print(f"warning: {warning}")
    if failures:
        raise ExportError("export check failed: " + "; ".join(failures))
    return metrics
