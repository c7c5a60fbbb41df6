"""Standard TFLite metadata: written by export, read back without TensorFlow, refused when wrong.

Uses the hand-weighted known model (helpers_runs), converted once per module, with three heads
declared out of alphabetical order and of different sizes, so that metadata matched to outputs
by position or sorted anywhere would show.
"""
import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers_runs import (export_known_model, known_answer, make_known_model, solid_images,
                          strip_metadata)
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.modelfile import metadata as md
from pipeline.modelfile import tflite_file
from pipeline.heads.schema import Head, Heads
from pipeline.modelfile import model_info
from pipeline.export import convert
from pipeline.modelfile import embed as metadata
from pipeline.modelfile.variants import BY_KEY
from pipeline.training.model import DEFAULT_NORMALIZATION
from helpers_process import run_without_tensorflow

runner = CliRunner()
ZAM = Heads((Head("zeta", "z", ("z0", "z1")), Head("alpha", "a", ("a0", "a1", "a2")),
             Head("mu", "m", ("m0", "m1", "m2", "m3"))))
SIZE = 8
ORANGE = (230, 120, 10)  # no ties between channels: one right answer per head
NORM = {"mean": [120.0, 121.5, 122.0], "std": [60.0, 61.0, 62.5]}


@pytest.fixture(scope="module")
def raw():
    """Converter output without metadata, of every registered variant: {key: bytes}."""
    model = make_known_model(ZAM, SIZE)
    return {key: convert.convert(model, ZAM, SIZE, v.conversion, solid_images(SIZE))
            for key, v in BY_KEY.items()}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("exported")
    export_known_model(folder, ZAM, SIZE, variants=("float32", "int8"))
    return folder


def write(tmp_path, content, name="m.tflite"):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_round_trip_write_then_read(raw, tmp_path):
    spec = {"tasks": [{"name": h.name, "short": h.short} for h in ZAM], "default": "float32"}
    path = write(tmp_path, metadata.embed(raw["float32"], ZAM, NORM, spec))
    info = model_info.read(path)
    assert info.has_metadata and info.normalization == NORM
    assert info.labels == {h.name: list(h.classes) for h in ZAM}  # in the heads' order
    assert info.model_json == spec
    assert info.about["name"] == "multi-task CNN (zeta, alpha, mu)"
    assert info.about["description"].startswith(
        "multi-task CNN: zeta (z0, z1), alpha (a0, a1, a2), mu (m0, m1, m2, m3)")
    assert info.about["min_parser_version"] == "1.0.0"
    assert set(info.files) == {"zeta_labels.txt", "alpha_labels.txt", "mu_labels.txt", "model.json"}


def test_output_metadata_follows_the_subgraph_outputs_through_the_signature(raw):
    content = metadata.embed(raw["int8"], ZAM, DEFAULT_NORMALIZATION)
    model = tflite_file.load(content)
    graph = md.unpack(tflite_file.metadata_bytes(model, content, md.KEY), "m").subgraphMetadata[0]
    sig = tflite_file.signatures(model)[0]
    _, outputs = tflite_file.io_indices(model)
    by_tensor = {index: name for name, index in sig.outputs.items()}
    assert [md.text(m.name) for m in graph.outputTensorMetadata] == [by_tensor[i] for i in outputs]
    for meta in graph.outputTensorMetadata:
        files = md.files_named(meta, 2)  # TENSOR_AXIS_LABELS
        assert files == [f"{md.text(meta.name)}_labels.txt"]


def test_label_files_per_head_in_an_uncompressed_zip(exported):
    content = (exported / "model_int8.tflite").read_bytes()
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert all(i.compress_type == zipfile.ZIP_STORED for i in archive.infolist())
        for head in ZAM:
            lines = archive.read(f"{head.name}_labels.txt").decode().splitlines()
            assert lines == list(head.classes)
        packed = json.loads(archive.read("model.json"))
    assert packed["default"] == "int8" and list(packed["variants"]) == ["int8"]
    beside = json.loads((exported / "model.json").read_text())
    own = {k: v for k, v in beside["variants"]["int8"].items() if k != "size_bytes"}
    assert packed["variants"]["int8"] == own and packed["heads"] == beside["heads"]


