"""`pipeline inspect MODEL.tflite`: what a model file says about itself, without running it.

Metadata (name, version, author, licence, normalization, labels per head, associated files),
inputs and outputs (dtype, shape, quantization), signature keys, operator counts and size.
LiteRT's schema and flatbuffers only: works on any .tflite, with or without metadata.
"""
from __future__ import annotations

import json
from pathlib import Path

from pipeline.modelfile import model_info
from pipeline.modelfile.runtime import resolve_model


def _tensor(t, labels=None) -> dict:
    entry = {"dtype": t.dtype, "shape": t.shape, "quantization": t.quantization}
    if labels is not None:
        entry["labels"] = labels
    return entry


def summary(info: model_info.ModelInfo) -> dict:
    """The JSON form (`--json`)."""
    metadata = None
    if info.has_metadata:
        metadata = {**info.about, "normalization": info.normalization,
                    "associated_files": info.files}
    return {"file": str(info.path), "size_bytes": info.size_bytes,
            "signatures": info.signature_keys, "signature": info.signature.key,
            "inputs": {info.input_name: _tensor(info.input)},
            "outputs": {name: _tensor(t, info.labels.get(name))
                        for name, t in info.outputs.items()},
            "metadata": metadata, "ops": info.op_counts,
            "op_total": sum(info.op_counts.values())}


def _quant(q: dict | None) -> str:
    if q is None:
        return ""
    if isinstance(q["scale"], list):
        return f"per-axis ({len(q['scale'])} scales, axis {q['axis']})"
    return f"scale {q['scale']:.9g} zero_point {q['zero_point']}"


def format_text(s: dict) -> str:
    lines = [f"{s['file']}: {s['size_bytes']:,} bytes; signature {s['signature']!r} "
             f"(signatures: {', '.join(s['signatures'])})"]
    meta = s["metadata"]
    if meta:
        lines += [f"metadata: {meta['name']} | version {meta['version']} | "
                  f"author {meta['author']} | parser >= {meta['min_parser_version']}",
                  f"  description: {meta['description']}", f"  licence: {meta['license']}"]
        if meta["normalization"]:
            n = meta["normalization"]
            lines.append(f"  input normalization: (pixel - {n['mean']}) / {n['std']}")
        files = ", ".join(f"{k} ({v} B)" for k, v in meta["associated_files"].items())
        lines.append(f"  associated files: {files or '-'}")
    else:
        lines.append("metadata: none (heads, labels and normalization need a model.json beside it)")
    for kind, tensors in (("input", s["inputs"]), ("output", s["outputs"])):
        for name, t in tensors.items():
            labels = f"  labels: {', '.join(t['labels'])}" if t.get("labels") else ""
            lines.append(f"{kind:<6} {name:<16} {t['dtype']:<8} {str(t['shape']):<18} "
                         f"{_quant(t['quantization'])}{labels}".rstrip())
    ops = ", ".join(f"{k} {v}" for k, v in s["ops"].items())
    lines.append(f"ops ({s['op_total']}): {ops}")
    return "\n".join(lines)


def show(model: Path, as_json: bool = False) -> dict:
    """Print the summary of a .tflite (or a run directory's default variant); return it."""
    info = model_info.read(resolve_model(Path(model)))
    result = summary(info)
    print(json.dumps(result, indent=2) if as_json else format_text(result))
    return result


def run(o) -> dict:
    """`pipeline inspect` (options.InspectOptions)."""
    return show(o.model, o.json_output)
