"""Head kinds (issue 20): classification, multilabel and regression heads in one model, through
every stage on drawings with a known truth, and the bad input each kind can bring."""
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.heads import kinds
from pipeline.core.errors import PipelineError
from pipeline.heads.schema import parse_schema
from pipeline.rundir.trained import TrainedRun
from pipeline.data.labels import Sample, read_label_file, split_samples, write_label_file

sys.path.insert(0, str(Path(__file__).parent))
from helpers_kinds import HEADS, write_dataset  # noqa: E402

runner = CliRunner()


def cli(*args, code: int = 0):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, f"pipeline {' '.join(map(str, args))}:\n{result.output[-3000:]}"
    return result


def test_registry_has_the_three_kinds_and_classification_is_the_default():
    assert list(kinds.KINDS) == ["classification", "multilabel", "regression"]
    heads = parse_schema({"heads": [{"name": "a", "classes": ["x", "y"]}]}, "t")
    assert heads.heads[0].kind == "classification" and "kind" not in heads.to_json()["heads"][0]


def test_cells_of_each_kind_read_and_write_back(tmp_path):
    heads = parse_schema(HEADS, "heads.json")
    (tmp_path / "heads.json").write_text(json.dumps(HEADS))
    samples = [Sample(tmp_path / "a.png", (0, (0, 2), 12.5)),
               Sample(tmp_path / "b.png", (1, (), math.nan)),
               Sample(tmp_path / "c.png", (-1, -1, 3.0))]
    write_label_file(tmp_path / "all.txt", samples, heads=heads)
    lines = [line for line in (tmp_path / "all.txt").read_text().splitlines()]
    assert lines == ["a.png, 0, 0+2, 12.5", "b.png, 1, -, nan", "c.png, -1, -1, 3.0"]
    read, problems = read_label_file(tmp_path / "all.txt")
    assert not problems
    assert [s.labels[:2] for s in read] == [(0, (0, 2)), (1, ()), (-1, -1)]
    assert read[0].labels[2] == 12.5 and math.isnan(read[1].labels[2])
    matrix = heads.encode(read)  # one column, three (a sigmoid each), one
    assert matrix.shape == (3, 5)
    assert heads.block(matrix, 1).tolist() == [[1, 0, 1], [0, 0, 0], [-1, -1, -1]]
    assert heads.block(matrix, 0).dtype == np.int64 and heads.block(matrix, 2).dtype == np.float64


def test_split_stratifies_the_classification_heads_only(tmp_path):
    heads = parse_schema(HEADS, "heads.json")
    samples = [Sample(tmp_path / f"{i}.png", (i % 2, (i % 3,), float(i))) for i in range(40)]
    parts = split_samples(samples, seed=1, heads=heads)
    assert sum(len(p) for p in parts.values()) == 40
    for part in parts.values():  # each class of the classification head within one image
        shares = [sum(s.labels[0] == c for s in part) for c in (0, 1)]
        assert abs(shares[0] - shares[1]) <= 1


@pytest.mark.parametrize("entry,message", [
    ({"name": "h", "kind": "ordinal", "classes": ["a", "b"]}, "unknown kind 'ordinal'"),
    ({"name": "h", "classes": ["a", "b"], "unit": "cm"}, "unit and loss apply to regression"),
    ({"name": "h", "kind": "regression", "classes": ["a", "b"]}, "has no classes"),
    ({"name": "h", "kind": "multilabel", "classes": ["a"], "minus_one": "none"},
     "minus_one applies to classification"),
    ({"name": "h", "kind": "regression", "loss": "l1"}, "loss 'l1' must be one of"),
    ({"name": "h", "kind": "multilabel", "classes": []}, "1 or more distinct"),
])
def test_bad_heads_json_is_one_line_naming_the_file(tmp_path, entry, message):
    (tmp_path / "heads.json").write_text(json.dumps({"heads": [entry]}))
    (tmp_path / "all.txt").write_text("a.png, 0\n")
    result = cli("data", "check", tmp_path / "all.txt", code=1)
    out = result.output.strip().splitlines()
    assert len(out) == 1 and f"{tmp_path / 'heads.json'}: head 1 (h): " in out[0], out
    assert message in out[0], out


