"""Standard TFLite model metadata (TFLITE_METADATA, metadata_schema.fbs) and its associated files.

Shared by the writer (export) and the reader (deploy), so a file the writer accepts is exactly a
file the reader accepts. The layout is the one MediaPipe Tasks and the TFLite Task Library read:

- Model.metadata has an entry "TFLITE_METADATA" whose buffer is a ModelMetadata flatbuffer
  (file identifier "M001");
- SubGraphMetadata.output_tensor_metadata[i] describes SubGraph.outputs[i]: matched by
  position in the subgraph, which is why `check` ties each one to its tensor through the
  signature's name map (converters list outputs in no stable order);
- associated files (label files, model.json) are an uncompressed zip appended after the
  flatbuffer (MediaPipe refuses compressed entries).
"""
from __future__ import annotations

import io
import zipfile

import flatbuffers
import numpy as np

from pipeline.modelfile import tflite_file
from pipeline.core.errors import PipelineError
from pipeline.modelfile.metadata_fbs import metadata_schema_generated as fb

KEY = "TFLITE_METADATA"
IDENTIFIER = b"M001"
MODEL_JSON = "model.json"
LABELS_SUFFIX = "_labels.txt"
# Every field written here exists since schema 1.0.0; a reader older than that cannot parse it.
MIN_PARSER_VERSION = "1.0.0"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so one model always gives the same bytes


class MetadataError(PipelineError):
    """Metadata that does not fit its model: refused when written, and when read."""


def label_file(head: str) -> str:
    return f"{head}{LABELS_SUFFIX}"


def pack(metadata: fb.ModelMetadataT) -> bytes:
    builder = flatbuffers.Builder(1024)
    builder.Finish(metadata.Pack(builder), file_identifier=IDENTIFIER)
    return bytes(builder.Output())


def unpack(data: bytes, name: str) -> fb.ModelMetadataT:
    if len(data) < 8 or not fb.ModelMetadata.ModelMetadataBufferHasIdentifier(data, 0):
        raise MetadataError(f"{name}: {KEY} is not a metadata flatbuffer (no M001 identifier)")
    return fb.ModelMetadataT.InitFromObj(fb.ModelMetadata.GetRootAsModelMetadata(data, 0))


def append_files(flatbuffer: bytes, files: dict[str, bytes]) -> bytes:
    """flatbuffer + an uncompressed zip of `files`, offsets counted from the file's start."""
    stream = io.BytesIO(flatbuffer)
    stream.seek(0, io.SEEK_END)
    with zipfile.ZipFile(stream, "a", compression=zipfile.ZIP_STORED) as archive:
        for file_name, data in files.items():
            archive.writestr(zipfile.ZipInfo(file_name, date_time=_ZIP_DATE), data)
    return stream.getvalue()


