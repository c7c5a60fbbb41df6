"""`pipeline benchmark --baselines trained`: the two-head model against trained single-task
models (issue 21). One tiny run goes through the real command line: a call stopped half-way,
the call that finishes it reusing what was done, the report, and the same run retrained
otherwise refusing its old baselines; plus the plan and the bad input."""
import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from helpers_runs import make_tiny_exported_run  # noqa: E402

from pipeline.bench import baselines, claim  # noqa: E402
from pipeline.figures import claim_table  # noqa: E402
from pipeline.bench import models as bench_models  # noqa: E402
from pipeline.cli import app  # noqa: E402
from pipeline.core.errors import PipelineError  # noqa: E402
from pipeline.core.io import write_json  # noqa: E402
from pipeline.rundir.runs import RunDir  # noqa: E402

runner = CliRunner()
HEADS = ["flower_type", "flower_color"]


def bench(run: Path, *extra):
    return runner.invoke(app, ["benchmark", "--run", str(run), "--quick", "--threads", "1",
                               *map(str, extra)])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """The tiny exported run, recorded as trained for 2 epochs: its baselines train that long."""
    run = make_tiny_exported_run(tmp_path_factory.mktemp("baselines")).root
    manifest = RunDir(run).manifest()
    manifest["stages"]["train"]["settings"]["epochs"] = 2
    write_json(run / "manifest.json", manifest)
    return run


def test_plan_names_every_head_and_seed(tiny):
    plan = baselines.plan(RunDir(tiny), 3)
    assert [(b.tasks, b.seed) for b in plan] == [
        (("flower_type",), 0), (("flower_color",), 0),
        (("flower_type",), 1), (("flower_color",), 1), (tuple(HEADS), 1),
        (("flower_type",), 2), (("flower_color",), 2), (tuple(HEADS), 2)]
    assert {b.path.parent for b in plan} == {tiny / "baselines"}
    kwargs = baselines.train_kwargs(RunDir(tiny).manifest()["stages"]["train"]["settings"],
                                    plan[1])
    assert kwargs["tasks"] == ["flower_color"] and kwargs["seed"] == 0
    assert kwargs["epochs"] == 2 and kwargs["loss_weights"] == "flower_color=1.0"


@pytest.mark.parametrize("extra, message", [
    (["--seeds", "2"], "--seeds counts trained models: it needs --baselines trained"),
    (["--baselines", "some"], "'some' is not one of"),
    (["--baselines", "trained", "--seeds", "0"], "--seeds 0: must be at least 1"),
])
def test_bad_options_are_refused_before_any_work(tiny, extra, message):
    result = bench(tiny, *extra)
    assert result.exit_code != 0 and message in result.output
    assert not (tiny / "baselines").exists() and not RunDir(tiny).has("benchmark")


def test_one_head_run_has_nothing_to_compare(tmp_path):
    run = make_tiny_exported_run(tmp_path).root
    manifest = RunDir(run).manifest()  # as `pipeline train --tasks type` records it
    manifest["stages"]["train"]["settings"]["tasks"] = ["flower_type"]
    write_json(run / "manifest.json", manifest)
    result = bench(run, "--baselines", "trained")
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].endswith(
        "trained with one head (flower_type): there is no single-task model to compare it with")
    assert not (run / "baselines").exists()


def test_seeds_zero_through_the_api(tiny):
    from pipeline import api

    with pytest.raises(PipelineError, match="--seeds 0: must be at least 1"):
        api.benchmark(tiny, baselines="trained", seeds=0)


def test_a_baseline_trained_otherwise_is_refused(tiny, tmp_path):
    settings = RunDir(tiny).manifest()["stages"]["train"]["settings"]
    assert baselines.mismatch(settings, {**settings, "seed": 4, "tasks": ["x"]}) is None
    assert baselines.mismatch(settings, {**settings, "epochs": 3}) == \
        "epochs 3 (the run has 2)"


