"""The conversion module: signatures by name, model.json, parity of each variant.

Uses a tiny hand-weighted model (helpers_runs.make_known_model) that converts in seconds;
the SqueezeNet + QAT path is covered in test_quantize.py.
"""
import json

import numpy as np
import pytest
from helpers_runs import export_known_model, known_answer, make_known_model, solid_images

from pipeline.modelfile.contract import Contract
from pipeline.export import convert as export
from pipeline.export import writer as stage
from pipeline.modelfile import spec as export_spec
from pipeline.heads.schema import FLOWER_HEADS, Head, Heads
from pipeline.modelfile.runtime import TFLiteModel
from pipeline.modelfile.variants import BY_KEY, FULL_INT8, REFERENCE

# Declared out of alphabetical order, with different class counts, so that reading outputs by
# position or sorting them anywhere gives wrong shapes or wrong answers.
ZAM = Heads((Head("zeta", "z", ("z0", "z1")), Head("alpha", "a", ("a0", "a1", "a2")),
             Head("mu", "m", ("m0", "m1", "m2", "m3"))))
SIZE = 8


@pytest.fixture(scope="module")
def zam(tmp_path_factory):
    folder = tmp_path_factory.mktemp("zam")
    return folder, export_known_model(folder, ZAM, SIZE)


def test_golden_signature(zam):
    folder, spec = zam
    assert list(spec["variants"]) == list(BY_KEY)  # every registered variant, in order
    for key, entry in spec["variants"].items():
        content = (folder / entry["file"]).read_bytes()
        signatures, inputs, outputs = export_spec.signature_details(content)
        assert signatures == {"serving_default": {"inputs": ["image"],
                                                  "outputs": sorted(ZAM.names)}}
        assert list(inputs["image"]["shape"]) == [1, SIZE, SIZE, 3]
        assert np.dtype(inputs["image"]["dtype"]).name == BY_KEY[key].input_dtype
        for head in ZAM:
            assert list(outputs[head.name]["shape"]) == [1, head.num_classes]
            assert np.dtype(outputs[head.name]["dtype"]).name == "float32"


def test_model_json_keeps_head_order_and_labels(zam):
    folder, spec = zam
    on_disk = json.loads((folder / "model.json").read_text())
    assert on_disk == spec
    assert list(on_disk["heads"]) == ["zeta", "alpha", "mu"]
    assert [t["name"] for t in on_disk["tasks"]] == ["zeta", "alpha", "mu"]
    assert on_disk["default"] == "int8"
    int8 = on_disk["variants"]["int8"]
    assert int8["file"] == "model_int8.tflite" and int8["signature"] == "serving_default"
    assert list(int8["outputs"]) == ["zeta", "alpha", "mu"]
    assert int8["outputs"]["mu"]["labels"] == ["m0", "m1", "m2", "m3"]
    # Calibrated on images spanning 0..255: camera bytes go in unchanged.
    assert int8["input"]["quantization"] == {"scale": 1 / 128, "zero_point": 128}
    assert int8["input"]["raw_pixels"] is True
    assert on_disk["variants"]["float32"]["input"]["raw_pixels"] is False


def test_parity_per_variant_and_outputs_read_by_name(zam):
    folder, spec = zam
    model = make_known_model(ZAM, SIZE)
    pixels = solid_images(SIZE)[[0, 1, 2, 5]]  # no ties (black and white are all ties)
    normalization = spec["variants"]["float32"]["input"]["normalization"]
    reference = stage.keras_probs(model, Contract(ZAM, SIZE, normalization), pixels)
    for key, entry in spec["variants"].items():
        limit = 1e-4 if key == REFERENCE else 2e-2  # float32: same maths; others: rounded
        tflite = TFLiteModel(folder / entry["file"])
        for i, image in enumerate(pixels):
            out = tflite(image)
            for j, head in enumerate(ZAM):
                assert np.abs(out[head.name] - reference[head.name][i]).max() <= limit, key
                rgb = tuple(int(v) for v in image[0, 0])
                assert int(out[head.name].argmax()) == known_answer(ZAM, rgb)[j], (key, head)


def test_signature_check_rejects_other_outputs(zam):
    folder, _ = zam
    content = (folder / "model_float32.tflite").read_bytes()
    with pytest.raises(export_spec.ExportError, match="outputs"):
        export_spec.check_signature(content, FLOWER_HEADS, SIZE, "float32")
    with pytest.raises(export_spec.ExportError, match="input dtype"):
        export_spec.check_signature(content, ZAM, SIZE, "uint8")
    export_spec.check_signature(content, ZAM, SIZE, "float32")


def test_int8_conversion_refuses_normalized_images():
    model = make_known_model(ZAM, SIZE)
    with pytest.raises(ValueError, match="uint8"):
        export.convert(model, ZAM, SIZE, FULL_INT8, solid_images(SIZE).astype(np.float32) / 255)


def test_raw_pixels_only_for_exact_folding():
    norm = {"mean": [128.0] * 3, "std": [128.0] * 3}
    entry = {"dtype": "uint8", "quantization": {"scale": 1 / 128, "zero_point": 128},
             "normalization": norm}
    assert export_spec.raw_pixels(entry)
    entry["normalization"] = {"mean": [124.0, 117.0, 104.0], "std": [58.0, 57.0, 57.0]}
    assert not export_spec.raw_pixels(entry)
