"""The .tflite flatbuffer itself, read and repacked with LiteRT's own schema module.

`ai_edge_litert.schema_py_generated` is the TFLite model schema compiled by flatc (object API
included), so reading tensors, signatures and metadata entries needs no TensorFlow and no
interpreter. Repacking (to add the metadata buffer) goes through the object API: every tensor
buffer is copied byte for byte; `graph_difference` proves it after the fact.
"""
from __future__ import annotations

from dataclasses import dataclass

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

from pipeline.core.errors import PipelineError

IDENTIFIER = b"TFL3"
# The converter's schema asks for 16-byte aligned buffer data (force_align: 16); the Python
# object API ignores that, so buffers are packed by hand to keep every tensor 16-aligned.
BUFFER_ALIGNMENT = 16
_DTYPES = {v: k.lower() for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
_OPS = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}


@dataclass(frozen=True)
class Tensor:
    index: int
    name: str
    dtype: str
    shape: list[int]
    quantization: dict | None  # {"scale", "zero_point"} per tensor; per-axis: lists


@dataclass(frozen=True)
class Signature:
    key: str
    subgraph: int
    inputs: dict[str, int]  # signature name -> tensor index
    outputs: dict[str, int]


def load(content: bytes, name: str = "model") -> schema.Model:
    """The root table; trailing bytes (the associated-files zip) are ignored, as LiteRT does."""
    if len(content) < 8 or not schema.Model.ModelBufferHasIdentifier(content, 0):
        raise PipelineError(f"{name}: not a TFLite model (no {IDENTIFIER.decode()} identifier)")
    return schema.Model.GetRootAs(content, 0)


def _text(value: bytes | None) -> str:
    return value.decode("utf-8") if value is not None else ""


def metadata_entries(model: schema.Model) -> dict[str, int]:
    """Model.metadata: name -> buffer index (min_runtime_version, TFLITE_METADATA, ...)."""
    return {_text(model.Metadata(i).Name()): model.Metadata(i).Buffer()
            for i in range(model.MetadataLength())}


def buffer_bytes(model: schema.Model, content: bytes, index: int) -> bytes:
    buffer = model.Buffers(index)
    if buffer.Offset() > 1:  # data stored after the flatbuffer (models over 2 GB)
        return bytes(content[buffer.Offset():buffer.Offset() + buffer.Size()])
    return buffer.DataAsNumpy().tobytes() if buffer.DataLength() else b""


def metadata_bytes(model: schema.Model, content: bytes, key: str) -> bytes | None:
    index = metadata_entries(model).get(key)
    return None if index is None else buffer_bytes(model, content, index)


def signatures(model: schema.Model) -> list[Signature]:
    result = []
    for i in range(model.SignatureDefsLength()):
        sig = model.SignatureDefs(i)
        inputs = {_text(sig.Inputs(j).Name()): sig.Inputs(j).TensorIndex()
                  for j in range(sig.InputsLength())}
        outputs = {_text(sig.Outputs(j).Name()): sig.Outputs(j).TensorIndex()
                   for j in range(sig.OutputsLength())}
        result.append(Signature(_text(sig.SignatureKey()), sig.SubgraphIndex(), inputs, outputs))
    return result


def io_indices(model: schema.Model, subgraph: int = 0) -> tuple[list[int], list[int]]:
    """The subgraph's input and output tensor indices, in the order metadata must follow."""
    graph = model.Subgraphs(subgraph)
    return ([int(v) for v in graph.InputsAsNumpy()] if graph.InputsLength() else [],
            [int(v) for v in graph.OutputsAsNumpy()] if graph.OutputsLength() else [])


def tensor(model: schema.Model, index: int, subgraph: int = 0) -> Tensor:
    t = model.Subgraphs(subgraph).Tensors(index)
    shape = [int(v) for v in t.ShapeAsNumpy()] if t.ShapeLength() else []
    return Tensor(index, _text(t.Name()), _DTYPES.get(t.Type(), f"type{t.Type()}"), shape,
                  _quantization(t.Quantization()))