@pytest.mark.parametrize("variant", list(BY_KEY))
def test_tensors_graph_and_outputs_unchanged(raw, variant):
    before = raw[variant]
    after = metadata.embed(before, ZAM, DEFAULT_NORMALIZATION, {"default": variant})
    assert tflite_file.graph_difference(before, after, md.KEY) == []
    a, b = tflite_file.load(before), tflite_file.load(after)
    for i in range(a.BuffersLength()):  # every tensor buffer byte-equal, at the same index
        assert tflite_file.buffer_bytes(a, before, i) == tflite_file.buffer_bytes(b, after, i)
    from ai_edge_litert.interpreter import Interpreter

    for image in solid_images(SIZE):
        x = image[None] if BY_KEY[variant].input_dtype == "uint8" else \
            ((image[None] - 128.0) / 128).astype(np.float32)
        outs = [Interpreter(model_content=c).get_signature_runner()(image=x) for c in (before, after)]
        for name in ZAM.names:
            assert np.array_equal(outs[0][name], outs[1][name])


def test_graph_difference_sees_one_changed_weight_byte(raw):
    content = bytearray(raw["float32"])
    model = tflite_file.load(bytes(content))
    index = max(range(model.BuffersLength()), key=lambda i: model.Buffers(i).DataLength())
    start = model.Buffers(index)._tab.Vector(model.Buffers(index)._tab.Offset(4))
    content[start] ^= 1
    assert tflite_file.graph_difference(raw["float32"], bytes(content), md.KEY) == [f"buffer {index}"]


def test_writing_twice_replaces_and_is_deterministic(raw):
    once = metadata.embed(raw["float32"], ZAM, DEFAULT_NORMALIZATION, {"default": "x"})
    again = metadata.embed(once, ZAM, DEFAULT_NORMALIZATION, {"default": "x"})
    assert again == once
    assert list(tflite_file.metadata_entries(tflite_file.load(again))).count(md.KEY) == 1


def test_writer_refuses_swapped_output_metadata(raw):
    meta, files = metadata.build(raw["float32"], ZAM, DEFAULT_NORMALIZATION)
    outputs = meta.subgraphMetadata[0].outputTensorMetadata
    outputs[0], outputs[1] = outputs[1], outputs[0]
    with pytest.raises(md.MetadataError, match="order does not match"):
        metadata.populate(raw["float32"], meta, files)


def test_writer_refuses_a_head_the_signature_lacks(raw):
    meta, files = metadata.build(raw["float32"], ZAM, DEFAULT_NORMALIZATION)
    meta.subgraphMetadata[0].outputTensorMetadata[0].name = "omega"
    with pytest.raises(md.MetadataError, match="head 'omega', which the signature does not have"):
        metadata.populate(raw["float32"], meta, files)
    other = Heads((ZAM.heads[0], ZAM.heads[1], Head("nu", "n", ("n0", "n1", "n2", "n3"))))
    with pytest.raises(md.MetadataError, match="do not match the heads"):
        metadata.build(raw["float32"], other, DEFAULT_NORMALIZATION)


def test_writer_refuses_label_counts_that_do_not_fit(raw):
    meta, files = metadata.build(raw["float32"], ZAM, DEFAULT_NORMALIZATION)
    files["mu_labels.txt"] = b"m0\nm1\nm2\n"
    with pytest.raises(md.MetadataError, match="mu_labels.txt has 3 labels but output 'mu' has 4"):
        metadata.populate(raw["float32"], meta, files)
    wrong = Heads((ZAM.heads[0], ZAM.heads[1], Head("mu", "m", ("m0", "m1"))))
    with pytest.raises(md.MetadataError, match="has 2 labels but output 'mu' has 4"):
        metadata.embed(raw["float32"], wrong, DEFAULT_NORMALIZATION)


def unchecked(content, meta, files):
    """What another tool might write: metadata embedded without the writer's checks."""
    flat = tflite_file.with_metadata(content, md.KEY, md.pack(meta))
    return md.append_files(flat, files)


