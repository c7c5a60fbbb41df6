"""`pipeline web`: the static site of a run (its files, no labels of its own, built whole or
not at all, one-line errors), and the device results in `pipeline report`."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from helpers_runs import make_tiny_exported_run
from pipeline.cli import app
from pipeline.web import devices, site as sitelib

runner = CliRunner()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return make_tiny_exported_run(tmp_path_factory.mktemp("web")).root


@pytest.fixture
def modules(tmp_path, monkeypatch):
    """A stand-in for the npm install: the files `pipeline web` copies, with marker bytes."""
    folder = tmp_path / "node_modules"
    package = folder / sitelib.MEDIAPIPE
    for name in sitelib.MEDIAPIPE_FILES:
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text('{"version": "0.10.21"}' if name == "package.json" else name)
    monkeypatch.setenv("PIPELINE_WEB_MODULES", str(folder))
    return folder


def web(*args):
    return runner.invoke(app, ["web", *map(str, args)])


def test_site_holds_the_page_the_runtime_and_the_exported_files(exported, modules, tmp_path):
    out = tmp_path / "site"
    result = web("--run", exported, "--out", out, "--variants", "float32,int8")
    assert result.exit_code == 0, result.output
    info = json.loads((out / "site.json").read_text())
    assert [v["key"] for v in info["variants"]] == ["float32", "int8"]  # first = default
    for v in info["variants"]:
        assert (out / v["file"]).read_bytes() == (exported / "export" / v["file"].split("/")[1]).read_bytes()
    assert (out / "mediapipe" / "vision_bundle.mjs").read_text() == "vision_bundle.mjs"
    assert info["runtime"] == "@mediapipe/tasks-vision 0.10.21"
    # The page names no class: labels come from the model file's metadata; site.json says
    # only each head's kind (from model.json), and the page's code names no head.
    assert info["heads"] == [{"name": "flower_type", "kind": "classification"},
                             {"name": "flower_color", "kind": "classification"}]
    page = "".join((out / n).read_text() for n in ("index.html", "app.js", "site.json"))
    assert not {"rose", "daisy", "pink"} & set(page.replace('"', " ").split())
    code = "".join((out / n).read_text() for n in ("index.html", "app.js"))
    assert "flower_type" not in code
    assert "http://" not in page and "https://" not in page  # nothing from another host
    assert web("--run", exported, "--out", out, "--variants", "int8").exit_code == 0
    assert [v["key"] for v in json.loads((out / "site.json").read_text())["variants"]] == ["int8"]
    assert not (out / "models" / "model_float32.tflite").exists()  # replaced, not merged
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("case, message", [
    ("variant", "no variant 'int4'"), ("no-export", "stage 'export' has not finished"),
    ("no-npm", "run `make web-deps`"), ("not-a-site", "is not a site `pipeline web` made"),
    ("no-run", "no such run directory")])
def test_bad_input_is_one_line_and_writes_nothing(exported, modules, tmp_path, monkeypatch,
                                                 case, message):
    run, out, variants = exported, tmp_path / "site", "int8"
    if case == "variant":
        variants = "int8,int4"
    elif case == "no-export":
        run = tmp_path / "empty"
        run.mkdir()
    elif case == "no-npm":
        monkeypatch.setenv("PIPELINE_WEB_MODULES", str(tmp_path / "nothing"))
    elif case == "not-a-site":
        out.mkdir()
        (out / "notes.txt").write_text("mine")
    else:
        run = tmp_path / "missing"
    result = web("--run", run, "--out", out, "--variants", variants)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.output
    left = sorted(p.name for p in out.iterdir()) if out.exists() else []
    assert left == (["notes.txt"] if case == "not-a-site" else [])


def test_current_follows_the_export_and_the_page(exported, modules, tmp_path):
    out = sitelib.build(exported, tmp_path / "site", ["int8"])
    assert sitelib.current(out, exported, ["int8"])
    assert not sitelib.current(out, exported, ["float32"])
    page = (out / "app.js").read_bytes()
    (out / "app.js").write_bytes(page + b"// the page of an older pipeline\n")
    assert not sitelib.current(out, exported, ["int8"])  # served again, rebuilt first
    (out / "app.js").write_bytes(page)
    info = json.loads((out / "site.json").read_text())
    (out / "site.json").write_text(json.dumps({**info, "export_id": "older"}))
    assert not sitelib.current(out, exported, None)


def test_report_without_device_results_says_how(exported, tmp_path):
    from pipeline import api

    page = api.report(exported, out=tmp_path / "report.html").read_text()
    assert "no device has posted a benchmark yet" in page.split('id="devices"')[1]


def test_report_shows_measured_on_devices(exported, modules, tmp_path):
    from pipeline import api

    out = sitelib.build(exported, tmp_path / "site", ["int8"])
    info = json.loads((out / "site.json").read_text())
    sha = info["variants"][0]["sha256"]
    body = {"schema": 1, "runtime": info["runtime"], "note": "a test phone",
            "device": {"user_agent": "Mozilla/5.0 (Linux; Android 14; Pixel 7) Chrome/120",
                       "hardware_concurrency": 8, "wasm_simd": True, "webgpu": False},
            "variants": {"int8": {"sha256": sha, "runs": 50, "p50_ms": 7.25, "p90_ms": 9.5}}}
    name = devices.record(exported, devices.parse(json.dumps(body).encode(), info), info)
    page = api.report(exported, out=tmp_path / "report.html").read_text()
    table = page.split('id="devices"')[1]
    assert "Measured on devices" in page and name in table and "Android 14; Pixel 7" in table
    assert "7.25" in table and "an earlier export" not in table
    info["variants"][0]["sha256"] = "0" * 64  # a result of another export's file
    body["variants"]["int8"]["sha256"] = "0" * 64
    devices.record(exported, devices.parse(json.dumps(body).encode(), info), info)
    table = api.report(exported, out=tmp_path / "report.html").read_text().split('id="devices"')[1]
    assert table.count("an earlier export") == 1


def test_default_variants_are_the_exports_default_and_reference(exported, monkeypatch):
    from pipeline.core.io import read_json
    from pipeline.rundir.runs import RunDir

    spec = read_json(exported / "export" / "model.json")
    assert (spec["default"], spec["reference"]) == ("int8", "float32")
    _, chosen = sitelib.chosen_variants(RunDir(exported), None)
    assert list(chosen) == ["int8", "float32"]
    _, chosen = sitelib.chosen_variants(RunDir(exported), ["float16"])
    assert list(chosen) == ["float16"]
    # Read from model.json, not a list of the page's own: another default is followed.
    monkeypatch.setattr(sitelib, "read_json", lambda path: {**spec, "default": "float16"})
    _, chosen = sitelib.chosen_variants(RunDir(exported), None)
    assert list(chosen) == ["float16", "float32"]
