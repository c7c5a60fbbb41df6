"""`pipeline android`: one self-describing .tflite lands in the app's assets, nothing else."""
import shutil

import pytest
from typer.testing import CliRunner

from helpers_runs import make_tiny_exported_run, strip_metadata
from pipeline.modelfile import model_info
from pipeline.deploy import android
from pipeline.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return make_tiny_exported_run(tmp_path_factory.mktemp("android")).root


@pytest.fixture()
def assets(tmp_path, monkeypatch):
    # A repository of its own: never touch the real app's assets here.
    (tmp_path / "repo" / "android_demo" / "app").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "repo")
    return tmp_path / "repo" / android.APP_ASSETS


def test_copies_the_default_int8_model_alone(run_dir, assets):
    result = runner.invoke(app, ["android", "--run", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in assets.iterdir()) == ["model.tflite"]
    source = run_dir / "export" / "model_int8.tflite"
    assert (assets / "model.tflite").read_bytes() == source.read_bytes()
    info = model_info.read(assets / "model.tflite")
    assert info.model_json["default"] == "int8" and list(info.labels) == ["flower_type",
                                                                          "flower_color"]
    assert "copied" in result.stdout and "variant int8" in result.stdout


def test_another_variant_replaces_the_old_model_and_stale_files(run_dir, assets):
    assets.mkdir(parents=True)
    (assets / "model.json").write_text("{}")  # from an older `pipeline android`
    (assets / "model_int8.tflite").write_bytes(b"old")
    result = runner.invoke(app, ["android", "--run", str(run_dir), "--variant", "float32"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in assets.iterdir()) == ["model.tflite"]
    assert model_info.read(assets / "model.tflite").model_json["default"] == "float32"
    assert result.stdout.count("removed") == 2


def test_a_bare_tflite_is_enough(run_dir, assets, tmp_path):
    bare = tmp_path / "elsewhere" / "mine.tflite"
    bare.parent.mkdir()
    shutil.copy(run_dir / "export" / "model_float32.tflite", bare)
    result = runner.invoke(app, ["android", "--run", str(bare)])
    assert result.exit_code == 0, result.output
    assert (assets / "model.tflite").read_bytes() == bare.read_bytes()
    strip_metadata(bare)
    result = runner.invoke(app, ["android", "--run", str(bare)])
    assert result.exit_code == 1 and "no TFLite metadata" in result.stderr


def test_errors_name_the_problem(run_dir, assets, tmp_path):
    result = runner.invoke(app, ["android", "--run", str(tmp_path / "no_run")])
    assert result.exit_code == 1 and "no exported model" in result.stderr
    result = runner.invoke(app, ["android", "--run", str(run_dir), "--variant", "fp16"])
    assert result.exit_code == 2 and "is not one of" in result.output  # choices: the registry
    assert not assets.exists()


def test_outside_a_repository_asks_for_assets(run_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["android", "--run", str(run_dir)])
    assert result.exit_code == 1 and "no android_demo/ app" in result.stderr
    result = runner.invoke(app, ["android", "--run", str(run_dir), "--assets", str(tmp_path / "a")])
    assert result.exit_code == 0 and (tmp_path / "a" / "model.tflite").is_file()
