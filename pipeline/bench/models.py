"""The models the benchmark builds itself, and what it counts on them (parent process, TF).

- the article's alternative: one single-task int8 model per head, same architecture, calibrated
  on real training images (their weights do not change latency, memory or size);
- the processor's practical peak: a large fully-connected model in float32 and int8, run through
  the same runtime, so each variant's GMAC/s can be read as a share of what is reachable;
- multiply-accumulates counted from the Keras layers, and per-head accuracy.
Each generated .tflite gets a model.json beside it, so the worker loads it like an export.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pipeline.heads.schema import Heads
from pipeline.training.model import ModelConfig, build_model
from pipeline.core.tfcompat import keras, tf

# Peak model: ROWS x FEATURES activations through LAYERS FULLY_CONNECTED layers. With many
# rows each weight is reused ROWS times (a GEMM, compute-bound); one row would only measure
# memory bandwidth. 2 x 256 x 1024 x 1024 = 537 M MACs: far above per-call overhead.
PEAK_ROWS, PEAK_FEATURES, PEAK_LAYERS = 256, 1024, 2
PEAK_NORMALIZATION = {"mean": [0.0], "std": [1.0]}


def _layer_macs(layer) -> int:
    kind = type(getattr(layer, "layer", layer)).__name__  # see through QAT wrappers
    if kind not in ("Conv2D", "DepthwiseConv2D", "Dense"):
        return 0
    out_shape, in_shape = layer.output_shape, layer.input_shape
    positions = int(np.prod(out_shape[1:-1])) if len(out_shape) > 2 else 1
    in_ch, out_ch = int(in_shape[-1]), int(out_shape[-1])
    if kind == "Dense":
        return positions * in_ch * out_ch
    kernel = int(np.prod(layer.kernel_size))
    if kind == "DepthwiseConv2D":
        return positions * out_ch * kernel
    return positions * out_ch * kernel * in_ch // int(getattr(layer, "groups", 1) or 1)


def count_macs(model) -> int:
    """Multiply-accumulates of one forward pass, batch 1: conv and dense layers only (the rest
    -- BN folded away, ReLU, pooling, softmax -- is a few percent and no MACs)."""
    total = 0
    for layer in model.layers:
        total += count_macs(layer) if hasattr(layer, "layers") else _layer_macs(layer)
    return total


def convert(model, shape: list[int], calibration=None) -> bytes:
    """A peak model (one output, "out") as float32 .tflite, or with calibration arrays as
    full-integer; the image models go through pipeline.export.convert instead."""
    tf_ = tf()

    @tf_.function(input_signature=[tf_.TensorSpec([1, *shape], tf_.float32, name="image")])
    def serve(image):
        return {"out": model(image, training=False)}

    converter = tf_.lite.TFLiteConverter.from_concrete_functions(
        [serve.get_concrete_function()], model)
    if calibration is not None:
        converter.optimizations = [tf_.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([x[None]] for x in calibration)
        converter.target_spec.supported_ops = [tf_.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf_.uint8
    return converter.convert()


def write_model(folder: Path, stem: str, content: bytes, heads: dict, norm: dict,
                tasks: list[dict] | None = None) -> Path:
    """The .tflite plus a model.json that lets pipeline.modelfile.runtime load it by signature
    (tasks: the heads' kinds, Heads.tasks(); default classification)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.tflite"
    path.write_bytes(content)
    spec = {"heads": heads, **({"tasks": tasks} if tasks else {}), "variants": {stem: {
        "file": path.name, "signature": "serving_default",
        "input": {"name": "image", "normalization": norm}}}}
    (folder / "model.json").write_text(json.dumps(spec, indent=2), encoding="utf-8")
    return path


def single_task_models(config: ModelConfig, heads: Heads, calibration: np.ndarray,
                       folder: Path, trained: dict[str, Path]) -> tuple[list[Path], int]:
    """One int8 model per head (its own folder: one model.json each); paths and total MACs.
    calibration: uint8 training images [N, S, S, 3]; trained: {head name: single-task run}
    whose weights to use, else a fresh build (same architecture, untrained)."""
    from pipeline.rundir.trained import TrainedRun
    from pipeline.export.convert import convert
    from pipeline.modelfile.variants import BY_KEY, DEFAULT

    paths, macs = [], 0
    for head in heads:
        one = heads.select([head.name])
        model = TrainedRun.open(trained[head.name]).load_keras() if head.name in trained else \
            build_model(config, one)
        macs += count_macs(model)
        # The export's own settings, so the pair is quantized exactly like model_int8.tflite.
        content = convert(model, one, config.image_size, BY_KEY[DEFAULT].conversion,
                          calibration, config.normalization)
        paths.append(write_model(folder / head.short, f"single_{head.short}", content,
                                 one.labels_by_name(), config.normalization, one.tasks()))
        keras().backend.clear_session()
    return paths, macs


def peak_models(folder: Path) -> dict[str, tuple[Path, int]]:
    """{"float32" | "int8": (path, MACs)} of the large fully-connected model."""
    k = keras()
    x = inputs = k.Input((PEAK_ROWS, PEAK_FEATURES), name="image")
    for i in range(PEAK_LAYERS):
        x = k.layers.Dense(PEAK_FEATURES, activation="relu", name=f"fc{i}")(x)
    model = k.Model(inputs, x)
    rng = np.random.default_rng(0)
    calibration = rng.standard_normal((8, PEAK_ROWS, PEAK_FEATURES)).astype(np.float32)
    # One "class" per output value: the runtime holds every output to its class count.
    shape, heads = [PEAK_ROWS, PEAK_FEATURES], {"out": [str(i) for i in range(PEAK_ROWS * PEAK_FEATURES)]}
    found = {}
    for kind, calib in (("float32", None), ("int8", calibration)):
        content = convert(model, shape, calib)
        found[kind] = (write_model(folder / kind, f"peak_{kind}", content, heads,
                                   PEAK_NORMALIZATION), count_macs(model))
    return found
