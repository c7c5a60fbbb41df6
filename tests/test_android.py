"""`pipeline android`: the chosen variant and model.json land in the app's assets, nothing else."""
import json

import pytest
from typer.testing import CliRunner

from helpers_runs import make_tiny_exported_run
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


def test_copies_the_default_int8_model_and_its_spec(run_dir, assets):
    result = runner.invoke(app, ["android", "--run", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in assets.iterdir()) == ["model.json", "model_int8.tflite"]
    source = run_dir / "export" / "model_int8.tflite"
    assert (assets / "model_int8.tflite").read_bytes() == source.read_bytes()
    spec = json.loads((assets / "model.json").read_text())
    assert spec["default"] == "int8" and spec["variants"]["int8"]["file"] == "model_int8.tflite"
    assert "copied" in result.stdout and "model_int8.tflite" in result.stdout


def test_another_variant_replaces_the_old_model(run_dir, assets):
    assert runner.invoke(app, ["android", "--run", str(run_dir)]).exit_code == 0
    result = runner.invoke(app, ["android", "--run", str(run_dir), "--variant", "float32"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in assets.iterdir()) == ["model.json", "model_float32.tflite"]
    assert json.loads((assets / "model.json").read_text())["default"] == "float32"
    assert "removed" in result.stdout


def test_errors_name_the_problem(run_dir, assets, tmp_path):
    result = runner.invoke(app, ["android", "--run", str(tmp_path / "no_run")])
    assert result.exit_code == 1 and "no exported model" in result.stderr
    result = runner.invoke(app, ["android", "--run", str(run_dir), "--variant", "fp16"])
    assert result.exit_code == 1 and "no variant 'fp16'" in result.stderr
    assert not assets.exists()


def test_outside_a_repository_asks_for_assets(run_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["android", "--run", str(run_dir)])
    assert result.exit_code == 1 and "no android_demo/ app" in result.stderr
    result = runner.invoke(app, ["android", "--run", str(run_dir), "--assets", str(tmp_path / "a")])
    assert result.exit_code == 0 and (tmp_path / "a" / "model_int8.tflite").is_file()
