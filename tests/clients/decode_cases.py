"""decode_cases.json, for the Kotlin test RealOutputsTest: the app's decoding against predict.

    python tests/clients/decode_cases.py FIXTURES_DIR

FIXTURES_DIR is make_fixtures.py's output after run.sh has written predict_<variant>.jsonl
(`pipeline predict --json` on mediapipe_images/ with each bare MediaPipe model). For each image
predict answered, with each of those files, the case holds the raw bytes of every output as
Python LiteRT gives them for the same file and input tensor, and predict's answers; the Kotlin
test reads each file's spec, decodes these bytes with the app's own code and must give the
same answers.
"""
from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import numpy as np

from pipeline.deploy.predict import prepare_file
from pipeline.modelfile.runtime import TFLiteModel


def decode_cases(out: Path) -> None:
    spec = json.loads((out / "mediapipe_cases.json").read_text(encoding="utf-8"))
    cases, kinds = [], set()
    for key, entry in spec["variants"].items():
        model = TFLiteModel(out / entry["model"])
        kinds |= {h.kind for h in model.heads}
        for line in (out / entry["predict"]).read_text(encoding="utf-8").splitlines():
            said = json.loads(line)
            image = out / "mediapipe_images" / Path(said["file"]).name
            raw = model.runner(**{model.input_name: prepare_file(model, image)})
            cases.append({"model": entry["model"], "variant": key,
                          "image": f"mediapipe_images/{image.name}",
                          "outputs": {name: raw_output(model, name, raw[name]) for name in model.labels},
                          "predict": said["predictions"]})
    (out / "decode_cases.json").write_text(json.dumps(cases, indent=1), encoding="utf-8")
    print(f"fixtures: {len(cases)} decode cases ({', '.join(sorted(kinds))} heads) -> {out}")


def raw_output(model: TFLiteModel, name: str, value: np.ndarray) -> dict:
    """An output tensor as the app's interpreter hands it over: bytes (this machine's order,
    as Java's nativeOrder reads them), dtype, element count, and its quantization when integer."""
    quant = model.outputs[name]["quantization"] if np.issubdtype(value.dtype, np.integer) else None
    return {"dtype": np.dtype(value.dtype).name, "count": int(value.size),
            "quantization": [float(quant[0]), int(quant[1])] if quant else None,
            "bytes": base64.b64encode(np.ascontiguousarray(value).tobytes()).decode("ascii")}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    decode_cases(Path(sys.argv[1]))
