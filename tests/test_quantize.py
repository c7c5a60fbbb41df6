"""`pipeline quantize` on a tiny trained run: QAT, all four exports, checks, crash safety."""
import csv
import json

import numpy as np

import pytest
from helpers_runs import make_tiny_exported_run
from typer.testing import CliRunner

from pipeline.export import convert as export
from pipeline.export import writer as stage
from pipeline.modelfile import spec as export_spec
from pipeline.modelfile.variants import BY_KEY, VARIANTS
from pipeline.export import quantize
from pipeline.cli import app
from pipeline.heads.schema import FLOWER_HEADS
from pipeline.rundir.runs import RunDir

runner = CliRunner()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return make_tiny_exported_run(tmp_path_factory.mktemp("q"))


def test_stage_outputs_and_manifest(exported):
    run = exported
    assert {"model.h5", "history.csv", "metrics.json"} <= {p.name for p in run.path("qat").iterdir()}
    assert {p.name for p in run.path("export").iterdir()} == {v.file for v in VARIANTS} | {
        "model.json", "metrics.json"}
    stages = run.manifest()["stages"]
    assert {"train", "qat", "export"} <= set(stages)
    assert stages["qat"]["settings"]["epochs"] == 1
    assert "export/model_int8.tflite" in stages["export"]["outputs"]
    with open(run.path("qat") / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and "flower_type_accuracy" in rows[0]
    qat_metrics = json.loads((run.path("qat") / "metrics.json").read_text())
    for split in ("test", "val"):
        for head in FLOWER_HEADS:
            assert set(qat_metrics[split][head.name]) >= {"accuracy", "n", "confusion"}
        assert "joint_accuracy" in qat_metrics[split]


def test_every_file_has_the_golden_signature(exported):
    spec = json.loads((exported.path("export") / "model.json").read_text())
    assert list(spec["variants"]) == [v.key for v in VARIANTS]
    assert list(spec["heads"]) == ["flower_type", "flower_color"]  # declared, not sorted, order
    for key, entry in spec["variants"].items():
        content = (exported.path("export") / entry["file"]).read_bytes()
        dtype = BY_KEY[key].input_dtype
        export_spec.check_signature(content, FLOWER_HEADS, 32, dtype)
        assert entry["input"]["shape"] == [1, 32, 32, 3] and entry["input"]["dtype"] == dtype


def test_qat_input_takes_camera_bytes_and_checks_passed(exported):
    spec = json.loads((exported.path("export") / "model.json").read_text())
    int8 = spec["variants"]["int8"]["input"]
    assert int8["quantization"] == {"scale": 1 / 128, "zero_point": 128}
    assert int8["raw_pixels"] is True
    metrics = json.loads((exported.path("export") / "metrics.json").read_text())["variants"]
    assert metrics["float32"]["max_abs_diff"] <= stage.MAX_FLOAT_DIFF
    assert all(0 <= v <= 1 for v in metrics["int8"]["agreement"].values())
    for key in BY_KEY:
        assert set(metrics[key]["accuracy"]) == set(FLOWER_HEADS.names)
    assert metrics["int8"]["size_bytes"] <= 0.3 * metrics["float32"]["size_bytes"]


def test_qat_model_loads_inside_quantize_scope(exported):
    import tensorflow_model_optimization as tfmot

    from pipeline.core.tfcompat import keras

    with tfmot.quantization.keras.quantize_scope():
        model = keras().models.load_model(exported.path("qat") / "model.h5", compile=False)
    assert sorted(n.removeprefix("quant_") for n in model.output_names) == sorted(
        FLOWER_HEADS.names)


def snapshot(run: RunDir) -> dict:
    files = {str(p.relative_to(run.root)): p.read_bytes() for stage in ("qat", "export")
             for p in sorted(run.path(stage).rglob("*")) if p.is_file()}
    return {"files": files, "manifest": run.manifest_path.read_text()}


def test_interrupted_quantize_leaves_previous_export(exported, tmp_path, monkeypatch):
    run = make_tiny_exported_run(tmp_path)
    before = snapshot(run)

    def dies_midway(out_dir, *args, **kwargs):
        (out_dir / "model_float32.tflite").write_bytes(b"half a file")
        raise KeyboardInterrupt

    # Skip the slow parts; what is under test is the publishing, not the training.
    monkeypatch.setattr(quantize, "quantize_model", lambda model, normalization: model)
    monkeypatch.setattr(quantize, "fine_tune", lambda *args: {})
    monkeypatch.setattr(quantize, "recalibrate_qat", lambda *args: {})  # needs a QAT model
    monkeypatch.setattr(stage, "export", dies_midway)
    result = runner.invoke(app, ["quantize", "--run", str(run.root)])
    assert result.exit_code != 0 and "interrupted" in result.output
    assert snapshot(run) == before
    current = {entry["dir"] for entry in run.manifest()["stages"].values()}
    hidden = {p.name for p in run.root.iterdir() if p.name.startswith(".")}
    assert hidden == current | {".lock"}  # no partial folder left, only the stages' versions


def one_line_error(result, *fragments):
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert all(f in lines[0] for f in fragments), lines[0]


def test_run_without_trained_model(tmp_path):
    (tmp_path / "run").mkdir()
    result = runner.invoke(app, ["quantize", "--run", str(tmp_path / "run")])
    one_line_error(result, "stage 'train' has not finished", "pipeline train")


def test_label_file_errors_stop_quantize(exported, tmp_path):
    run = make_tiny_exported_run(tmp_path)
    data = run.stage_entry("train")["settings"]["data"]
    with open(f"{data}/test.txt", "a") as f:
        f.write("images/missing.png, 0, 1\n")
    result = runner.invoke(app, ["quantize", "--run", str(run.root)])
    one_line_error(result, "test.txt:", "image not found")


def test_agreement_gate_fails_only_where_the_test_set_can_judge_it():
    results = {"float32": {"max_abs_diff": 1e-6},
               "int8": {"agreement": {"flower_type": 0.9, "flower_color": 1.0}}}
    enough = {h: stage.MIN_GATED_IMAGES for h in FLOWER_HEADS.names}
    failures, warnings = stage.gate(results, FLOWER_HEADS, enough)
    assert len(failures) == 1 and "90.0% of flower_type" in failures[0] and not warnings
    # counted per head: photos labelled with one of its classes
    few = {"flower_type": 12, "flower_color": stage.MIN_GATED_IMAGES}
    failures, warnings = stage.gate(results, FLOWER_HEADS, few)
    assert not failures and "only 12 test images" in warnings[0]
    results["float32"]["max_abs_diff"] = 1e-3
    assert "float32 differs" in stage.gate(results, FLOWER_HEADS, few)[0][0]


def test_qat_ranges_start_where_the_float_activations_are():
    """tfmot starts every range at [-6, 6]; calibrate_ranges sets them from the float model."""
    from pipeline.core.config import DEFAULT_NORMALIZATION, ModelConfig
    from pipeline.core.tfcompat import keras
    from pipeline.training.model import build_model

    model = build_model(ModelConfig(image_size=32, batchnorm=False), FLOWER_HEADS)
    qat = quantize.quantize_model(model, DEFAULT_NORMALIZATION)
    pixels = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3)).astype(np.uint8)
    assert quantize.calibrate_ranges(qat, model, pixels, DEFAULT_NORMALIZATION, batch=3) > 10
    probe = keras().Model(model.inputs, model.get_layer("fire4_concat").output)
    out = probe.predict((pixels - 128.0) / 128.0, verbose=0)
    lo = qat.get_layer("quant_fire4_concat").weights
    ranges = {v.name.split("/")[-1].split(":")[0]: float(v.numpy()) for v in lo
              if "output_m" in v.name}
    assert ranges == pytest.approx({"output_min": min(0.0, float(out.min())),
                                    "output_max": float(out.max())}, rel=1e-5)
