"""`pipeline report`: read the run, run the exported variants on its test split with LiteRT,
and write one self-contained HTML page, problems first.

The page is written atomically (a temporary file in the same folder, then a rename), so a
reader never sees half a page; written into the run, it is written under the run's lock.
Everything is read through one snapshot of the manifest, each stage's files checked against
their recorded sha256. RUN/report/ is not a stage in the manifest: the report is a
view of the run, made again at will, and nothing downstream reads it.
"""
from __future__ import annotations

from pathlib import Path

from pipeline.core.errors import PipelineError
from pipeline.core.io import atomic_write_text
from pipeline.options import ReportOptions
from pipeline.rundir.runs import writing_if_inside
from pipeline.report import benchmark, calibration, devices, html, predictions, sections
from pipeline.report.gather import gather, variant_keys

DEFAULT_OUT = Path("report") / "index.html"


def run(o: ReportOptions) -> Path:
    run, gallery = o.run, o.gallery
    out = o.out or run / DEFAULT_OUT
    if out.is_dir():
        raise PipelineError(f"{out}: is a folder; give the report's file name, e.g. {out}/index.html")
    with writing_if_inside(run, out):
        report = gather(Path(run))
        preds = predictions.run(report, Path(run), gallery) if report["heads"] else None
        benchmark.check(report)
        atomic_write_text(out, render(report, preds))
    print(f"report: {out}")
    return out


def render(report: dict, preds: dict | None) -> str:
    parts = [("summary", "summary", html.summary(report))]
    if report["heads"] is None:
        how = report["stages"]["train"]["how"]
        parts.append(("heads", "heads", html.section(
            "Heads", html.missing("no training yet", how), "heads")))
    else:
        sections.findings(report, preds)
        parts += [sections.head_section(report, preds, i, head)
                  for i, head in enumerate(report["heads"])]
        parts += [sections.variant_section(report, preds, i, key)
                  for i, key in enumerate(variant_keys(report))]
        parts.append(calibration.not_sure_section(report, preds))
        parts.append(sections.gallery_section(report, preds))
    parts.append(devices.devices_section(report))  # beside the CPU benchmark, just before it
    parts.append(benchmark.benchmark_section(report))
    # Last, so that it lists what rendering found too; first on the page.
    return html.page(report, [("problems", "problems", html.problems(report))] + parts)
