"""'Not sure' end to end through the real command line: negatives and a "none of these"
colour column split, trained, quantized with thresholds in the files, predicted, evaluated
per kind of negative, re-exported with a user's threshold; and the bad inputs of issue 18."""
import hashlib
import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

import helpers_runs
from helpers_runs import draw_flower
from pipeline.cli import app
from pipeline.heads.schema import FLOWER_HEADS

runner = CliRunner()


def cli(*args, ok: bool = True):
    result = runner.invoke(app, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, f"pipeline {' '.join(map(str, args))}:\n{result.output[-3000:]}"
    return result


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """Drawn roses and daisies in red/pink/white, some yellow ones (colour -1 = none of these),
    and negatives of two kinds (blue squares, grey noise)."""
    helpers_runs.COLOURS.setdefault("yellow", (240, 220, 30))  # a colour of no class
    root = tmp_path_factory.mktemp("notsure")
    (root / "images").mkdir()
    lines, negatives = [], []
    for t, kind in enumerate(FLOWER_HEADS.heads[0].classes):
        for c, colour in enumerate(FLOWER_HEADS.heads[1].classes):
            for i in range(4):
                draw_flower(kind, colour, shift=i).save(root / "images" / f"{kind}_{colour}_{i}.png")
                lines.append(f"images/{kind}_{colour}_{i}.png, {t}, {c}")
        for i in range(4):
            draw_flower(kind, "yellow", shift=i).save(root / "images" / f"{kind}_yellow_{i}.png")
            lines.append(f"images/{kind}_yellow_{i}.png, {t}, -1")
    for i in range(8):
        Image.new("RGB", (32, 32), (20, 40, 200 - 10 * i)).save(root / "images" / f"sq{i}.png")
        Image.effect_noise((32, 32), 40 + i).convert("RGB").save(root / "images" / f"nz{i}.png")
        negatives += [f"images/sq{i}.png, square", f"images/nz{i}.png, noise"]
    (root / "all.txt").write_text("\n".join(lines) + "\n")
    (root / "negatives.txt").write_text("\n".join(negatives) + "\n")
    return root


@pytest.fixture(scope="module")
def run(data, tmp_path_factory) -> Path:
    split = data / "split"
    cli("data", "split", data / "all.txt", "--out", split, "--negatives", data / "negatives.txt",
        "--none", "color")
    schema = json.loads((split / "heads.json").read_text())["heads"]
    assert [h.get("minus_one", "unknown") for h in schema] == ["unknown", "none"]
    assert (split / "negatives_test.txt").read_text().count("square") >= 1
    run = tmp_path_factory.mktemp("runs") / "run"
    cli("train", "--data", split, "--run", run, "--image-size", 32, "--epochs", 3,
        "--batch-size", 16, "--pretrained", "none")
    cli("quantize", "--run", run, "--epochs", 0, "--threshold", "type=0.6",
        "--variants", "int8,float32")
    return run


def test_thresholds_travel_in_the_files_and_predict_applies_them(run, data):
    from pipeline.modelfile import model_info

    spec = json.loads((run / "export" / "model.json").read_text())
    for key, variant in spec["variants"].items():
        thresholds = {h: o["threshold"] for h, o in variant["outputs"].items()}
        assert thresholds["flower_type"] == 0.6 and 0 < thresholds["flower_color"] < 1
        # chosen on that file's own validation scores
        chosen = json.loads((run / "export" / "metrics.json").read_text())["thresholds"][key]
        assert thresholds["flower_color"] == chosen["flower_color"]["threshold"]
        info = model_info.read(run / "export" / variant["file"])
        assert info.thresholds == thresholds  # ScoreThresholdingOptions, read back
    metrics = json.loads((run / "export" / "metrics.json").read_text())
    assert metrics["thresholds"]["int8"]["flower_type"]["rule"] == "set with --threshold"
    assert len(metrics["thresholds"]["float32"]["flower_color"]["val_curve"]) == 5
    test = metrics["variants"]["int8"]["test"]["flower_type"]
    assert test["n_none"] > 0 and 0 <= test["not_sure_on_none"] <= 1
    out = cli("predict", data / "images" / "sq0.png", data / "images" / "rose_red_0.png",
              "--model", run, "--json").stdout
    for row in map(json.loads, out.splitlines()):
        for head, pred in row["predictions"].items():
            top = max(pred["probabilities"].values())
            assert (pred["label"] is None) == (top < pred["threshold"])
            assert sum(pred["probabilities"].values()) <= 1 + 1e-5


def test_evaluate_reports_coverage_and_not_sure_per_kind(run, tmp_path):
    split = Path(json.loads((run / "manifest.json").read_text())["stages"]["train"]
                 ["settings"]["data"])
    out = tmp_path / "e.json"
    text = cli("evaluate", "--model", run, "--labels", split / "test.txt", "--negatives",
               split / "negatives_test.txt", "--out", out).stdout
    assert "not sure on the negatives" in text and "threshold" in text
    result = json.loads(out.read_text())
    assert set(result["negatives"]["flower_type"]) >= {"all"}
    m = result["metrics"]["flower_color"]
    assert m["n_none"] > 0 and m["ece"] is not None and m["risk_coverage"]


def test_export_again_with_a_users_threshold_and_refuses_bad_ones(run):
    cli("export", "--run", run, "--threshold", "type=0.9,color=0.7",
        "--variants", "int8,float32")
    spec = json.loads((run / "export" / "model.json").read_text())
    assert {o["threshold"] for o in spec["variants"]["int8"]["outputs"].values()} == {0.9, 0.7}
    before = hashlib.sha256((run / "export" / "model_int8.tflite").read_bytes()).hexdigest()
    for bad, message in (("size=0.5", "no head 'size'"), ("type=1.5", "between 0 and 1")):
        result = cli("export", "--run", run, "--threshold", bad, ok=False)
        assert result.exit_code == 1 and message in result.output
        assert len(result.output.strip().splitlines()) == 1
    after = hashlib.sha256((run / "export" / "model_int8.tflite").read_bytes()).hexdigest()
    assert before == after  # nothing written


def test_export_with_a_decline_rule_records_it_and_refuses_bad_shares(run):
    cli("export", "--run", run, "--decline", "type=0.9", "--variants", "int8")
    metrics = json.loads((run / "export" / "metrics.json").read_text())
    assert metrics["thresholds"]["int8"]["flower_type"]["rule"].startswith("declines 90% of the")
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["stages"]["export"]["settings"]["decline"] == {"flower_type": 0.9}
    for bad, message in (("size=0.5", "no head 'size'"), ("type=1.5", "between 0 and 1")):
        result = cli("export", "--run", run, "--decline", bad, ok=False)
        assert result.exit_code == 1 and message in result.output and "--decline" in result.output
        assert len(result.output.strip().splitlines()) == 1


def test_none_declared_for_a_head_without_minus_one_rows_is_refused(data, tmp_path):
    result = cli("data", "split", data / "all.txt", "--out", tmp_path / "s", "--none", "type",
                 ok=False)
    assert result.exit_code == 1 and "no line has -1" in result.output
    assert not (tmp_path / "s").exists() or not any((tmp_path / "s").iterdir())


def test_a_damaged_threshold_in_a_models_metadata_is_one_line(run, tmp_path, data):
    from pipeline.modelfile import metadata as md
    from pipeline.modelfile import tflite_file
    from pipeline.modelfile import embed as metadata

    content = (run / "export" / "model_float32.tflite").read_bytes()
    spec = json.loads((run / "export" / "model.json").read_text())
    meta, files = metadata.build(content, FLOWER_HEADS,
                                 spec["variants"]["float32"]["input"]["normalization"],
                                 thresholds={"flower_type": 0.5, "flower_color": 0.5})
    for tensor in meta.subgraphMetadata[0].outputTensorMetadata:
        tensor.processUnits[0].options.globalScoreThreshold = 1.5  # damaged on purpose
    # with_metadata replaces the file's metadata entry (md.check, which would refuse, skipped)
    damaged = md.append_files(tflite_file.with_metadata(content, md.KEY, md.pack(meta)), files)
    (tmp_path / "bad.tflite").write_bytes(damaged)
    result = cli("predict", data / "images" / "sq0.png", "--model", tmp_path / "bad.tflite",
                 ok=False)
    assert result.exit_code == 1 and "bad.tflite" in result.output
    assert "threshold 1.5 is not between 0 and 1" in result.output
    assert len(result.output.strip().splitlines()) == 1
