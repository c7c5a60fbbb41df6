"""`pipeline evaluate`: known answers, -1 skipped per head, run dir or file, and bad input."""
import json
import shutil

import numpy as np
import pytest
from helpers_runs import export_known_model, strip_metadata
from PIL import Image
from typer.testing import CliRunner

from pipeline import api
from pipeline.deploy import evaluate
from pipeline.cli import app
from pipeline.heads.schema import FLOWER_HEADS
from pipeline.rundir.runs import RunDir
from helpers_process import run_without_tensorflow

runner = CliRunner()
RED, GREEN, BLUE = (230, 10, 10), (10, 230, 10), (10, 40, 230)
# The known model predicts (type, colour): red -> (rose, white), green -> (daisy, red),
# blue -> (daisy, pink). Labels below: type right 4 of 5, colour right 4 of 5, both 2 of 4.
ROWS = [("red", RED, "0, 2"), ("green", GREEN, "1, 0"), ("blue", BLUE, "0, 1"),
        ("red2", RED, "-1, 2"), ("green2", GREEN, "1, -1"), ("blue2", BLUE, "1, 0")]


@pytest.fixture(scope="module")
def known(tmp_path_factory):
    root = tmp_path_factory.mktemp("known")
    with RunDir(root / "run").stage("export") as stage:  # a run directory with an export
        export_known_model(stage.dir, FLOWER_HEADS, variants=("float32", "int8"))
    (root / "images").mkdir()
    lines = ["# name, type, colour", ""]
    for name, rgb, labels in ROWS:
        Image.new("RGB", (20, 12), rgb).save(root / "images" / f"{name}.png")
        lines.append(f"images/{name}.png, {labels}")
    (root / "labels.txt").write_text("\n".join(lines) + "\n")
    return root


def check_known(metrics):
    t, c = metrics["flower_type"], metrics["flower_color"]
    assert (t["n"], t["accuracy"], t["confusion"]) == (5, 0.8, [[1, 1], [0, 3]])
    assert t["per_class"]["rose"] == {"precision": 1.0, "recall": 0.5, "n": 2}
    assert (c["n"], c["accuracy"]) == (5, 0.8)
    assert c["confusion"] == [[1, 1, 0], [0, 1, 0], [0, 0, 2]]
    assert (metrics["joint_n"], metrics["joint_accuracy"]) == (4, 0.5)


def test_known_answers_from_a_tflite_file(known, tmp_path):
    out = tmp_path / "m.json"
    result = runner.invoke(app, ["evaluate", "--model", str(known / "run/export/model_float32.tflite"),
                                 "--labels", str(known / "labels.txt"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "joint accuracy" in result.output
    saved = json.loads(out.read_text())
    assert saved["variant"] == "float32" and saved["n"] == 6
    check_known(saved["metrics"])


def test_run_directory_uses_its_default_int8_variant(known):
    result = api.evaluate(known / "run", known / "labels.txt")
    assert result["variant"] == "int8"
    check_known(result["metrics"])


def test_tflite_evaluation_imports_no_tensorflow(known):
    run_without_tensorflow("from pipeline import api; "
                           f"api.evaluate({str(known / 'run/export/model_int8.tflite')!r}, "
                           f"{str(known / 'labels.txt')!r})")


def assert_one_line_error(result, *fragments):
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0]


def test_truncated_tflite(known, tmp_path):
    shutil.copytree(known / "run/export", tmp_path / "export")
    path = tmp_path / "export/model_int8.tflite"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    result = runner.invoke(app, ["evaluate", "--model", str(path), "--labels",
                                 str(known / "labels.txt")])
    assert_one_line_error(result, "model_int8.tflite", "cannot load")


def test_tflite_without_metadata_reads_the_model_json_beside_it(known, tmp_path):
    shutil.copytree(known / "run/export", tmp_path / "export")
    strip_metadata(tmp_path / "export/model_int8.tflite")
    result = api.evaluate(tmp_path / "export/model_int8.tflite", known / "labels.txt")
    assert result["variant"] == "int8"
    check_known(result["metrics"])


def test_tflite_without_metadata_and_other_outputs_in_model_json(known, tmp_path):
    shutil.copytree(known / "run/export", tmp_path / "export")
    strip_metadata(tmp_path / "export/model_int8.tflite")
    spec_path = tmp_path / "export/model.json"
    spec = json.loads(spec_path.read_text())
    spec["heads"] = {"flower_type": ["rose", "daisy"], "flower_kind": ["a", "b"]}
    spec["tasks"] = [{"name": "flower_type"}, {"name": "flower_kind"}]
    spec_path.write_text(json.dumps(spec))
    result = runner.invoke(app, ["evaluate", "--model", str(tmp_path / "export/model_int8.tflite"),
                                 "--labels", str(known / "labels.txt")])
    assert_one_line_error(result, "lacks output", "flower_kind")


def test_bare_tflite_takes_everything_from_its_metadata(known, tmp_path):
    shutil.copy(known / "run/export/model_int8.tflite", tmp_path)
    result = api.evaluate(tmp_path / "model_int8.tflite", known / "labels.txt")
    assert result["variant"] == "int8"
    check_known(result["metrics"])


def test_bare_tflite_without_metadata_is_one_line(known, tmp_path):
    shutil.copy(known / "run/export/model_int8.tflite", tmp_path)
    strip_metadata(tmp_path / "model_int8.tflite")
    result = runner.invoke(app, ["evaluate", "--model", str(tmp_path / "model_int8.tflite"),
                                 "--labels", str(known / "labels.txt")])
    assert_one_line_error(result, "model_int8.tflite", "no TFLite metadata", "model.json")


def test_label_file_with_errors(known, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text(f"{known}/images/red.png, 0, 2\n{known}/images/red.png, 0, 7\n")
    result = runner.invoke(app, ["evaluate", "--model", str(known / "run"), "--labels", str(bad)])
    assert_one_line_error(result, "bad.txt:2:", "out of range")


def test_run_without_export(tmp_path):
    (tmp_path / "run").mkdir()
    result = runner.invoke(app, ["evaluate", "--model", str(tmp_path / "run"), "--labels",
                                 str(tmp_path / "labels.txt")])
    assert_one_line_error(result, "no exported model")


def test_predictions_stack_per_head(known):
    tflite = evaluate.open_model(known / "run")
    probs = evaluate.predict(tflite, np.zeros((3, 8, 8, 3), np.uint8))
    assert {k: v.shape for k, v in probs.items()} == {"flower_type": (3, 2),
                                                      "flower_color": (3, 3)}
