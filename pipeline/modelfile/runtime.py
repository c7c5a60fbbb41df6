"""LiteRT (ai-edge-litert) inference for every consumer outside training.

Reads the input size, dtype, normalization and output names from the model's own TFLite
metadata (or, for a file without any, from the model.json beside it) and runs the model's
signature by name: output order in a .tflite is not to be relied on.
No TensorFlow import here: LiteRT alone runs in a few tens of MB.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.core.errors import PipelineError
from pipeline.heads.schema import spec_heads
from pipeline.rundir.runs import VERSION_DIR, RunDir, read_json
from pipeline.modelfile.variants import DEFAULT

SPEC_FILE = "model.json"


def load_spec(tflite: Path, verified: bool = False) -> tuple[dict, str, dict]:
    """(model.json, variant key, variant entry) of a .tflite.

    The file's own metadata first (it travels with the model and cannot go stale); a file
    without metadata (an older export, another tool) needs its model.json beside it.
    verified: already loaded in LiteRT, whose verifier guards the metadata reader.
    """
    from pipeline.modelfile import model_info

    info = model_info.read(tflite, verified)
    if info.has_metadata:
        spec = model_info.spec(info)
        return spec, spec["default"], spec["variants"][spec["default"]]
    spec_path = tflite.parent / SPEC_FILE
    if not spec_path.is_file():
        raise PipelineError(f"{tflite}: no TFLite metadata in the file and no {SPEC_FILE} "
                            "beside it: nothing says what its outputs mean; re-export it with "
                            "`pipeline quantize`")
    spec = read_spec(spec_path)
    for key, variant in spec["variants"].items():
        if variant["file"] == tflite.name:
            return spec, key, variant
    raise PipelineError(f"{spec_path}: no variant describes {tflite.name}")


def read_spec(path: Path) -> dict:
    """A model.json, checked for what readers rely on; one line naming the file if not."""
    spec = read_json(path)
    problem = spec_problem(spec)
    if problem:
        raise PipelineError(f"{path}: {problem}; not a model description this pipeline "
                            "wrote (re-export with `pipeline quantize`)")
    return spec


def spec_problem(spec) -> str | None:
    if not isinstance(spec, dict):
        return "not a JSON object"
    heads, variants = spec.get("heads"), spec.get("variants")
    if not isinstance(heads, dict) or not heads or not all(
            isinstance(c, list) and all(isinstance(n, str) for n in c)
            for c in heads.values()):
        return "'heads' is not {head: [class names]}"
    try:
        spec_heads(spec, "model.json")
    except PipelineError as exc:
        return str(exc).removeprefix("model.json: ")
    if not isinstance(variants, dict) or not variants:
        return "'variants' is not a non-empty object"
    for key, entry in variants.items():
        name = entry.get("file") if isinstance(entry, dict) else None
        if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
            return f"variant {key!r} names no file (a bare file name)"
        source = entry.get("input")
        norm = source.get("normalization") if isinstance(source, dict) else None
        if not isinstance(source.get("name") if isinstance(source, dict) else None, str) \
                or not isinstance(norm, dict) or not {"mean", "std"} <= set(norm):
            return f"variant {key!r}: 'input' needs a name and normalization mean and std"
    return None


def resolve_model(model: Path, variant: str | None = None) -> Path:
    """A run directory (its export's default or named variant) or a .tflite file -> the file.

    Through a run, only what its manifest records as the current export is used, each file
    checked against its sha256; a .tflite inside a run's export folder is held to the same.
    A .tflite anywhere else is taken as it is (it describes itself).
    """
    model = Path(model)
    if model.suffix == ".tflite":
        run = owning_run(model)
        if run is not None:
            return run_file(run, model)
        if not model.is_file():
            raise PipelineError(f"{model}: model file not found")
        return model
    if not (model / "manifest.json").is_file():
        raise PipelineError(f"{model}: no exported model (no manifest.json: not a run "
                            f"directory); run `pipeline quantize --run {model}` first")
    rd = RunDir(model).snapshot()  # every file below through the same manifest
    spec_path = rd.file("export", SPEC_FILE)
    spec = read_spec(spec_path)
    key = variant or spec.get("default", DEFAULT)
    if key not in spec["variants"]:
        raise PipelineError(f"{spec_path}: no variant {key!r}; has "
                            f"{', '.join(spec['variants'])}")
    return rd.file("export", spec["variants"][key]["file"])


def owning_run(tflite: Path) -> Path | None:
    """The run directory whose export folder (`export/` or `.export.v<N>/`) holds the file."""
    folder = tflite.absolute().parent
    version = VERSION_DIR.fullmatch(folder.name)
    in_export = folder.name == "export" or (version is not None and version["stage"] == "export")
    return folder.parent if in_export and (folder.parent / "manifest.json").is_file() else None


def run_file(run: Path, tflite: Path) -> Path:
    """A .tflite named by its path inside a run: only the run's current, recorded export."""
    rd = RunDir(run).snapshot()
    current = rd.require("export")  # refuses an export the manifest dropped or outdated
    if tflite.absolute().parent.resolve() != current.resolve():
        raise PipelineError(f"{tflite}: not the run's current export ({current.name} is); "
                            f"use --model {run}, or run `{rd.how('export')}` again")
    return rd.file("export", tflite.name)


class TFLiteModel:
    """One exported variant: pixels in, {head name: probabilities} out."""

    def __init__(self, path: Path | str, threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        try:  # first: LiteRT verifies the flatbuffer before the metadata reader touches it
            interpreter = Interpreter(model_path=str(self.path), num_threads=threads)
        except (ValueError, RuntimeError) as exc:
            raise PipelineError(f"{self.path}: cannot load as a TFLite model ({exc})") from None
        self.spec, self.variant, self.entry = load_spec(self.path, verified=True)
        try:
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
        self.heads = spec_heads(self.spec, str(self.path))
        missing = set(self.labels) - set(self.outputs)
        if missing:
            raise PipelineError(f"{self.path}: signature lacks output(s) {sorted(missing)}; "
                                f"has {sorted(self.outputs)}")
        self._check_class_counts()
        self.thresholds = self._read_thresholds()

    def _read_thresholds(self) -> dict[str, float | None]:
        """Each head's not-sure threshold from the file (metadata, or model.json for a file
        without metadata); None = a model from before thresholds existed: it always answers."""
        from pipeline.heads.notsure import check_threshold

        out = {}
        for name in self.labels:
            value = (self.entry.get("outputs", {}).get(name) or {}).get("threshold")
            try:
                out[name] = None if value is None else check_threshold(
                    value, f"{self.path}: output {name!r}")
            except ValueError as exc:
                raise PipelineError(str(exc)) from None
        return out

    def _check_class_counts(self) -> None:
        """Each head's class list must be as long as its output: a shorter list would drop a
        class from every answer, a longer one name classes the model cannot give."""
        for head in self.heads:
            name, classes = head.name, head.classes
            size = int(np.prod(self.outputs[name]["shape"][1:]))
            expected = head.impl.output_size(head)
            if not head.impl.has_classes and size != expected:
                raise PipelineError(f"{self.path}: output {name!r} has {size} values; a "
                                    f"{head.kind} head has {expected}: re-export it")
            if head.impl.has_classes and size != len(classes):
                raise PipelineError(f"{self.path}: output {name!r} has {size} values but the "
                                    f"model's description lists {len(classes)} classes "
                                    f"({', '.join(map(str, classes))}); the description does "
                                    "not belong to this model: re-export it")

    @property
    def image_size(self) -> int:
        return int(self.input["shape"][1])

    def prepare(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 HxWx3 at the model's size -> the input tensor (normalized, quantized), batch 1."""
        from pipeline.data.images import normalize

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