def test_spread_and_table():
    found = {"seeds": [0, 1], "heads": {"flower_type": {"int8": {
        claim_table.MULTI: claim._summary([{"accuracy": 0.9}, {"accuracy": 0.8}]),
        claim_table.SINGLE: claim._summary([{"accuracy": 0.85}, {"accuracy": 0.85}])}}},
        "size_bytes": {claim_table.MULTI: 1_000_000, claim_table.SINGLE: 2_000_000},
        "train_seconds": {claim_table.MULTI: claim._spread([10, 20]),
                          claim_table.SINGLE: claim._spread([30, 30])}}
    rows = claim_table.rows(found)
    assert rows[0][:4] == ["flower_type", "int8", "two-head", "0.850 [0.800-0.900]"]
    assert rows[1][3] == "0.850" and rows[0][4] == "-"
    lines = claim_table.totals(found, {"two_head_vs_two_single_task_latency": 0.5, "threads": 1})
    assert "latency 0.50x" in lines[1] and "size 0.50x" in lines[2]
    assert "training + QAT time 0.50x (15 s vs 30 s" in lines[3]


class Stopped(Exception):
    """Stands for a kill: raised where the second baseline's QAT would start."""


def test_trained_baselines_end_to_end(tiny, monkeypatch):
    from pipeline.export import quantize

    monkeypatch.setattr(bench_models, "PEAK_ROWS", 16)  # a small peak model: same path
    monkeypatch.setattr(bench_models, "PEAK_FEATURES", 128)
    real_quantize, calls = quantize.run, []

    def stopped_second(options):
        calls.append(options.run.name)
        if len(calls) == 2:
            raise Stopped()
        return real_quantize(options)

    monkeypatch.setattr(quantize, "run", stopped_second)
    result = bench(tiny, "--baselines", "trained")
    assert isinstance(result.exception, Stopped)
    second = RunDir(tiny / "baselines" / "flower_color.seed0")
    assert second.has("train") and not second.has("export")  # half-done: never used half
    assert not RunDir(tiny).has("benchmark")

    first = RunDir(tiny / "baselines" / "flower_type.seed0")
    trained_id = first.entry("train")["id"]
    result = bench(tiny, "--baselines", "trained")
    assert result.exit_code == 0, result.output
    # Reused: the first baseline is neither trained nor quantized again.
    assert calls == ["flower_type.seed0", "flower_color.seed0", "flower_color.seed0"]
    assert "baselines: train flower_type.seed0" not in result.output
    assert first.entry("train")["id"] == trained_id and second.has("export")
    # A baseline exports the two files the comparison scores, nothing more.
    spec = json.loads(first.file("export", "model.json").read_text())
    assert sorted(spec["variants"]) == ["float32", "int8"]

    results = json.loads((tiny / "benchmark" / "results.json").read_text())
    found = results["baselines"]
    assert found["seeds"] == [0] and set(found["heads"]) == set(HEADS)
    for head in HEADS:
        for variant in ("int8", "float32"):
            for model in (claim_table.MULTI, claim_table.SINGLE):
                accuracy = found["heads"][head][variant][model]["accuracy"]
                assert 0 <= accuracy["mean"] <= 1 and len(accuracy["values"]) == 1
    assert found["runs"]["flower_type"] == [str(first.root)]
    pair = results["variants"]["two_single_task_int8"]
    assert pair["accuracy"]["flower_type"] is not None  # trained: its accuracy means something
    assert any("trained single-task baselines" in note for note in pair["notes"])
    assert pair["size_bytes"] == sum(
        RunDir(tiny / "baselines" / f"{h}.seed0").file("export", "model_int8.tflite")
        .stat().st_size for h in HEADS)
    assert 0 < results["ratios"]["two_head_vs_single_task_size"] < 1
    assert "the article's claim" in result.output and "two-head" in result.output
    markdown = (tiny / "benchmark" / "results.md").read_text()
    assert "| flower_color | int8 | single-task |" in markdown

    report = runner.invoke(app, ["report", "--run", str(tiny)])
    assert report.exit_code == 0, report.output
    page = (tiny / "report" / "index.html").read_text()
    assert "Against trained single-task models (1 seed(s), test split)" in page
    assert "<td>single-task</td>" in page

    # The run retrained with other settings (recorded so) does not mix its new self with
    # baselines of the old one.
    manifest = RunDir(tiny).manifest()
    manifest["stages"]["train"]["settings"]["epochs"] = 7
    write_json(tiny / "manifest.json", manifest)
    result = bench(tiny, "--baselines", "trained")
    assert result.exit_code == 1
    assert f"{first.root}: trained with other settings than {tiny} (epochs 2 (the run has 7))" \
        in result.output