@pytest.mark.parametrize("cells,message", [
    ("0, 0+5, 1.0", "marks label '0+5': class 5 does not exist (0..2)"),
    ("0, 0+0, 1.0", "class 0 listed twice"),
    ("0, red, 1.0", "expected class indices joined by +"),
    ("0, 1, big", "shade value 'big' is not a number"),
    ("0, 1, inf", "shade value 'inf' is not a finite number"),
])
def test_bad_cells_name_the_file_and_line(tmp_path, cells, message):
    (tmp_path / "heads.json").write_text(json.dumps(HEADS))
    (tmp_path / "all.txt").write_text(f"# made by hand\nimages/1.png, {cells}\n")
    result = cli("data", "check", tmp_path / "all.txt", code=1)
    assert f"{tmp_path / 'all.txt'}:2: " in result.output and message in result.output


def test_none_declaration_is_refused_for_other_kinds(tmp_path):
    labels = write_dataset(tmp_path / "data", count=8)
    result = cli("data", "split", labels, "--out", tmp_path / "s", "--none", "shade", code=1)
    assert "a regression head has no \"none of these\"" in result.output
    assert not (tmp_path / "s").exists()


def test_packs_carry_every_kind_and_stream_it_as_the_label_files_give_it(tmp_path):
    from pipeline.core.config import ModelConfig
    from pipeline.data.datasets import Feed
    from pipeline.data.sources import open_source

    labels = write_dataset(tmp_path / "data", count=40)
    cli("data", "split", labels, "--out", tmp_path / "s")
    cli("data", "pack", tmp_path / "s", "--out", tmp_path / "p", "--size", 32)
    schema = parse_schema(HEADS, "heads.json")
    memory, stream = (open_source(tmp_path / "p", how, ModelConfig(image_size=32), schema, schema)
                      for how in ("memory", "stream"))
    fitted = [s.fit_targets().get("shade") for s in (memory, stream)]
    assert fitted[0].param("center") == pytest.approx(fitted[1].param("center")) and fitted[0].param("scale") > 0
    assert fitted[0].param("scale") == pytest.approx(fitted[1].param("scale"))
    for split in ("train", "test"):
        assert memory.count(split) == stream.count(split)
        pairs = zip(*(s.dataset(split, Feed(8, training=False)) for s in (memory, stream)))
        for (xa, ya), (xb, yb) in pairs:
            np.testing.assert_array_equal(xa.numpy(), xb.numpy())
            for name in ya:  # class index, 0/1 per class, the value (nan where unknown)
                np.testing.assert_array_equal(ya[name].numpy(), yb[name].numpy())


# ---- one run with one head of each kind, through every stage ---------------------------------

@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("kinds")
    labels = write_dataset(root / "data", count=160)
    cli("data", "split", labels, "--out", root / "splits")
    cli("train", "--data", root / "splits", "--run", root / "run", "--image-size", 32,
        "--epochs", 15, "--batch-size", 16, "--lr", 1e-3)
    cli("quantize", "--run", root / "run", "--epochs", 1)
    return root / "run"


def test_training_learns_every_kind_and_the_int8_file_keeps_it(run):
    """Far above chance on the test split through LiteRT: all three marks right (chance 1/8),
    the grey level within a fraction of its spread (predicting the mean would be ~1x)."""
    out = run.parent / "eval.json"
    cli("evaluate", "--model", run, "--labels", run.parent / "splits" / "test.txt", "--out", out)
    metrics = json.loads(out.read_text())["metrics"]
    assert metrics["shape"]["accuracy"] >= 0.9, metrics["shape"]
    assert metrics["marks"]["accuracy"] >= 0.5, metrics["marks"]
    assert metrics["shade"]["mae"] <= 0.6 * metrics["shade"]["target_std"], metrics["shade"]
    labels = json.loads((run / "labels.json").read_text())["heads"]
    shade = labels[2]
    assert shade["kind"] == "regression" and shade["unit"] == "level"
    assert 100 < shade["center"] < 190 and shade["scale"] > 20  # grey 40..250 in training
    # every later stage reads the same training statistics (model.json, export's checks)
    task = json.loads((run / "export" / "model.json").read_text())["tasks"][2]
    assert (task["center"], task["scale"]) == (shade["center"], shade["scale"])
    assert TrainedRun.open(run).heads.get("shade").param("scale") == shade["scale"]


