"""Reference data for the client checks, written from a real exported run by Python LiteRT.

    python tests/clients/make_fixtures.py data OUT_DIR       # a tiny, easy labelled data set
    python tests/clients/make_fixtures.py RUN_DIR SAMPLE_IMAGES_DIR OUT_DIR

OUT_DIR gets images/ (fixed PNGs), inputs/ (the exact tensors `pipeline predict` feeds each
variant, from the same function it uses), models/ (every exported .tflite + model.json), and

    golden_cases.json   for the Kotlin test: image, variant, input quantization, expected bytes
    browser_cases.json  for the browser check: per variant and image, Python's raw outputs by
                        name with the tolerance each output is held to

PNG only: the JVM test decodes with ImageIO, and PNG decoding is exact everywhere, so any
difference left is in the resize / normalization / quantization code under test.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from pipeline.core.images import open_rgb
from pipeline.deploy.predict import prepare_file
from pipeline.deploy.runtime import TFLiteModel

FLOAT_TOLERANCE = 1e-5  # the bound for float outputs of a float model
# A dynamic-range model quantizes activations to int8 at run time, and Python's LiteRT and the
# wasm build round them in different kernels: ~4e-3 apart on some images. Held to its own,
# looser bound and reported as such, not to the float bound it cannot meet.
HYBRID_TOLERANCE = 1e-2


def fixed_images(samples: Path, out: Path) -> list[Path]:
    """Two real training drawings plus synthetic ones: non-square shrinks (mild and strong,
    where Pillow's filter widens) and an enlarge."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    files = sorted(p for p in samples.iterdir() if p.is_file())
    for i, src in enumerate([files[0], files[-1]]):  # first and last: different classes
        paths.append(out / f"sample{i}.png")
        open_rgb(src).save(paths[-1])
    rng = np.random.default_rng(6)
    for name, (h, w) in (("gradient_97x61.png", (61, 97)), ("photo_300x200.png", (200, 300)),
                         ("small_20x13.png", (13, 20))):
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 127 / (w + h)], axis=-1)
        pixels = np.clip(base + rng.normal(0, 25, base.shape), 0, 255).astype(np.uint8)
        paths.append(out / name)
        Image.fromarray(pixels, "RGB").save(paths[-1])
    return paths


def output_steps(model: TFLiteModel) -> dict[str, float | None]:
    """For each float output fed by a DEQUANTIZE op: that op's input scale, one quantization step
    of the integer model's real output. None for outputs computed in float."""
    interpreter = model.interpreter
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    steps = {}
    for name, detail in model.outputs.items():
        steps[name] = None
        for op in interpreter._get_ops_details():  # no public API lists ops
            if op["op_name"] == "DEQUANTIZE" and detail["index"] in list(op["outputs"]):
                steps[name] = float(tensors[op["inputs"][0]]["quantization"][0])
    return steps


def is_hybrid(model: TFLiteModel) -> bool:
    """Float input but int8 weights: dynamic-range quantization."""
    return (not np.issubdtype(model.input["dtype"], np.integer)
            and any(t["dtype"] == np.int8 for t in model.interpreter.get_tensor_details()))


def tolerance(model: TFLiteModel, name: str, step: float | None) -> dict:
    detail = model.outputs[name]
    if np.issubdtype(detail["dtype"], np.integer):
        return {"abs": 1, "why": "integer output: one quantization step (raw units)"}
    if step:
        return {"abs": step * (1 + 1e-6), "why": f"float output of a quantized softmax: one step ({step:g})"}
    if is_hybrid(model):
        return {"abs": HYBRID_TOLERANCE, "why": "dynamic-range model: activations quantized at run time"}
    return {"abs": FLOAT_TOLERANCE, "why": "float model"}


def variant_cases(key: str, entry: dict, export: Path, images: list[Path], out: Path):
    model = TFLiteModel(export / entry["file"])
    steps = output_steps(model)
    golden, browser = [], []
    quant = model.input["quantization"] if np.issubdtype(model.input["dtype"], np.integer) else None
    for image in images:
        x = prepare_file(model, image)
        rel = f"inputs/{key}_{image.stem}.bin"
        (out / rel).write_bytes(np.ascontiguousarray(x).tobytes())
        golden.append({"image": f"images/{image.name}", "variant": key, "model_json": "models/model.json",
                       "quantization": [float(quant[0]), int(quant[1])] if quant else None,
                       "expected": rel})
        raw = model.runner(**{model.input_name: x})
        outputs = {name: {"dtype": np.dtype(raw[name].dtype).name, "shape": list(raw[name].shape),
                          "values": raw[name].ravel().tolist(),
                          "tolerance": tolerance(model, name, steps[name])}
                   for name in model.labels}
        browser.append({"variant": key, "model": f"models/{entry['file']}",
                        "signature": entry.get("signature", "serving_default"),
                        "input": {"name": model.input_name, "dtype": np.dtype(x.dtype).name,
                                  "shape": list(x.shape), "file": rel},
                        "image": f"images/{image.name}", "labels": model.labels, "outputs": outputs})
    return golden, browser


def main(run: Path, samples: Path, out: Path) -> None:
    export = run / "export"
    spec = json.loads((export / "model.json").read_text(encoding="utf-8"))
    for folder in ("inputs", "models"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    images = fixed_images(samples, out / "images")
    shutil.copyfile(export / "model.json", out / "models" / "model.json")
    golden, browser = [], []
    for key, entry in spec["variants"].items():
        shutil.copyfile(export / entry["file"], out / "models" / entry["file"])
        g, b = variant_cases(key, entry, export, images, out)
        golden += g
        browser += b
    (out / "golden_cases.json").write_text(json.dumps(golden, indent=1), encoding="utf-8")
    (out / "browser_cases.json").write_text(json.dumps(browser, indent=1), encoding="utf-8")
    print(f"fixtures: {len(images)} images x {len(spec['variants'])} variants -> {out}")


def write_data(out: Path) -> None:
    """The tests' trivially separable drawings (discs vs petal rings), as split label files.
    A model trained on them is confident, so the export's int8-vs-QAT arg-max gate is not
    decided by near-ties the way it is on an hour-less model of the harder synth images."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from helpers_runs import write_tiny_dataset

    write_tiny_dataset(out, per_class=3)
    print(f"data: {len(list((out / 'images').iterdir()))} drawings -> {out}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "data":
        write_data(Path(sys.argv[2]))
    elif len(sys.argv) == 4:
        main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        sys.exit(__doc__)
