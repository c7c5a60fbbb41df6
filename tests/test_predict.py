"""`pipeline predict` through the CLI: files and folders, bad inputs, --json, no TensorFlow."""
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from helpers_runs import draw_flower, make_tiny_exported_run
from pipeline.cli import app
from pipeline.heads.schema import FLOWER_HEADS

runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return make_tiny_exported_run(tmp_path_factory.mktemp("predict")).root


@pytest.fixture()
def photos(tmp_path):
    """A folder with two flowers (one not at the model's size), a broken .jpg and a note."""
    folder = tmp_path / "photos"
    folder.mkdir()
    draw_flower("rose", "red").save(folder / "a_rose.png")
    draw_flower("daisy", "white", size=75).resize((90, 60)).save(folder / "b_daisy.jpg")
    (folder / "c_broken.jpg").write_bytes(b"\xff\xd8 definitely not a jpeg")
    (folder / "notes.txt").write_text("not an image, not an input")
    (folder / "._a_rose.png").write_bytes(b"macOS resource fork, not a photo")  # skipped
    return folder


def test_missing_model_is_one_clear_line(tmp_path, photos):
    result = runner.invoke(app, ["predict", str(photos), "--model", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "no exported model" in result.stderr and "Traceback" not in result.output
    result = runner.invoke(app, ["predict", str(photos), "--model", str(tmp_path / "m.tflite")])
    assert result.exit_code == 1 and "model file not found" in result.stderr


def test_folder_with_one_bad_image_reports_it_and_goes_on(run_dir, photos):
    result = runner.invoke(app, ["predict", str(photos), "--model", str(run_dir)])
    assert result.exit_code == 1
    lines = result.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == [str(photos / "a_rose.png"),
                                                   str(photos / "b_daisy.jpg")]
    assert all("flower_type:" in line and "flower_color:" in line for line in lines)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {photos / 'c_broken.jpg'}: not an image file (unknown format)"]


def test_missing_file_and_empty_folder_each_fail_alone(run_dir, photos, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["predict", str(tmp_path / "gone.png"), str(empty),
                                 str(photos / "a_rose.png"), "--model", str(run_dir)])
    assert result.exit_code == 1
    assert len(result.stdout.strip().splitlines()) == 1
    assert "gone.png: no such file or folder" in result.stderr
    assert "empty: folder has no image files" in result.stderr
    assert "2 input(s) failed" in result.stderr


def test_json_has_one_object_per_image_with_its_keys(run_dir, photos):
    model = run_dir / "export" / "model_float32.tflite"
    result = runner.invoke(app, ["predict", str(photos / "a_rose.png"), str(photos / "b_daisy.jpg"),
                                 "--model", str(model), "--json", "--threads", "2"])
    assert result.exit_code == 0, result.output
    objects = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert len(objects) == 2
    for obj in objects:
        assert set(obj) == {"file", "variant", "inference_ms", "predictions"}
        assert obj["variant"] == "float32" and obj["inference_ms"] > 0
        assert list(obj["predictions"]) == FLOWER_HEADS.names
        for head in FLOWER_HEADS:
            pred = obj["predictions"][head.name]
            assert set(pred) == {"label", "probability", "threshold", "probabilities"}
            assert list(pred["probabilities"]) == list(head.classes)
            top = max(pred["probabilities"], key=pred["probabilities"].get)
            sure = pred["probabilities"][top] >= pred["threshold"]  # the not-sure rule
            assert pred["label"] == (top if sure else None)
            assert 0 < sum(pred["probabilities"].values()) <= 1 + 1e-5  # room for "none of these"


def test_predict_never_imports_tensorflow(run_dir, photos):
    code = ("import sys\nfrom pipeline.deploy import predict\n"
            "from pipeline.options import PredictOptions as P\n"
            f"predict.run(P(inputs=[{str(photos / 'a_rose.png')!r}], model={str(run_dir)!r}))\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tf_keras')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