def one_line_error(result, *fragments):
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_reader_refuses_bad_metadata_at_load(raw, tmp_path):
    image = tmp_path / "red.png"
    from PIL import Image

    Image.new("RGB", (8, 8), (230, 10, 10)).save(image)
    meta, files = metadata.build(raw["int8"], ZAM, DEFAULT_NORMALIZATION)
    files["zeta_labels.txt"] = b"z0\nz1\nz2\n"
    path = write(tmp_path, unchecked(raw["int8"], meta, files), "labels.tflite")
    one_line_error(runner.invoke(app, ["predict", str(image), "--model", str(path)]),
                   "labels.tflite", "zeta_labels.txt has 3 labels but output 'zeta' has 2")
    meta, files = metadata.build(raw["int8"], ZAM, DEFAULT_NORMALIZATION)
    meta.subgraphMetadata[0].outputTensorMetadata[2].name = "omega"
    path = write(tmp_path, unchecked(raw["int8"], meta, files), "head.tflite")
    one_line_error(runner.invoke(app, ["inspect", str(path)]), "head.tflite", "'omega'")


def test_predict_on_a_bare_file(exported, tmp_path):
    from PIL import Image

    bare = shutil.copy(exported / "model_int8.tflite", tmp_path / "renamed.tflite")
    Image.new("RGB", (30, 20), ORANGE).save(tmp_path / "orange.png")
    result = runner.invoke(app, ["predict", str(tmp_path / "orange.png"), "--model", str(bare),
                                 "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["variant"] == "int8" and list(out["predictions"]) == ZAM.names
    expected = [h.classes[c] for h, c in zip(ZAM, known_answer(ZAM, ORANGE))]
    assert [out["predictions"][h]["label"] for h in ZAM.names] == expected == ["z0", "a2", "m1"]


def test_bare_file_without_metadata_says_what_is_missing(exported, tmp_path):
    bare = strip_metadata(shutil.copy(exported / "model_float32.tflite", tmp_path / "m.tflite"))
    result = runner.invoke(app, ["predict", str(exported / "model.json"), "--model", str(bare)])
    one_line_error(result, "m.tflite: no TFLite metadata in the file and no model.json beside it")


def test_inspect_text_and_json(exported, tmp_path):
    result = runner.invoke(app, ["inspect", str(exported / "model_int8.tflite")])
    assert result.exit_code == 0, result.output
    assert "signature 'serving_default'" in result.stdout and "labels: m0, m1, m2, m3" in result.stdout
    assert "input  image" in result.stdout and "zero_point 128" in result.stdout
    result = runner.invoke(app, ["inspect", str(exported / "model_int8.tflite"), "--json"])
    s = json.loads(result.stdout)
    assert s["signatures"] == ["serving_default"] and s["inputs"]["image"]["dtype"] == "uint8"
    assert s["inputs"]["image"]["quantization"] == {"scale": 1 / 128, "zero_point": 128}
    assert {k: v["labels"] for k, v in s["outputs"].items()} == {h.name: list(h.classes) for h in ZAM}
    assert s["ops"]["FULLY_CONNECTED"] == 3 and s["op_total"] == sum(s["ops"].values())
    assert s["metadata"]["normalization"] == DEFAULT_NORMALIZATION
    assert s["size_bytes"] == (exported / "model_int8.tflite").stat().st_size
    bare = strip_metadata(shutil.copy(exported / "model_int8.tflite", tmp_path / "b.tflite"))
    result = runner.invoke(app, ["inspect", str(bare), "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["metadata"] is None


def test_reading_imports_no_tensorflow(exported):
    run_without_tensorflow("from pipeline.deploy import inspect; "
                           f"inspect.show({str(exported / 'model_int8.tflite')!r})")


@pytest.mark.skipif(shutil.which("flatc") is None, reason="flatc (Debian flatbuffers-compiler) absent")
def test_generated_schema_code_matches_the_schema(tmp_path):
    folder = Path(md.__file__).parent / "metadata_fbs"
    shutil.copytree(folder, tmp_path / "fbs", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(["bash", str(tmp_path / "fbs" / "regenerate.sh")], check=True)
    assert ((tmp_path / "fbs" / "metadata_schema_generated.py").read_bytes()
            == (folder / "metadata_schema_generated.py").read_bytes())
