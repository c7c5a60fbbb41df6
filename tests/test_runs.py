"""The run directory: stages publish atomically, failures leave earlier outputs alone."""
import json

import pytest

from pipeline.core.errors import PipelineError
from pipeline.heads.schema import FLOWER_HEADS, Heads
from pipeline.rundir.runs import RunDir


def finish_stage(run, text):
    with run.stage("train", {"lr": 0.1}) as w:
        (w.dir / "model.txt").write_text(text)
        w.metrics["loss"] = 1.0


def test_finished_stage_is_published_and_recorded(tmp_path):
    run = RunDir(tmp_path / "r")
    finish_stage(run, "v1")
    assert (run.path("train") / "model.txt").read_text() == "v1"
    entry = json.loads(run.manifest_path.read_text())["stages"]["train"]
    assert entry["settings"] == {"lr": 0.1} and entry["metrics"] == {"loss": 1.0}
    assert entry["outputs"]["train/model.txt"]["bytes"] == 2
    assert len(entry["outputs"]["train/model.txt"]["sha256"]) == 64
    assert not run.partial("train").exists()


def test_failing_stage_keeps_previous_outputs_and_manifest(tmp_path):
    run = RunDir(tmp_path / "r")
    finish_stage(run, "v1")
    manifest_before = run.manifest_path.read_text()
    with pytest.raises(RuntimeError):
        with run.stage("train") as w:
            (w.dir / "model.txt").write_text("half")
            raise RuntimeError("died")
    assert (run.path("train") / "model.txt").read_text() == "v1"
    assert run.manifest_path.read_text() == manifest_before
    assert not run.partial("train").exists()


def test_keep_partial_leaves_work_for_resume(tmp_path):
    run = RunDir(tmp_path / "r")
    with pytest.raises(KeyboardInterrupt):
        with run.stage("train", keep_partial=True) as w:
            (w.dir / "ckpt").write_text("epoch 1")
            raise KeyboardInterrupt
    assert (run.partial("train") / "ckpt").read_text() == "epoch 1"
    assert not run.has("train")


def test_missing_stage_names_the_command_to_run(tmp_path):
    run = RunDir(tmp_path / "r")
    run.root.mkdir()
    with pytest.raises(PipelineError, match=r"stage 'train' has not finished.*pipeline train"):
        run.require("train")
    with pytest.raises(PipelineError, match="no such run directory"):
        RunDir(tmp_path / "nope").require("train")


def test_heads_round_trip_through_labels_json(tmp_path):
    run = RunDir(tmp_path / "r")
    run.root.mkdir()
    run.write_heads(FLOWER_HEADS)
    assert run.heads() == FLOWER_HEADS
    assert Heads.from_json(FLOWER_HEADS.to_json()).names == ["flower_type", "flower_color"]


def test_heads_select_keeps_order_and_rejects_unknown():
    assert FLOWER_HEADS.select(["color"]).names == ["flower_color"]
    assert FLOWER_HEADS.select(["color", "type"]).names == ["flower_type", "flower_color"]
    with pytest.raises(ValueError, match="unknown task 'size'"):
        FLOWER_HEADS.select(["size"])


def test_rerunning_a_stage_makes_the_stages_built_on_it_stale(tmp_path):
    run = RunDir(tmp_path / "r")
    finish_stage(run, "v1")
    for stage in ("export", "qat", "benchmark"):
        with run.stage(stage):
            pass
    assert all(run.has(s) for s in ("qat", "export", "benchmark"))
    finish_stage(run, "v2")
    assert run.has("train") and not any(run.has(s) for s in ("qat", "export", "benchmark"))
    with pytest.raises(PipelineError, match="pipeline quantize"):
        run.require("export")
