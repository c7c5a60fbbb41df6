"""The export variant registry (pipeline/modelfile/variants.py): its entries, the consumers that
list it, and `pipeline export --variants` choosing among them."""
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from helpers_runs import make_tiny_exported_run
from typer.testing import CliRunner

from pipeline.bench.variants import ORDER, arithmetic
from pipeline.cli import app
from pipeline.core.errors import PipelineError
from pipeline.rundir.runs import RunDir
from pipeline.modelfile import variants as registry
from pipeline.modelfile.variants import BY_KEY, DEFAULT, REFERENCE, VARIANTS

runner = CliRunner()


def test_entries_are_distinct_and_well_formed():
    for field in ("key", "file", "bench_key", "label"):
        values = [getattr(v, field) for v in VARIANTS]
        assert len(set(values)) == len(values), field
    assert DEFAULT in BY_KEY and REFERENCE in BY_KEY
    # the reference is held to Keras float with the same maths: a plain float conversion
    assert BY_KEY[REFERENCE].conversion == registry.FLOAT32
    assert BY_KEY[REFERENCE].source == "float"
    for v in VARIANTS:
        assert v.file == f"model_{v.key}.tflite" and v.source in ("float", "qat")
        assert v.arithmetic in ("float32", "int8")
        assert v.input_dtype in ("float32", "uint8")  # LiteRT.js has no int8 tensors
        assert v.conversion.full_integer == (v.input_dtype == "uint8")
        assert set(v.conversion.supported_types) <= {"float16"}


def test_consumers_list_the_registry():
    assert ORDER == (registry.BENCH_KERAS, *(v.bench_key for v in VARIANTS), registry.BENCH_PAIR)
    assert all(arithmetic(v.bench_key) == v.arithmetic for v in VARIANTS)
    for command in ("export", "android"):
        text = runner.invoke(app, [command, "--help"], terminal_width=200).output
        assert all(key in text for key in BY_KEY), command


def test_select_in_registry_order_and_refuses_unknown_names():
    assert registry.select(None) == VARIANTS
    assert registry.select([DEFAULT, REFERENCE]) == tuple(
        v for v in VARIANTS if v.key in (DEFAULT, REFERENCE))
    with pytest.raises(PipelineError, match=r"unknown variant 'fp8' \(registered: "):
        registry.select([REFERENCE, "fp8"])
    with pytest.raises(PipelineError, match="at least one"):
        registry.select([])
    assert registry.lead(list(BY_KEY)) == DEFAULT
    assert registry.lead([REFERENCE]) == REFERENCE


@pytest.fixture
def run(tmp_path) -> Path:
    """A copy of the tiny exported run (built once per process), its own for each test."""
    return make_tiny_exported_run(tmp_path).root


def _files(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_unknown_variant_is_one_line_and_nothing_is_written(run):
    before = _files(run)
    result = runner.invoke(app, ["export", "--run", str(run), "--variants", f"{REFERENCE},fp8"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "'fp8'" in lines[0] and REFERENCE in lines[0], result.output
    assert _files(run) == before


def test_export_of_some_variants_keeps_the_others_byte_for_byte(run):
    """Issue 36: `--variants float32` used to leave an export of float32 alone, so the int8
    file the app ships was gone and `pipeline evaluate` of it failed."""
    manifest = json.loads((run / "manifest.json").read_text())
    before = manifest["stages"]["export"]["outputs"]
    old_spec = json.loads((run / "export" / "model.json").read_text())
    assert DEFAULT in old_spec["variants"] and len(old_spec["variants"]) > 1
    result = runner.invoke(app, ["export", "--run", str(run), "--variants", REFERENCE])
    assert result.exit_code == 0, result.output
    assert "kept from the previous export" in result.output
    manifest = json.loads((run / "manifest.json").read_text())
    entry = manifest["stages"]["export"]
    assert entry["settings"]["variants"] == [REFERENCE]
    assert set(entry["settings"]["kept"]) == set(old_spec["variants"]) - {REFERENCE}
    for key in entry["settings"]["kept"]:  # same bytes, same manifest record
        name = f"export/{BY_KEY[key].file}"
        assert entry["outputs"][name]["sha256"] == before[name]["sha256"], key
    spec = json.loads((run / "export" / "model.json").read_text())
    assert list(spec["variants"]) == list(old_spec["variants"]) and spec["default"] == DEFAULT
    for key in entry["settings"]["kept"]:
        assert spec["variants"][key] == old_spec["variants"][key]
    metrics = json.loads((run / "export" / "metrics.json").read_text())
    assert list(metrics["variants"]) == list(old_spec["variants"])
    assert metrics["size_ratio_int8_to_float32"] is not None
    RunDir(run).verify("export")  # every recorded file there, with its sha256
    labels = run.parent / "run_data" / "test.txt"
    result = runner.invoke(app, ["evaluate", "--model", str(run / "export" / BY_KEY[DEFAULT].file),
                                 "--labels", str(labels)])
    assert result.exit_code == 0, result.output


def test_a_file_the_current_export_did_not_write_says_what_it_holds(run):
    with pytest.raises(PipelineError) as exc:
        RunDir(run).file("export", "model_fp8.tflite")
    message = str(exc.value)
    assert "did not write it" in message and BY_KEY[DEFAULT].file in message, message


def test_float16_stores_half_precision_weights_and_keeps_float_io(run):
    """The float16 entry through `pipeline quantize`'s export: float16 weight tensors (about
    half the float32 file), float32 input and outputs, the float32 file's answers."""
    from ai_edge_litert.interpreter import Interpreter

    export = run / "export"
    spec = json.loads((export / "model.json").read_text())
    entry = spec["variants"]["float16"]
    assert entry["file"] == "model_float16.tflite" and entry["input"]["dtype"] == "float32"
    assert {o["dtype"] for o in entry["outputs"].values()} == {"float32"}
    tensors = Interpreter(model_path=str(export / entry["file"])).get_tensor_details()
    assert any(np.dtype(t["dtype"]) == np.float16 for t in tensors)
    metrics = json.loads((export / "metrics.json").read_text())["variants"]
    f16, f32 = metrics["float16"], metrics[REFERENCE]
    assert 0.4 < f16["size_bytes"] / f32["size_bytes"] < 0.6
    # vs Keras float: weights rounded to 11 bits; a tiny 32 px model with sharp logits moved
    # one probability by 0.025 in a CI run, so the bound is 0.05 (answers are checked apart)
    assert f16["max_abs_diff"] < 5e-2
    assert f16["accuracy"] == pytest.approx(f32["accuracy"], abs=0.1)
    assert all(v == 1.0 for v in f16["answered_agreement"].values())


def test_float16_reaches_the_app_and_the_benchmark_by_the_registry_alone(run, tmp_path):
    result = runner.invoke(app, ["android", "--run", str(run), "--variant", "float16",
                                 "--assets", str(tmp_path / "assets")])
    assert result.exit_code == 0, result.output
    from pipeline.modelfile import model_info

    info = model_info.read(tmp_path / "assets" / "model.tflite")
    assert info.model_json["default"] == "float16"
    assert "tflite_float16" in ORDER and arithmetic("tflite_float16") == "float32"