def _quantization(q) -> dict | None:
    if q is None or q.ScaleLength() == 0:
        return None
    scales, zeros = q.ScaleAsNumpy(), q.ZeroPointAsNumpy()
    if len(scales) == 1:
        return {"scale": float(scales[0]), "zero_point": int(zeros[0])}
    return {"scale": [float(s) for s in scales], "zero_point": [int(z) for z in zeros],
            "axis": q.QuantizedDimension()}


def op_counts(model: schema.Model) -> dict[str, int]:
    """Operator name -> how many, over every subgraph."""
    names = []
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        custom = code.CustomCode()
        names.append(_text(custom) if custom else _OPS.get(builtin, f"op{builtin}"))
    counts: dict[str, int] = {}
    for g in range(model.SubgraphsLength()):
        graph = model.Subgraphs(g)
        for j in range(graph.OperatorsLength()):
            name = names[graph.Operators(j).OpcodeIndex()]
            counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


class _AlignedBufferT(schema.BufferT):
    """BufferT that packs its data 16-byte aligned, the bytes themselves untouched."""

    def Pack(self, builder):  # noqa: N802 - the generated API's name
        data = None
        if self.data is not None:
            payload = np.asarray(self.data, dtype=np.uint8).tobytes()
            builder.StartVector(1, len(payload), BUFFER_ALIGNMENT)
            builder.head -= len(payload)
            builder.Bytes[builder.head:builder.head + len(payload)] = payload
            data = builder.EndVector()
        schema.BufferStart(builder)
        if data is not None:
            schema.BufferAddData(builder, data)
        schema.BufferAddOffset(builder, self.offset)
        schema.BufferAddSize(builder, self.size)
        return schema.BufferEnd(builder)


def with_metadata(content: bytes, key: str, data: bytes, name: str = "model") -> bytes:
    """The model repacked with `data` as metadata entry `key` (replaced if present).

    Returns the bare flatbuffer: whatever followed it (an old associated-files zip) is dropped.
    """
    model = schema.ModelT.InitFromPackedBuf(content, 0)
    buffers = list(model.buffers or [])
    if any(b.offset > 1 for b in buffers):
        raise PipelineError(f"{name}: tensor data stored outside the flatbuffer (a >2 GB model): "
                            "not supported")
    entries = list(model.metadata or [])
    existing = [m for m in entries if _text(m.name) == key]
    if existing:
        index = existing[0].buffer
    else:
        index = len(buffers)
        buffers.append(schema.BufferT())
        entry = schema.MetadataT()
        entry.name, entry.buffer = key, index
        entries.append(entry)
    buffers[index] = schema.BufferT(data=np.frombuffer(data, dtype=np.uint8))
    aligned = []
    for b in buffers:
        copy = _AlignedBufferT(data=b.data, offset=b.offset, size=b.size)
        aligned.append(copy)
    model.buffers, model.metadata = aligned, entries
    builder = flatbuffers.Builder(len(content) + len(data) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=IDENTIFIER)
    return bytes(builder.Output())


def _plain(value):
    """Object-API tree -> plain lists/dicts/bytes, so two models compare with ==."""
    if isinstance(value, np.ndarray):
        return (value.dtype.str, value.tobytes())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "__dict__"):
        return {k: _plain(v) for k, v in vars(value).items()}
    return value


def graph_difference(before: bytes, after: bytes, key: str) -> list[str]:
    """What differs between two models apart from metadata entry `key` and its buffer:
    version, description, operator codes, subgraphs (tensors, ops, options), signatures,
    the other metadata entries, and every tensor buffer's bytes. Empty when identical."""
    a, b = (schema.ModelT.InitFromPackedBuf(x, 0) for x in (before, after))
    skip = {m.buffer for m in (a.metadata or []) + (b.metadata or []) if _text(m.name) == key}
    problems = [field for field in ("version", "description", "operatorCodes", "subgraphs",
                                    "signatureDefs")
                if _plain(getattr(a, field)) != _plain(getattr(b, field))]
    others = [sorted((_text(m.name), m.buffer) for m in (x.metadata or []) if _text(m.name) != key)
              for x in (a, b)]
    if others[0] != others[1]:
        problems.append("metadata entries")
    for i, buffer in enumerate(a.buffers or []):
        if i in skip:
            continue
        if i >= len(b.buffers or []) or _plain(buffer.data) != _plain(b.buffers[i].data):
            problems.append(f"buffer {i}")
    return problems