def test_model_json_metadata_and_predict_speak_each_kind(run, tmp_path):
    spec = json.loads((run / "export" / "model.json").read_text())
    assert [t.get("kind", "classification") for t in spec["tasks"]] == \
        ["classification", "multilabel", "regression"]
    assert spec["heads"]["shade"] == [] and spec["heads"]["marks"] == ["red", "blue", "yellow"]
    int8 = spec["variants"]["int8"]["outputs"]
    assert int8["shade"]["shape"] == [1, 1] and "threshold" not in int8["shade"]
    assert int8["marks"]["threshold"] == 0.5
    inspect = cli("inspect", run / "export" / "model_int8.tflite").output
    assert "shape_labels.txt" in inspect and "marks_labels.txt" in inspect
    assert "shade_labels.txt" not in inspect  # a number has no class names
    image = run.parent / "data" / "images" / "0.png"
    line = json.loads(cli("predict", image, "--model", run, "--json").output.splitlines()[0])
    marks, shade = line["predictions"]["marks"], line["predictions"]["shade"]
    assert set(marks["labels"]) <= {"red", "blue", "yellow"} and marks["threshold"] == 0.5
    assert shade["unit"] == "level" and 0 < shade["value"] < 300
    text = cli("predict", image, "--model", run).output
    assert "shade: " in text and " level" in text and "marks: " in text


def test_benchmark_and_report_take_every_kind(run, tmp_path):
    cli("benchmark", "--run", run, "--quick", "--threads", 1)
    results = json.loads((run / "benchmark" / "results.json").read_text())
    accuracy = results["variants"]["tflite_int8_qat"]["accuracy"]
    assert accuracy["shape"] is not None and "shade" in accuracy
    cli("report", "--run", run)
    page = (run / "report" / "index.html").read_text()
    assert "exact match" in page and "MAE" in page and 'data-head="shade"' in page


def test_phone_page_and_android_take_every_kind(run, tmp_path, monkeypatch):
    """The phone page's site says each head's kind (its app.js decodes MediaPipe's result by
    it; `make test-clients`' kinds check runs that page in chromium against predict)."""
    modules = tmp_path / "node_modules" / "@mediapipe" / "tasks-vision"
    from pipeline.web import site

    for name in site.MEDIAPIPE_FILES:  # a stand-in for the npm install
        (modules / name).parent.mkdir(parents=True, exist_ok=True)
        (modules / name).write_text('{"version": "0"}' if name == "package.json" else name)
    monkeypatch.setenv("PIPELINE_WEB_MODULES", str(tmp_path / "node_modules"))
    cli("web", "--run", run, "--out", tmp_path / "site")
    assert json.loads((tmp_path / "site" / "site.json").read_text())["heads"] == [
        {"name": "shape", "kind": "classification"}, {"name": "marks", "kind": "multilabel"},
        {"name": "shade", "kind": "regression", "unit": "level"}]
    (tmp_path / "repo" / "android_demo" / "app").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "repo")
    cli("android", "--run", run)
    assert len(list((tmp_path / "repo").rglob("*.tflite"))) == 1
    # what the app's ModelSpec.kinds reads (OutputsTest.kt parses a model.json of this shape)
    spec = json.loads((run / "export" / "model.json").read_text())
    kinds = {t["name"]: (t.get("kind", "classification"), t.get("unit")) for t in spec["tasks"]}
    assert kinds == {"shape": ("classification", None), "marks": ("multilabel", None),
                     "shade": ("regression", "level")}
    assert spec["heads"]["shade"] == [] and spec["variants"]["int8"]["outputs"]["marks"][
        "threshold"] == 0.5


def test_threshold_for_a_regression_head_is_refused(run):
    before = (run / "export" / "model.json").read_bytes()
    result = cli("export", "--run", run, "--threshold", "shade=0.5", code=1)
    assert "a regression head has no threshold" in result.output
    assert (run / "export" / "model.json").read_bytes() == before


def test_spec_heads_refuses_an_unknown_kind():
    from pipeline.heads.schema import spec_heads

    with pytest.raises(PipelineError, match="unknown kind 'ordinal'"):
        spec_heads({"heads": {"a": ["x", "y"]}, "tasks": [{"name": "a", "kind": "ordinal"}]},
                   "model.json")
