"""`pipeline report`: runs missing each later stage, escaping, three heads, no TensorFlow,
the CLI's error paths and the atomic write."""
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from helpers_report import THREE_HEADS, drop_stages, make_three_head_run, write_benchmark
from helpers_runs import make_tiny_exported_run, restamp
from PIL import Image
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.heads.schema import FLOWER_HEADS
from pipeline.modelfile.variants import BENCH_KERAS, BY_KEY
from pipeline import api
from pipeline.report import report as stage
from helpers_process import run_without_tensorflow

runner = CliRunner()
NASTY = "<b>&\"'.jpg"
EVERY = [BENCH_KERAS, *BY_KEY]  # the Keras model's section, then each registered variant's


class Page(HTMLParser):
    """What a browser would see: sections with their attributes, tags, text, image sources."""

    def __init__(self, text: str):
        super().__init__()
        self.sections, self.tags, self.text, self.images = [], [], [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "section":
            self.sections.append(attrs)
        if tag == "img":
            self.images.append(attrs["src"])

    def handle_data(self, data):
        self.text.append(data)

    def of(self, cls: str, key: str) -> list:
        return [s[key] for s in self.sections if cls in s.get("class", "").split()]

    @property
    def words(self) -> str:
        return re.sub(r"\s+", " ", "".join(self.text))


def report(run) -> tuple[str, Page]:
    out = api.report(run)
    text = out.read_text(encoding="utf-8")
    return text, Page(text)


@pytest.fixture()
def exported(tmp_path):
    return make_tiny_exported_run(tmp_path)


def test_train_only_run_says_what_to_run_next(exported):
    run = drop_stages(exported, "qat", "export")
    _, page = report(run.root)
    assert page.of("head", "data-head") == FLOWER_HEADS.names
    assert page.of("variant", "data-variant") == ["keras_float"]
    assert page.sections[0]["id"] == "problems"  # errors first
    assert f"no exported model yet: run pipeline quantize --run {run.root}" in page.words
    assert f"no benchmark yet: run pipeline benchmark --run {run.root}" in page.words
    # The tiny helper run's train/ holds only the model: the page says what is missing.
    assert "history.csv: file not found; no curves" in page.words
    assert "metrics.json: file not found" in page.words


def test_exported_run_has_every_variant_and_a_gallery(exported):
    text, page = report(exported.root)
    assert page.of("head", "data-head") == FLOWER_HEADS.names
    assert page.of("variant", "data-variant") == EVERY
    assert text.count('class="tile') == 12  # the tiny test split, all shown
    assert any(src.startswith("data:image/jpeg;base64,") for src in page.images)
    assert "no benchmark yet" in page.words
    for head in FLOWER_HEADS:  # recall with its n beside it, per class
        for name in head.classes:
            assert f"{name}: recall (hits/n)" in page.words
    assert "/4" in page.words  # 4 test images per colour class: n is shown


def test_full_run_with_benchmark(exported):
    results = write_benchmark(exported, FLOWER_HEADS)
    text, page = report(exported.root)
    words = page.words
    assert "no benchmark yet" not in words
    assert "Test CPU <x86>" in words  # read from results.json, shown escaped
    assert "two single-task int8 models, one after the other" in words
    ratio = results["ratios"]["two_head_vs_two_single_task_latency"]
    assert f"{ratio:.2f}x" in words
    assert "Noise: per-round medians differ by up to" in words
    benchmark = page.sections[-1]
    assert benchmark["id"] == "benchmark"
    # QAT curves per head (the helper's train/ has no history), 3 benchmark figures, one
    # reliability / coverage figure per head (not sure), 12 tiles
    assert len(page.images) == 2 + 3 + 2 + 12
    assert 'alt="reliability and coverage: flower_type"' in text


def test_stale_stage_folder_is_reported_not_shown(exported, tmp_path):
    write_benchmark(exported, FLOWER_HEADS)
    manifest = json.loads(exported.manifest_path.read_text())
    del manifest["stages"]["benchmark"]
    exported.manifest_path.write_text(json.dumps(manifest))
    elsewhere = tmp_path / "page.html"  # written outside the run: a pure reader
    api.report(exported.root, out=elsewhere)
    words = Page(elsewhere.read_text(encoding="utf-8")).words
    assert "no benchmark yet" in words
    assert "the folder is there but the manifest has no finished 'benchmark'" in words
    _, page = report(exported.root)  # into the run: a writer, which tidies the leftover first
    assert "no benchmark yet" in page.words and "folder is there" not in page.words
    assert not (exported.root / "benchmark").exists()


def test_nasty_file_and_class_names_are_escaped(exported):
    data = Path(exported.stage_entry("train")["settings"]["data"])
    Image.new("RGB", (32, 32), (200, 30, 30)).save(data / "images" / NASTY, format="JPEG")
    with open(data / "test.txt", "a", encoding="utf-8") as f:
        f.write(f"images/{NASTY}, 0, 0\n")
    for path, key in ((exported.root / "labels.json", None), (exported.path("export") / "model.json", "heads")):
        spec = json.loads(path.read_text())
        if key:
            spec["heads"]["flower_type"] = ["<i>rose</i>", "daisy & co"]
        else:
            spec["heads"][0]["classes"] = ["<i>rose</i>", "daisy & co"]
            (data / "heads.json").write_text(json.dumps(spec))  # the data says so too
        path.write_text(json.dumps(spec))
    restamp(exported, "export")
    text, page = report(exported.root)
    assert NASTY not in text and "<i>rose" not in text
    assert "&lt;b&gt;&amp;&quot;&#x27;.jpg" in text
    assert NASTY in page.words and "<i>rose</i>" in page.words and "daisy & co" in page.words
    # Every <b> and <i> on the page is the page's own, closed: none was opened by a name.
    assert text.count("<b>") == text.count("</b>") and text.count("<i>") == text.count("</i>")


def test_three_heads_render_three_sections(tmp_path):
    run = make_three_head_run(tmp_path / "run3")
    text, page = report(run.root)
    assert page.of("head", "data-head") == THREE_HEADS.names
    assert page.of("variant", "data-variant") == EVERY
    assert text.count('alt="vehicle_') == 3  # one curves figure per head, from history.csv
    assert "&lt;gamma&gt;" in text and "<gamma>" not in text
    # export/metrics.json is missing: said first, and the figures come from LiteRT instead
    assert f"{run.path('export')}/metrics.json: file not found" in page.words
    assert "report's LiteRT run" in page.words
    tiles = text.split('class="tile')[1:]
    assert tiles[0].startswith(' wrong"') and "solid_0.png" in tiles[0]  # the mistake first


def test_report_imports_no_tensorflow(exported):
    write_benchmark(exported, FLOWER_HEADS)
    run_without_tensorflow(f"from pipeline import api; api.report({str(exported.root)!r})")


def one_line_error(result, *fragments):
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_cli_no_such_run(tmp_path):
    one_line_error(runner.invoke(app, ["report", "--run", str(tmp_path / "nope")]),
                   "no such run directory")


def test_cli_folder_without_manifest(tmp_path):
    one_line_error(runner.invoke(app, ["report", "--run", str(tmp_path)]), "manifest.json")


def test_cli_broken_results_json_names_the_file(exported):
    write_benchmark(exported, FLOWER_HEADS)
    (exported.path("benchmark") / "results.json").write_text("{not json")
    restamp(exported, "benchmark")  # as if the stage had written it so (else: sha256 differs)
    one_line_error(runner.invoke(app, ["report", "--run", str(exported.root)]),
                   "results.json", "not valid JSON")


def test_cli_writes_where_asked_and_prints_the_path(exported, tmp_path):
    out = tmp_path / "elsewhere" / "page.html"
    result = runner.invoke(app, ["report", "--run", str(exported.root), "--out", str(out),
                                 "--gallery", "4"])
    assert result.exit_code == 0, result.output
    assert f"report: {out}" in result.output
    assert out.read_text(encoding="utf-8").count('class="tile') == 4
    one_line_error(runner.invoke(app, ["report", "--run", str(exported.root), "--out",
                                       str(tmp_path)]), "is a folder")


def test_failed_render_leaves_the_old_page(exported, monkeypatch):
    out = api.report(exported.root)
    before = out.read_bytes()

    def boom(*args):
        raise RuntimeError("render failed")

    monkeypatch.setattr(stage, "render", boom)
    with pytest.raises(RuntimeError):
        api.report(exported.root)
    assert out.read_bytes() == before
    assert [p.name for p in out.parent.iterdir()] == ["index.html"]  # no temporary left


def test_unreadable_test_image_is_an_error_on_the_page(exported):
    data = Path(exported.stage_entry("train")["settings"]["data"])
    victim = sorted((data / "images").iterdir())[0]
    victim.write_bytes(b"")
    _, page = report(exported.root)
    assert "image file is empty" in page.words and victim.name in page.words
    assert page.of("variant", "data-variant") == EVERY


def test_names_that_look_like_tex_are_drawn_as_text():
    from pipeline.report import plots

    head = "cost_$5_$\\frac"  # two dollars and a bad macro: mathtext would raise on drawing
    rows = [{"epoch": 1, f"{head}_loss": 1.0, f"{head}_accuracy": 0.5},
            {"epoch": 2, f"{head}_loss": 0.5, f"{head}_accuracy": 0.7}]
    assert plots.curves(head, rows, rows)[:8] == b"\x89PNG\r\n\x1a\n"


def test_results_json_with_only_the_contract_keys(exported):
    """DESIGN.md's results.json keys, nothing more: the benchmark section still renders."""
    lat = {"1": {"p50": 2.0, "p90": 2.5, "p99": 3.0, "mean": 2.1}}
    entry = {"latency_ms": lat, "init_ms": 10.0, "size_bytes": 1_000_000, "peak_rss_mb": 44.0,
             "accuracy": {"flower_type": 0.9, "flower_color": 0.8}}
    results = {"machine": {"cpu": "some CPU"}, "ratios": {},
               "variants": {"tflite_float32": entry, "tflite_int8_qat": entry}}
    with exported.stage("benchmark", {}) as w:
        (w.dir / "results.json").write_text(json.dumps(results))
    text, page = report(exported.root)
    assert "some CPU" in page.words and "no benchmark yet" not in page.words
    bench = text[text.index('id="benchmark"'):]
    assert bench.count("<img") == 2  # latency and memory/size; no rounds, so no noise figure
