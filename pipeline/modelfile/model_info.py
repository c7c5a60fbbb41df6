"""What a bare .tflite says about itself: heads, class names, normalization, tensors.

LiteRT's schema module and flatbuffers only: no TensorFlow, no interpreter. The metadata is
checked as it is read (the same `check` the writer applies): a head the signature lacks, labels
that do not match an output's size or metadata in the wrong order stop the load with one line,
instead of printing a wrong label later.
"""
from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.modelfile import metadata as md
from pipeline.modelfile import tflite_file
from pipeline.core.errors import PipelineError
from pipeline.modelfile.metadata_fbs import metadata_schema_generated as fb


@dataclass
class ModelInfo:
    path: Path
    size_bytes: int
    signature: tflite_file.Signature
    input_name: str
    input: tflite_file.Tensor
    outputs: dict[str, tflite_file.Tensor]  # by signature name, in subgraph output order
    op_counts: dict[str, int]
    signature_keys: list[str]
    has_metadata: bool = False
    about: dict = field(default_factory=dict)  # name, description, version, author, license
    normalization: dict | None = None
    labels: dict[str, list[str]] = field(default_factory=dict)  # head -> classes, head order
    files: dict[str, int] = field(default_factory=dict)  # associated file -> size in bytes
    model_json: dict | None = None  # the packed model.json, when present
    thresholds: dict[str, float | None] = field(default_factory=dict)  # head -> not-sure


def read(path: Path | str, verified: bool = False) -> ModelInfo:
    """Any .tflite; `has_metadata` tells whether it carries TFLITE_METADATA (checked if so).
    verified: the caller has already loaded this file in LiteRT (which verifies it)."""
    path = Path(path)
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise PipelineError(f"{path}: cannot read ({exc.strerror})") from None
    if not verified:
        _verify(content, path)
    model = tflite_file.load(content, str(path))
    sigs = tflite_file.signatures(model)
    if not sigs:
        raise PipelineError(f"{path}: the model has no signature (outputs cannot be read by name)")
    sig = sigs[0]
    inputs, _ = tflite_file.io_indices(model, sig.subgraph)
    input_name = next((k for k, v in sig.inputs.items() if v == inputs[0]), "")
    outputs = {name: tflite_file.tensor(model, sig.outputs[name], sig.subgraph)
               for name in md.output_names(model, sig) if name in sig.outputs}
    info = ModelInfo(path, len(content), sig, input_name,
                     tflite_file.tensor(model, inputs[0], sig.subgraph), outputs,
                     tflite_file.op_counts(model), [s.key for s in sigs])
    data = tflite_file.metadata_bytes(model, content, md.KEY)
    if data is not None:
        try:
            metadata = md.unpack(data, str(path))
        except (IndexError, ValueError, struct.error) as exc:
            raise md.MetadataError(f"{path}: {md.KEY} is damaged ({exc})") from None
        _fill(info, model, metadata, md.read_files(content, str(path)))
    return info


def _verify(content: bytes, path: Path) -> None:
    """LiteRT's own flatbuffer verifier, before the unchecked reads below touch the bytes."""
    from ai_edge_litert.interpreter import Interpreter

    try:
        Interpreter(model_content=content)
    except (ValueError, RuntimeError) as exc:
        raise PipelineError(f"{path}: cannot load as a TFLite model ({exc})") from None


def _fill(info: ModelInfo, model, metadata: fb.ModelMetadataT, files: dict) -> None:
    name = str(info.path)
    md.check(model, metadata, files, name)
    graph = metadata.subgraphMetadata[0]
    info.has_metadata = True
    info.about = {k: md.text(getattr(metadata, attr)) for k, attr in
                  (("name", "name"), ("description", "description"), ("version", "version"),
                   ("author", "author"), ("license", "license"),
                   ("min_parser_version", "minParserVersion"))}
    info.normalization = md.normalization(graph.inputTensorMetadata[0])
    labels = {}
    for meta in graph.outputTensorMetadata:
        found = md.files_named(meta, fb.AssociatedFileType.TENSOR_AXIS_LABELS)  # 0: a number
        labels[md.text(meta.name)] = md.labels(files, found[0], name) if found else []
        info.thresholds[md.text(meta.name)] = md.score_threshold(meta)
    info.files = {k: len(v) for k, v in files.items()}
    if md.MODEL_JSON in files:
        try:
            info.model_json = json.loads(files[md.MODEL_JSON].decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise md.MetadataError(f"{name}: packed {md.MODEL_JSON} is not valid JSON "
                                   f"({exc})") from None
    info.labels = _in_task_order(labels, info.model_json)


def _in_task_order(labels: dict, model_json: dict | None) -> dict:
    """Heads in the label-file column order model.json records; else the outputs' order."""
    tasks = [t.get("name") for t in (model_json or {}).get("tasks", [])]
    if sorted(tasks) != sorted(labels):
        return labels
    return {name: labels[name] for name in tasks}


def variant_entry(info: ModelInfo) -> tuple[str, dict]:
    """(variant key, model.json-shaped entry) of a model read from its own metadata: what the
    runtime needs to prepare inputs and read outputs, whatever the file is called now."""
    if info.normalization is None:
        raise PipelineError(f"{info.path}: its metadata has no NormalizationOptions for the "
                            "input; cannot prepare images")
    packed = (info.model_json or {}).get("variants", {})
    key = (info.model_json or {}).get("default") or (next(iter(packed), None)) or info.path.stem
    entry = {"file": info.path.name, "signature": info.signature.key,
             "input": {"name": info.input_name, "dtype": info.input.dtype,
                       "shape": info.input.shape, "quantization": info.input.quantization,
                       "normalization": info.normalization},
             "outputs": {h: {"dtype": info.outputs[h].dtype, "shape": info.outputs[h].shape,
                             "quantization": info.outputs[h].quantization, "labels": labels,
                             **({"threshold": info.thresholds[h]}
                                if info.thresholds.get(h) is not None else {})}
                         for h, labels in info.labels.items()}}
    return key, entry


def spec(info: ModelInfo) -> dict:
    """A model.json for this one file, built from its metadata (packed model.json: tasks)."""
    key, entry = variant_entry(info)
    tasks = (info.model_json or {}).get("tasks") or [{"name": h} for h in info.labels]
    return {"heads": dict(info.labels), "tasks": tasks, "image_size": info.input.shape[1],
            "default": key, "variants": {key: entry}}
