"""Writes standard TFLite metadata into an exported model, so the .tflite describes itself.

What goes in (schema: pipeline/modelfile/metadata_fbs/metadata_schema.fbs):
- model name, description (from the heads), version, author, licence;
- the image input: ImageProperties (RGB), NormalizationOptions = the recorded normalization
  (mean / std on 0..255 pixels), value range in Stats;
- one output tensor metadata per head, named by the head and placed at the position of that
  head's tensor in SubGraph.outputs (found through the signature's name map, never assumed),
  each with its own `<head>_labels.txt` (TENSOR_AXIS_LABELS);
- model.json of this file as a model-level associated file.

The heads always come from the `Heads` value passed in. `populate` refuses metadata that does
not fit the model and proves afterwards that no tensor byte or graph field changed.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from pipeline import __version__
from pipeline.modelfile import metadata as md
from pipeline.modelfile import tflite_file
from pipeline.heads.schema import Heads
from pipeline.modelfile.metadata_fbs import metadata_schema_generated as fb

AUTHOR = "flower-pipeline"
# No licence has been chosen for the project's models; say so rather than invent one.
LICENSE = "No licence declared: ask the model's publisher before redistributing it."


@dataclass(frozen=True)
class About:
    name: str
    description: str
    version: str = f"flower-pipeline {__version__}"
    author: str = AUTHOR
    license: str = LICENSE


NETWORK = "CNN"  # when the caller does not say which backbone made the model


def describe_heads(heads: Heads, network: str = NETWORK) -> str:
    """'multi-task SqueezeNet 1.1: flower_type (rose, daisy), flower_color (red, pink, white)'."""
    return f"{_tasks(heads)} {network}: " + ", ".join(h.described for h in heads)


def _tasks(heads: Heads) -> str:
    return "multi-task" if len(heads) > 1 else "single-task"


def default_about(heads: Heads, variant: str | None = None, network: str = NETWORK) -> About:
    name = f"{_tasks(heads)} {network} ({', '.join(heads.names)})"
    note = f" Variant {variant}." if variant else ""
    return About(name=name, description=describe_heads(heads, network) + "." + note)


def _files(names, kind=fb.AssociatedFileType.TENSOR_AXIS_LABELS, description=None):
    files = []
    for name in names:
        f = fb.AssociatedFileT()
        f.name, f.type, f.description = name, kind, description
        files.append(f)
    return files


def _stats(low: list[float], high: list[float]) -> fb.StatsT:
    stats = fb.StatsT()
    stats.min, stats.max = low, high
    return stats


def input_metadata(name: str, tensor: tflite_file.Tensor,
                   normalization: dict) -> fb.TensorMetadataT:
    mean, std = list(normalization["mean"]), list(normalization["std"])
    meta = fb.TensorMetadataT()
    meta.name = name
    side = "x".join(str(v) for v in tensor.shape[1:3])
    meta.description = (f"RGB image, {side}, whole image resized bilinearly; "
                        f"x = (pixel - mean) / std on 0..255 pixels"
                        + ("; then quantized with the tensor's scale and zero point"
                           if tensor.quantization else ""))
    props = fb.ImagePropertiesT()
    props.colorSpace = fb.ColorSpaceType.RGB
    meta.content = fb.ContentT()
    meta.content.contentPropertiesType = fb.ContentProperties.ImageProperties
    meta.content.contentProperties = props
    options = fb.NormalizationOptionsT()
    options.mean, options.std = mean, std
    unit = fb.ProcessUnitT()
    unit.optionsType, unit.options = fb.ProcessUnitOptions.NormalizationOptions, options
    meta.processUnits = [unit]
    if tensor.dtype == "float32":  # the normalized range the model sees
        meta.stats = _stats([(0 - m) / s for m, s in zip(mean, std)],
                            [(255 - m) / s for m, s in zip(mean, std)])
    else:  # raw integer range of the input tensor
        meta.stats = _stats([0.0], [255.0] if tensor.dtype == "uint8" else [127.0])
    return meta


def output_metadata(head, threshold: float | None = None) -> fb.TensorMetadataT:
    """A head's output: its labels file, and its not-sure threshold as the standard
    ScoreThresholdingOptions (MediaPipe Tasks drops classes scoring below it by itself)."""
    meta = fb.TensorMetadataT()
    meta.name = head.name
    meta.description = head.impl.output_description(head, threshold)
    if threshold is not None:
        options = fb.ScoreThresholdingOptionsT()
        options.globalScoreThreshold = float(threshold)
        unit = fb.ProcessUnitT()
        unit.optionsType, unit.options = fb.ProcessUnitOptions.ScoreThresholdingOptions, options
        meta.processUnits = [unit]
    meta.content = fb.ContentT()
    meta.content.contentPropertiesType = fb.ContentProperties.FeatureProperties
    meta.content.contentProperties = fb.FeaturePropertiesT()
    if head.impl.has_classes:  # scores in 0..1, one per class (a regression value is not)
        meta.stats = _stats([0.0], [1.0])
        meta.associatedFiles = _files([md.label_file(head.name)],
                                      description=f"{head.name} class names, in output order")
    return meta


def build(content: bytes, heads: Heads, normalization: dict, model_json: dict | None = None,
          about: About | None = None, name: str = "model", thresholds: dict | None = None
          ) -> tuple[fb.ModelMetadataT, dict]:
    """(metadata, associated files) for `content`, output metadata in subgraph output order."""
    model = tflite_file.load(content, name)
    sig = tflite_file.signatures(model)[0]
    unknown = sorted(set(sig.outputs) - set(heads.names))
    missing = sorted(set(heads.names) - set(sig.outputs))
    if unknown or missing:
        raise md.MetadataError(f"{name}: signature outputs {sorted(sig.outputs)} do not match "
                               f"the heads {heads.names}")
    (input_index,), _ = tflite_file.io_indices(model, sig.subgraph)
    input_name = next(k for k, v in sig.inputs.items() if v == input_index)
    graph = fb.SubGraphMetadataT()
    graph.inputTensorMetadata = [input_metadata(
        input_name, tflite_file.tensor(model, input_index, sig.subgraph), normalization)]
    graph.outputTensorMetadata = [output_metadata(heads.get(n), (thresholds or {}).get(n))
                                  for n in md.output_names(model, sig)]
    about = about or default_about(heads)
    meta = fb.ModelMetadataT()
    meta.name, meta.description, meta.version = about.name, about.description, about.version
    meta.author, meta.license = about.author, about.license
    meta.minParserVersion = md.MIN_PARSER_VERSION
    meta.subgraphMetadata = [graph]
    files = {md.label_file(h.name): ("\n".join(h.classes) + "\n").encode() for h in heads
             if h.impl.has_classes}
    if model_json is not None:
        meta.associatedFiles = _files([md.MODEL_JSON], fb.AssociatedFileType.DESCRIPTIONS,
                                      "flower-pipeline model.json of this file")
        files[md.MODEL_JSON] = (json.dumps(model_json, indent=2) + "\n").encode()
    return meta, files


def populate(content: bytes, metadata: fb.ModelMetadataT, files: dict[str, bytes],
             name: str = "model") -> bytes:
    """The model with `metadata` and `files` embedded; refuses metadata that does not fit."""
    model = tflite_file.load(content, name)
    md.check(model, metadata, files, name)
    flat = tflite_file.with_metadata(content, md.KEY, md.pack(metadata), name)
    changed = tflite_file.graph_difference(content, flat, md.KEY)
    if changed:  # would be a bug in the repacking: never ship a silently altered model
        raise md.MetadataError(f"{name}: writing metadata changed {', '.join(changed)}")
    return md.append_files(flat, files)


def embed(content: bytes, heads: Heads, normalization: dict, model_json: dict | None = None,
          about: About | None = None, name: str = "model", thresholds: dict | None = None
          ) -> bytes:
    metadata, files = build(content, heads, normalization, model_json, about, name, thresholds)
    return populate(content, metadata, files, name)


def embed_variant(key: str, content: bytes, model_json: dict, heads: Heads, normalization: dict,
                  name: str, thresholds: dict | None = None, network: str = NETWORK) -> bytes:
    """One exported variant with its metadata and its own model.json packed in."""
    entry = model_json["variants"][key]["input"]
    if entry["dtype"] == "uint8" and not entry.get("raw_pixels"):
        # MediaPipe Tasks feed a uint8 input the image bytes as they are, whatever the metadata.
        print(f"warning: {name}: its uint8 input is not the raw pixels; MediaPipe Tasks would "
              "feed it unnormalized bytes")
    return embed(content, heads, normalization, model_json, default_about(heads, key, network),
                 name, thresholds)
