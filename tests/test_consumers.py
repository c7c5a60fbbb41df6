"""Every consumer reads a run through its manifest: a stage the manifest does not record (a
stale export after a retrain), a file whose sha256 differs from the record, and a broken
model.json are each one line naming the command to run; the Android assets stay untouched."""
import json
import shutil
from pathlib import Path

import pytest
from helpers_runs import (draw_flower, export_known_model, make_tiny_exported_run, restamp,
                          strip_metadata)
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.heads.schema import FLOWER_HEADS
from pipeline.rundir.runs import RunDir

runner = CliRunner()


@pytest.fixture()
def exported(tmp_path, monkeypatch):
    run = make_tiny_exported_run(tmp_path)
    (tmp_path / "repo" / "android_demo" / "app").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "repo")  # `pipeline android` finds this repository's assets
    draw_flower("rose", "red").save(tmp_path / "rose.png")
    return run


def commands(run: RunDir, model: Path) -> dict[str, list[str]]:
    """Each consumer of an exported model, pointed at `model` (the run or a file in it)."""
    data = Path(run.entry("train")["settings"]["data"]) / "test.txt"
    image = run.root.parent / "rose.png"
    return {"predict": ["predict", str(image), "--model", str(model)],
            "evaluate": ["evaluate", "--model", str(model), "--labels", str(data)],
            "android": ["android", "--run", str(model)],
            "inspect": ["inspect", str(model)]}


def one_line(result, *fragments) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("error: "), \
        result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def retrain(run: RunDir) -> None:
    """A new training published (same files: what matters is that it is a new one)."""
    old = run.path("train")
    with run.stage("train", run.entry("train")["settings"]) as w:
        shutil.copytree(old, w.dir, dirs_exist_ok=True)


def assets_untouched(run: RunDir) -> None:
    assert not (run.root.parent / "repo" / "android_demo" / "app" / "src").exists()


def test_stale_export_after_retrain_is_refused_by_every_consumer(exported):
    run = exported
    retired = run.path("export")
    retrain(run)
    quantize = f"pipeline quantize --run {run.root}"
    for model in (run.root, run.root / "export" / "model_int8.tflite",
                  retired / "model_int8.tflite"):  # the run, its usual path, the old folder
        for name, args in commands(run, model).items():
            one_line(runner.invoke(app, args), "stage 'export' was made from an earlier "
                     "'train' and is no longer current", quantize)
    one_line(runner.invoke(app, ["benchmark", "--run", str(run.root), "--quick"]),
             "stage 'export' was made from an earlier 'train'", quantize)
    assets_untouched(run)
    page = run.root / "report" / "index.html"
    assert runner.invoke(app, ["report", "--run", str(run.root)]).exit_code == 0
    assert "nothing exported yet" in page.read_text() and quantize in page.read_text()


def test_stale_real_export_folder_of_an_older_run_is_refused(exported):
    """Before versioned folders, a retrain left the old export/ as a plain folder."""
    run = exported
    manifest = run.manifest()
    stale = run.path("export")
    (run.root / "export").unlink()
    shutil.copytree(stale, run.root / "export")
    del manifest["stages"]["export"]
    run.manifest_path.write_text(json.dumps(manifest))
    for args in commands(run, run.root / "export" / "model_int8.tflite").values():
        one_line(runner.invoke(app, args), "stage 'export' has not finished",
                 "left from an earlier model", "pipeline quantize")
    assets_untouched(run)


def test_a_changed_file_is_refused_naming_the_command(exported):
    run = exported
    tflite = run.path("export") / "model_int8.tflite"
    data = bytearray(tflite.read_bytes())
    data[len(data) // 2] ^= 1  # one bit: the model still loads, its answers may not be right
    tflite.write_bytes(bytes(data))
    again = f"run `pipeline quantize --run {run.root}` again"
    for args in commands(run, run.root).values():
        one_line(runner.invoke(app, args), "model_int8.tflite", "sha256 differs", again)
    one_line(runner.invoke(app, ["benchmark", "--run", str(run.root), "--quick"]),
             "sha256 differs", again)
    assets_untouched(run)
    assert runner.invoke(app, ["report", "--run", str(run.root)]).exit_code == 0
    page = (run.root / "report" / "index.html").read_text()
    assert "sha256 differs" in page and "nothing exported yet" in page
    model = run.path("train") / "model.h5"  # a changed training: quantize refuses it too
    model.write_bytes(model.read_bytes() + b"\0")
    one_line(runner.invoke(app, ["quantize", "--run", str(run.root)]), "model.h5",
             "sha256 differs", f"pipeline train --data DIR --run {run.root}")


@pytest.mark.parametrize("text,fragment", [
    ("{broken", "not valid JSON"),
    ("[]", "not a JSON object"),
    ('{"heads": {"flower_type": ["rose", "daisy"]}, "variants": {"int8": {"file": "../x"}}}',
     "names no file"),
    ('{"heads": {"flower_type": "rose"}, "variants": {}}', "'heads' is not"),
])
def test_broken_model_json_in_a_run_is_one_line(exported, text, fragment):
    run = exported
    (run.path("export") / "model.json").write_text(text)
    restamp(run, "export")  # as if the export had written it so: past the sha256 check
    for name in ("predict", "evaluate", "android"):
        one_line(runner.invoke(app, commands(run, run.root)[name]), "model.json", fragment)
    one_line(runner.invoke(app, ["benchmark", "--run", str(run.root), "--quick"]),
             "model.json", fragment)
    assert runner.invoke(app, ["report", "--run", str(run.root)]).exit_code == 0
    assert fragment.replace("'", "&#x27;") in (run.root / "report" / "index.html").read_text()


@pytest.mark.parametrize("change,fragment", [
    (lambda config: [config], "not a JSON object"),
    (lambda config: {**config, "image_size": "big"}, "'big' is not a whole number"),
    (lambda config: {**config, "image_size": 8}, "too small"),
])
def test_broken_model_config_in_a_run_is_one_line(exported, change, fragment):
    """The trained run's model_config.json, hand-edited: the stages that read the trained
    model say which file, not a traceback."""
    run = exported
    config = run.path("train") / "model_config.json"
    config.write_text(json.dumps(change(json.loads(config.read_text()))))
    restamp(run, "train")
    one_line(runner.invoke(app, ["quantize", "--run", str(run.root), "--epochs", "0"]),
             "model_config.json", fragment)


def test_broken_manifest_is_one_line_for_every_command(exported):
    run = exported
    every = [*commands(run, run.root).values(), ["quantize", "--run", str(run.root)],
             ["benchmark", "--run", str(run.root)], ["report", "--run", str(run.root)]]
    run.manifest_path.write_text('{"stages": [')
    for args in every:
        one_line(runner.invoke(app, args), "manifest.json", "not valid JSON")


def test_class_list_shorter_than_the_output_is_refused_at_load(tmp_path):
    """A bare file without metadata, described by a model.json beside it that lists two of
    the model's three colours: the third would be dropped from every answer."""
    folder = tmp_path / "bare"
    export_known_model(folder, FLOWER_HEADS, size=8, variants=("float32",))
    strip_metadata(folder / "model_float32.tflite")
    spec = json.loads((folder / "model.json").read_text())
    spec["heads"]["flower_color"] = ["red", "pink"]
    (folder / "model.json").write_text(json.dumps(spec))
    draw_flower("rose", "red").save(tmp_path / "rose.png")
    result = runner.invoke(app, ["predict", str(tmp_path / "rose.png"), "--model",
                                 str(folder / "model_float32.tflite")])
    one_line(result, "output 'flower_color' has 3 values but the model's description lists 2")
