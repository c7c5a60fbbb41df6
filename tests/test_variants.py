"""The export variant registry (pipeline/export/variants.py): its entries, the consumers that
list it, and `pipeline export --variants` choosing among them."""
import hashlib
import json
from pathlib import Path

import pytest
from helpers_runs import make_tiny_exported_run
from typer.testing import CliRunner

from pipeline.bench.variants import ORDER, arithmetic
from pipeline.cli import app
from pipeline.core.errors import PipelineError
from pipeline.export import variants as registry
from pipeline.export.variants import BY_KEY, DEFAULT, REFERENCE, VARIANTS

runner = CliRunner()


def test_entries_are_distinct_and_well_formed():
    for field in ("key", "file", "bench_key", "label"):
        values = [getattr(v, field) for v in VARIANTS]
        assert len(set(values)) == len(values), field
    assert DEFAULT in BY_KEY and REFERENCE in BY_KEY
    # the reference is held to Keras float with the same maths: a plain float conversion
    assert BY_KEY[REFERENCE].conversion == registry.FLOAT32
    assert BY_KEY[REFERENCE].source == "float"
    for v in VARIANTS:
        assert v.file == f"model_{v.key}.tflite" and v.source in ("float", "qat")
        assert v.arithmetic in ("float32", "int8")
        assert v.input_dtype in ("float32", "uint8")  # LiteRT.js has no int8 tensors
        assert v.conversion.full_integer == (v.input_dtype == "uint8")
        assert set(v.conversion.supported_types) <= {"float16"}


def test_consumers_list_the_registry():
    assert ORDER == (registry.BENCH_KERAS, *(v.bench_key for v in VARIANTS), registry.BENCH_PAIR)
    assert all(arithmetic(v.bench_key) == v.arithmetic for v in VARIANTS)
    for command in ("export", "android"):
        text = runner.invoke(app, [command, "--help"], terminal_width=200).output
        assert all(key in text for key in BY_KEY), command


def test_select_in_registry_order_and_refuses_unknown_names():
    assert registry.select(None) == VARIANTS
    assert registry.select([DEFAULT, REFERENCE]) == tuple(
        v for v in VARIANTS if v.key in (DEFAULT, REFERENCE))
    with pytest.raises(PipelineError, match=r"unknown variant 'fp8' \(registered: "):
        registry.select([REFERENCE, "fp8"])
    with pytest.raises(PipelineError, match="at least one"):
        registry.select([])
    assert registry.lead(list(BY_KEY)) == DEFAULT
    assert registry.lead([REFERENCE]) == REFERENCE


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return make_tiny_exported_run(tmp_path_factory.mktemp("variants")).root


def _files(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_unknown_variant_is_one_line_and_nothing_is_written(run):
    before = _files(run)
    result = runner.invoke(app, ["export", "--run", str(run), "--variants", f"{REFERENCE},fp8"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "'fp8'" in lines[0] and REFERENCE in lines[0], result.output
    assert _files(run) == before


def test_export_of_the_chosen_variants_only(run):
    result = runner.invoke(app, ["export", "--run", str(run), "--variants", REFERENCE])
    assert result.exit_code == 0, result.output
    export = run / "export"
    assert {p.name for p in export.iterdir()} == {BY_KEY[REFERENCE].file, "model.json",
                                                  "metrics.json"}
    spec = json.loads((export / "model.json").read_text())
    assert list(spec["variants"]) == [REFERENCE] and spec["default"] == REFERENCE
    metrics = json.loads((export / "metrics.json").read_text())
    assert list(metrics["variants"]) == [REFERENCE]
    assert metrics["size_ratio_int8_to_float32"] is None  # no int8 file to compare
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["stages"]["export"]["settings"]["variants"] == [REFERENCE]
    image = sorted((run.parent / "run_data" / "images").iterdir())[0]
    result = runner.invoke(app, ["predict", str(image), "--model", str(run), "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["variant"] == REFERENCE
