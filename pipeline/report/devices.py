"""The "measured on devices" section: the benchmarks phones posted to `pipeline serve`.

They live in the run's `devices` stage (one JSON file per device run, see pipeline/web/
devices.py), read here through the report's manifest snapshot, each file checked against its
recorded sha256. A result whose model file is not the current export's (same variant, other
sha256) was measured on an earlier export and says so.
"""
from __future__ import annotations

import json
import re

from pipeline.core.errors import PipelineError
from pipeline.rundir.runs import RunDir
from pipeline.modelfile.variants import BY_KEY
from pipeline.report.gather import problem
from pipeline.report.html import esc, fmt, missing, section, table

STAGE = "devices"
HOW = "pipeline serve --run {run}, then “Benchmark this device” on the phone (docs/web.md)"


def read(report: dict) -> list[dict]:
    rd = RunDir(report["run"], report["manifest"])
    entry = rd.entry(STAGE)
    if entry is None:
        return []
    found = []
    for key in sorted(entry.get("outputs", {})):
        try:
            path = rd.file(STAGE, key.split("/", 1)[1])
            found.append({**json.loads(path.read_text(encoding="utf-8")), "file": path.name})
        except (PipelineError, ValueError, OSError) as exc:
            problem(report, "error", f"{exc} (device result not shown)")
    return found


def device_name(device: dict) -> str:
    """What a person recognizes: the parenthesis of the user agent ("Linux; Android 14;
    Pixel 7"), else the platform."""
    match = re.search(r"\(([^)]*)\)", device.get("user_agent", ""))
    return match.group(1) if match else device.get("platform", "?")


def current_sha(report: dict, variant: str) -> str | None:
    export = report["manifest"].get("stages", {}).get("export") or {}
    spec = BY_KEY.get(variant)
    record = export.get("outputs", {}).get(f"export/{spec.file}") if spec else None
    return record.get("sha256") if record else None


def rows(report: dict, results: list[dict]) -> list[list[str]]:
    out = []
    for r in results:
        d = r.get("device", {})
        about = (f"{esc(device_name(d))}<br><small>{esc(d.get('hardware_concurrency', '?'))} cores, "
                 f"wasm SIMD {'yes' if d.get('wasm_simd') else 'no'}, threads "
                 f"{'yes' if d.get('wasm_threads') else 'no'}, WebGPU "
                 f"{'present' if d.get('webgpu') else 'absent'}</small>")
        for key, v in r.get("variants", {}).items():
            same = v.get("sha256") == current_sha(report, key)
            out.append([esc(r["file"]), about, f"<code>{esc(key)}</code>"
                        + ("" if same else " <small>(an earlier export)</small>"),
                        fmt(v.get("p50_ms"), 2), fmt(v.get("p90_ms"), 2), esc(v.get("runs")),
                        fmt(r.get("frame_to_answer_ms"), 1), esc(r.get("runtime", "?")),
                        esc(r.get("note", ""))])
    return out


def devices_section(report: dict) -> tuple[str, str, str]:
    results = read(report)
    if not results:
        body = missing("no device has posted a benchmark yet", HOW.format(run=report["run"]))
    else:
        header = ["result", "device", "variant", "p50 ms", "p90 ms", "runs",
                  "camera frame to answer ms (p50)", "runtime", "note"]
        body = ("<p>Each variant's whole <code>classify()</code> call in the page (the "
                "runtime's image conversion and resize, inference, reading the heads) on a "
                "fixed 256 px picture, after a warm-up.</p>" + table(header, rows(report, results)))
    return "devices", "devices", section("Measured on devices", body, "devices")
