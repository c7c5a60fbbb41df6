"""Tasks of your own, end to end through every stage and the real command line: a third head
that `data synth` labels truthfully (background), and a single-head `--tasks` run (which
refuses a label file without its head)."""
import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app

runner = CliRunner()
THREE = ["flower_type", "flower_color", "background"]


def cli(*args) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, f"pipeline {' '.join(map(str, args))}:\n{result.output[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("own")
    cli("data", "synth", "--out", root / "synth", "--count", 72, "--size", 32, "--workers", 1,
        "--with-background")
    cli("data", "split", root / "synth" / "all.txt", "--out", root / "splits")
    return root / "splits"


def _train(data: Path, run: Path, *extra) -> None:
    cli("train", "--data", data, "--run", run, "--image-size", 32, "--epochs", 2,
        "--batch-size", 16, *extra)


def test_three_heads_through_every_stage(data, tmp_path, monkeypatch):
    run = tmp_path / "run3"
    _train(data, run)
    assert [h["name"] for h in json.loads((run / "labels.json").read_text())["heads"]] == THREE
    cli("quantize", "--run", run, "--epochs", 1)
    spec = json.loads((run / "export" / "model.json").read_text())
    assert list(spec["heads"]) == THREE
    assert spec["heads"]["background"] == ["foliage", "soil", "sky", "garden"]
    for entry in spec["variants"].values():
        assert sorted(entry["outputs"]) == sorted(THREE)
    inspect = json.loads(cli("inspect", run / "export" / "model_int8.tflite", "--json"))
    assert "background" in json.dumps(inspect)
    out = tmp_path / "eval.json"
    cli("evaluate", "--model", run, "--labels", data / "test.txt", "--out", out)
    metrics = json.loads(out.read_text())["metrics"]
    assert metrics["background"]["n"] == metrics["flower_type"]["n"] > 0
    lines = cli("predict", data.parent / "synth" / "images", "--model", run, "--json")
    first = json.loads(lines.splitlines()[0])
    assert sorted(first["predictions"]) == sorted(THREE)
    cli("benchmark", "--run", run, "--quick", "--threads", 1)
    results = json.loads((run / "benchmark" / "results.json").read_text())
    assert set(results["variants"]["tflite_int8_qat"]["accuracy"]) >= set(THREE)
    pair = results["variants"]["two_single_task_int8"]  # one single-task model per head
    assert len(pair["accuracy"]) == 3
    (tmp_path / "repo" / "android_demo" / "app").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "repo")
    cli("android", "--run", run)
    cli("report", "--run", run)
    page = (run / "report" / "index.html").read_text()
    assert all(f'data-head="{name}"' in page for name in THREE)


def test_one_head_of_the_schema(data, tmp_path):
    run = tmp_path / "run1"
    _train(data, run, "--tasks", "background")
    assert json.loads((run / "train" / "model_config.json").read_text())["heads"] == ["background"]
    cli("quantize", "--run", run, "--epochs", 1, "--variants", "int8")
    out = tmp_path / "eval.json"
    # The label file has three columns; the model one head: read with the file's schema.
    cli("evaluate", "--model", run, "--labels", data / "test.txt", "--out", out)
    assert list(json.loads(out.read_text())["metrics"])[:1] == ["background"]
    cli("benchmark", "--run", run, "--quick", "--threads", 1)
    results = json.loads((run / "benchmark" / "results.json").read_text())
    assert "two_single_task_int8" not in results["variants"]  # one head: nothing to split
    assert results["variants"]["tflite_int8_qat"]["accuracy"]["background"] is not None

    # A label file without the model's head (no heads.json beside it: the flower heads).
    from pipeline.data.labels import Sample, load_label_file, write_label_file

    flowers = tmp_path / "flowers.txt"
    write_label_file(flowers, [Sample(s.path, s.labels[:2])
                               for s in load_label_file(data / "test.txt")])
    result = runner.invoke(app, ["evaluate", "--model", str(run), "--labels", str(flowers)])
    assert result.exit_code == 1 and "has no column for head 'background'" in result.output
