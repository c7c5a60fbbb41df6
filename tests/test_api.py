"""The Python API: the stages as functions, the same behaviour and one-line errors as the CLI."""

import pytest

from helpers_runs import make_tiny_exported_run, write_tiny_dataset
from pipeline import api
from pipeline.core.errors import PipelineError


def test_predict_evaluate_export_and_report_through_the_api(tmp_path):
    run = api.Run(make_tiny_exported_run(tmp_path).root)
    data = tmp_path / "run_data"
    answers = api.predict(run, [data / "images" / "rose_red_0.png", tmp_path / "gone.png"])
    assert answers[0]["predictions"]["flower_type"]["threshold"] is not None
    assert answers[1] == {"file": str(tmp_path / "gone.png"), "error": "no such file or folder"}
    result = api.evaluate(run, data / "test.txt")
    assert result["metrics"]["flower_type"]["n"] == 12
    metrics = api.export(run, threshold="type=0.75")
    assert metrics["thresholds"]["int8"]["flower_type"]["threshold"] == 0.75
    assert run.stage_metrics("export")["thresholds"]["float32"]["flower_type"]["threshold"] == 0.75
    assert run.model_file("int8").name == "model_int8.tflite"
    assert api.report(run, out=tmp_path / "r.html").read_text().startswith("<!doctype html>")


def test_api_errors_are_the_clis_one_line_messages(tmp_path):
    data = write_tiny_dataset(tmp_path / "data")
    with pytest.raises(PipelineError, match="unknown arch"):
        api.train(data, tmp_path / "new", arch="squeezenet9", image_size=32)
    with pytest.raises(PipelineError, match="no head 'size'"):
        api.export(api.Run(make_tiny_exported_run(tmp_path).root), threshold="size=0.5")
    assert not (tmp_path / "new").exists()  # nothing made for a refused run
