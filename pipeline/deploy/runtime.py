"""LiteRT (ai-edge-litert) inference for every consumer outside training.

Reads the input size, dtype, normalization and output names from the model's own TFLite
metadata (or, for a file without any, from the model.json beside it) and runs the model's
signature by name: output order in a .tflite is not to be relied on.
No TensorFlow import here: LiteRT alone runs in a few tens of MB.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pipeline.core.errors import PipelineError

SPEC_FILE = "model.json"


def load_spec(tflite: Path) -> tuple[dict, str, dict]:
    """(model.json, variant key, variant entry) of a .tflite.

    The file's own metadata first (it travels with the model and cannot go stale); a file
    without metadata (an older export, another tool) needs its model.json beside it.
    """
    from pipeline.deploy import model_info

    info = model_info.read(tflite)
    if info.has_metadata:
        spec = model_info.spec(info)
        return spec, spec["default"], spec["variants"][spec["default"]]
    spec_path = tflite.parent / SPEC_FILE
    if not spec_path.is_file():
        raise PipelineError(f"{tflite}: no TFLite metadata in the file and no {SPEC_FILE} "
                            "beside it: nothing says what its outputs mean; re-export it with "
                            "`pipeline quantize`")
    try:
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PipelineError(f"{spec_path}: not valid JSON ({exc})") from None
    for key, variant in spec.get("variants", {}).items():
        if variant.get("file") == tflite.name:
            return spec, key, variant
    raise PipelineError(f"{spec_path}: no variant describes {tflite.name}")


def resolve_model(model: Path, variant: str | None = None) -> Path:
    """A run directory (its export's default or named variant) or a .tflite file -> the file."""
    model = Path(model)
    if model.suffix == ".tflite":
        if not model.is_file():
            raise PipelineError(f"{model}: model file not found")
        return model
    spec_path = model / "export" / SPEC_FILE
    if not spec_path.is_file():
        raise PipelineError(f"{model}: no exported model (no export/{SPEC_FILE}); "
                            f"run `pipeline quantize --run {model}` first")
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    key = variant or spec.get("default", "int8")
    if key not in spec.get("variants", {}):
        raise PipelineError(f"{spec_path}: no variant {key!r}; has "
                            f"{', '.join(spec.get('variants', {}))}")
    return model / "export" / spec["variants"][key]["file"]


class TFLiteModel:
    """One exported variant: pixels in, {head name: probabilities} out."""

    def __init__(self, path: Path | str, threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        self.spec, self.variant, self.entry = load_spec(self.path)
        try:
            interpreter = Interpreter(model_path=str(self.path), num_threads=threads)
            self.runner = interpreter.get_signature_runner(self.entry.get("signature",
                                                                          "serving_default"))
        except (ValueError, RuntimeError) as exc:
            raise PipelineError(f"{self.path}: cannot load as a TFLite model ({exc})") from None
        self.interpreter = interpreter
        inputs = self.runner.get_input_details()
        self.input_name = self.entry["input"]["name"]
        if self.input_name not in inputs:
            raise PipelineError(f"{self.path}: signature has no input {self.input_name!r}")
        self.input = inputs[self.input_name]
        self.outputs = self.runner.get_output_details()
        self.labels = self.spec["heads"]
        missing = set(self.labels) - set(self.outputs)
        if missing:
            raise PipelineError(f"{self.path}: signature lacks output(s) {sorted(missing)}; "
                                f"has {sorted(self.outputs)}")

    @property
    def image_size(self) -> int:
        return int(self.input["shape"][1])

    def prepare(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 HxWx3 at the model's size -> the input tensor (normalized, quantized), batch 1."""
        from pipeline.core.images import normalize

        x = normalize(pixels, self.entry["input"]["normalization"])
        dtype = self.input["dtype"]
        if np.issubdtype(dtype, np.integer):
            scale, zero_point = self.input["quantization"]
            info = np.iinfo(dtype)
            x = np.clip(np.round(x / scale + zero_point), info.min, info.max)
        return x.astype(dtype)[None]

    def run_prepared(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Run one prepared input; outputs by name, dequantized to float probabilities."""
        raw = self.runner(**{self.input_name: x})
        return {name: self._dequantize(name, raw[name])[0] for name in self.labels}

    def _dequantize(self, name: str, value: np.ndarray) -> np.ndarray:
        if np.issubdtype(value.dtype, np.integer):
            scale, zero_point = self.outputs[name]["quantization"]
            return (value.astype(np.float32) - zero_point) * scale
        return value.astype(np.float32)

    def __call__(self, pixels: np.ndarray) -> dict[str, np.ndarray]:
        return self.run_prepared(self.prepare(pixels))

    def predict_file(self, image: Path | str) -> dict[str, np.ndarray]:
        from pipeline.core.images import load_resized

        return self(load_resized(image, self.image_size))
