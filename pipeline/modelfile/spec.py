"""What an exported file must be, and model.json: read back from the converted bytes.

The signature check holds every file to the contract (one `serving_default` signature, input
`image` of batch 1, one float32 output per head named by it); `describe` writes model.json's
entry from what the LiteRT interpreter reports, not from what the converter was asked for.
"""
from __future__ import annotations

import numpy as np

from pipeline.core.errors import PipelineError
from pipeline.heads.schema import Heads
from pipeline.modelfile.variants import REFERENCE, lead

INPUT_NAME = "image"
SIGNATURE = "serving_default"


class ExportError(PipelineError):
    """A converted file failed a check; the export stage is not published."""


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
        if detail is not None and list(detail["shape"]) != [1, head.impl.output_size(head)]:
            problems.append(f"output {head.name} shape {list(detail['shape'])}")
        if detail is not None and np.dtype(detail["dtype"]).name != "float32":
            problems.append(f"output {head.name} dtype {np.dtype(detail['dtype']).name}")
    if problems:
        raise ExportError(f"{name}: signature check failed: {'; '.join(problems)}")


def describe(content: bytes, file: str, heads: Heads, normalization: dict,
             thresholds: dict | None = None) -> dict:
    """The model.json entry of one variant, read back from the converted file; each output
    carries its head's not-sure threshold when there is one."""
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
                                 "labels": list(h.classes),
                                 **({"threshold": thresholds[h.name]}
                                    if thresholds and thresholds.get(h.name) is not None
                                    else {})}
                        for h in heads}}


def model_spec(heads: Heads, image_size: int, variants: dict) -> dict:
    """The whole model.json. `tasks` keeps the label-file column order and short names; the
    default is the registry's where it was exported (each task also carries its kind when not
    classification, and a regression head's unit, center and scale), else the first variant; `reference`
    (where exported) the float variant the others are compared with: readers that may not
    import the registry (the phone page) take both from here."""
    return {"heads": heads.labels_by_name(),
            "tasks": heads.tasks(),
            "image_size": image_size, "default": lead(variants),
            **({"reference": REFERENCE} if REFERENCE in variants else {}), "variants": variants}