def read_files(content: bytes, name: str) -> dict[str, bytes]:
    """The associated files appended to the model; {} when there is no zip."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return {info.filename: archive.read(info) for info in archive.infolist()}
    except zipfile.BadZipFile:
        return {}
    except (zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise MetadataError(f"{name}: associated files unreadable ({exc})") from None


def text(value) -> str:
    """A flatbuffer string field (bytes in the object API) as text; '' when absent."""
    if value is None:
        return ""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def files_named(tensor_metadata, kind: int) -> list[str]:
    return [text(f.name) for f in (tensor_metadata.associatedFiles or []) if f.type == kind]


def labels(files: dict[str, bytes], file_name: str, name: str) -> list[str]:
    if file_name not in files:
        raise MetadataError(f"{name}: label file {file_name} is named in the metadata but not "
                            "packed in the model")
    try:
        lines = files[file_name].decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise MetadataError(f"{name}: {file_name} is not UTF-8 text") from None
    if any(not line.strip() for line in lines):
        raise MetadataError(f"{name}: {file_name} has an empty label")
    return lines


def normalization(tensor_metadata) -> dict | None:
    """NormalizationOptions as {"mean": [3], "std": [3]}; one value applies to every channel."""
    for unit in tensor_metadata.processUnits or []:
        if unit.optionsType == fb.ProcessUnitOptions.NormalizationOptions:
            mean, std = list(unit.options.mean), list(unit.options.std)
            if len(mean) != len(std) or len(mean) not in (1, 3) or not all(std):
                return {"invalid": f"mean {mean}, std {std}"}
            return {"mean": [float(v) for v in mean] * (3 // len(mean)),
                    "std": [float(v) for v in std] * (3 // len(std))}
    return None


def score_threshold(tensor_metadata) -> float | None:
    """The head's not-sure threshold (ScoreThresholdingOptions), or None when absent (a model
    exported before thresholds existed). Checked by `check`: a number in (0, 1)."""
    for unit in tensor_metadata.processUnits or []:
        if unit.optionsType == fb.ProcessUnitOptions.ScoreThresholdingOptions:
            # stored as float32: the shortest decimal that is that float32 (0.6, not
            # 0.6000000238), the number model.json holds; readers compare in float32
            value = np.float32(unit.options.globalScoreThreshold)
            return float(np.format_float_positional(value, unique=True)) \
                if np.isfinite(value) else float(value)
    return None


def output_names(model, signature: tflite_file.Signature) -> list[str]:
    """The signature name of each subgraph output, in subgraph order."""
    by_tensor = {index: key for key, index in signature.outputs.items()}
    _, outputs = tflite_file.io_indices(model, signature.subgraph)
    return [by_tensor.get(index, f"<tensor {index}>") for index in outputs]


def check(model, metadata: fb.ModelMetadataT, files: dict[str, bytes], name: str) -> None:
    """Refuse metadata that would mislabel the model; MetadataError names the first problem."""
    sigs = tflite_file.signatures(model)
    if len(sigs) != 1:
        raise MetadataError(f"{name}: expected one signature, found {len(sigs)}")
    graphs = metadata.subgraphMetadata or []
    if len(graphs) != 1:
        raise MetadataError(f"{name}: metadata describes {len(graphs)} subgraphs, expected 1")
    _check_input(model, sigs[0], graphs[0], name)
    _check_outputs(model, sigs[0], graphs[0], files, name)
    named = {text(f.name) for f in _all_files(metadata)}
    if named != set(files):
        raise MetadataError(f"{name}: associated files {sorted(files)} do not match the "
                            f"metadata's {sorted(named)}")


def _check_input(model, sig, graph, name: str) -> None:
    inputs, _ = tflite_file.io_indices(model, sig.subgraph)
    described = graph.inputTensorMetadata or []
    if len(described) != len(inputs):
        raise MetadataError(f"{name}: {len(described)} input metadata for {len(inputs)} inputs")
    for meta in described:
        norm = normalization(meta)
        if norm is not None and "invalid" in norm:
            raise MetadataError(f"{name}: input {text(meta.name)!r}: bad NormalizationOptions "
                                f"({norm['invalid']})")


def _check_outputs(model, sig, graph, files: dict[str, bytes], name: str) -> None:
    described = graph.outputTensorMetadata or []
    actual = output_names(model, sig)
    if len(described) != len(actual):
        raise MetadataError(f"{name}: {len(described)} output metadata for {len(actual)} "
                            f"outputs {actual}")
    _, indices = tflite_file.io_indices(model, sig.subgraph)
    for position, (meta, expected, index) in enumerate(zip(described, actual, indices)):
        head = text(meta.name)
        if head not in sig.outputs:
            raise MetadataError(f"{name}: metadata names head {head!r}, which the signature "
                                f"does not have (outputs: {', '.join(sorted(sig.outputs))})")
        if head != expected:
            raise MetadataError(f"{name}: output metadata {position} is {head!r} but output "
                                f"tensor {position} is {expected!r} in the signature: order "
                                "does not match the tensors")
        threshold = score_threshold(meta)
        if threshold is not None and not 0 < threshold < 1:  # NaN fails too
            raise MetadataError(f"{name}: output {head!r}: ScoreThresholdingOptions threshold "
                                f"{threshold} is not between 0 and 1")
        label_files = files_named(meta, fb.AssociatedFileType.TENSOR_AXIS_LABELS)
        shape = tflite_file.tensor(model, index, sig.subgraph).shape
        size = _size(shape[1:])
        if not label_files and size == 1:
            continue  # one number (a regression head): no class names to check
        if len(label_files) != 1:
            raise MetadataError(f"{name}: output {head!r} has {len(label_files)} label files, "
                                "expected 1 (only a one-value output may have none)")
        count = len(labels(files, label_files[0], name))
        if count != size:
            raise MetadataError(f"{name}: {label_files[0]} has {count} labels but output "
                                f"{head!r} has {size} values (shape {shape})")


def _size(dims: list[int]) -> int:
    size = 1
    for d in dims:
        size *= d
    return size


def _all_files(metadata: fb.ModelMetadataT) -> list:
    found = list(metadata.associatedFiles or [])
    for graph in metadata.subgraphMetadata or []:
        found += graph.associatedFiles or []
        for meta in (graph.inputTensorMetadata or []) + (graph.outputTensorMetadata or []):
            found += meta.associatedFiles or []
    return found
