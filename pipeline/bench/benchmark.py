"""`pipeline benchmark`: latency, memory, size and accuracy of every variant on CPU, side by side.

The parent (this module) reads the run, scores accuracy, builds the single-task pair and the
peak models; the timing happens in bench_worker subprocesses driven by bench_driver, and
bench_report turns the figures into results.json / results.md / latency.png (the report's
latency figure, figures/charts.py) and the terminal table. Figures are only compared within one
run: the machine is shared and drifts.
"""
from __future__ import annotations

import os
import platform
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.bench import report as bench_report
from pipeline.bench.baselines import KINDS
from pipeline.bench.driver import Job, latency_stats, measure_all
from pipeline.bench.variants import (ORDER, Context, Skip, Variant, arithmetic, load_tflite,
                                     make, tflite_job)
from pipeline.figures import machine
from pipeline.data import packs
from pipeline.core.config import ModelConfig
from pipeline.core.errors import PipelineError
from pipeline.core.io import read_json
from pipeline.options import BenchmarkOptions
from pipeline.rundir.runs import RunDir
from pipeline.rundir.trained import TrainedRun
from pipeline.data.sources import open_source
from pipeline.export.quantize import calibration_positions
from pipeline.modelfile.variants import VARIANTS

QUICK = {"runs": 20, "warmup": 3, "rounds": 2, "calibration": 16}
ROUNDS, CALIBRATION = 10, 200  # many short rounds: a load spike spreads over all


def run(o: BenchmarkOptions) -> dict:
    settings = _settings(list(o.threads), o.runs, o.warmup, o.quick, o.baselines, o.seeds)
    rd = RunDir(o.run)
    rd.require("export")
    with rd.writing():  # one writer per run; the export cannot change while it is measured
        plan = _trained_baselines(rd, o.seeds) if o.baselines == "trained" else []
        return _run(rd, settings, plan)


def _trained_baselines(rd: RunDir, seeds: int) -> list:
    """Train (or reuse) every single-task model and two-head seed before measuring anything:
    the hours go first, so a stopped call resumes them (baselines.py)."""
    from pipeline.bench import baselines

    rd.require("qat")
    plan = baselines.plan(rd, seeds)
    for number, baseline in enumerate(plan, start=1):
        print(f"benchmark: baseline {number} of {len(plan)}: {baseline.path}")
        baselines.ensure(rd, baseline)
    return plan


def _run(rd: RunDir, settings: dict, plan: list) -> dict:
    spec = _export_spec(rd)
    _check_exported(rd, spec)
    ctx = _context(rd, spec, settings["calibration_images"])
    ctx.baselines = {b.tasks[0]: b.path for b in plan
                     if len(b.tasks) == 1 and b.seed == plan[0].seed}
    with tempfile.TemporaryDirectory(prefix="pipeline-bench-") as tmp:
        ctx.pixels_file = Path(tmp) / "pixels.npy"
        np.save(ctx.pixels_file, _timing_image(ctx))
        variants = _variants(ctx, Path(tmp))
        if not variants:
            raise PipelineError(f"{rd.root}: no variant could be benchmarked")
        jobs = _jobs(ctx, variants, Path(tmp), settings["threads"])
        print(f"benchmark: {len(variants)} variants x threads {settings['threads']}, "
              f"{settings['runs']} timed runs each in {settings['rounds']} rounds")
        load_before = os.getloadavg()
        measure_all(jobs, settings["runs"], settings["warmup"], settings["rounds"])
    results = _results(ctx, variants, jobs, settings, load_before)
    if plan:
        from pipeline.bench import claim

        print("benchmark: scoring the two-head model and the single-task baselines on the "
              "test split")
        results["baselines"] = claim.measure(rd, plan)
    with rd.stage("benchmark", settings) as w:
        bench_report.write_all(results, w.dir)
        w.metrics = results["ratios"]
    print(bench_report.terminal(results))
    return results


def _export_spec(rd: RunDir) -> dict:
    """export/model.json of a current export stage (else one line saying how to make it)."""
    from pipeline.modelfile.runtime import read_spec

    return read_spec(rd.file("export", "model.json"))


def _check_exported(rd: RunDir, spec: dict) -> None:
    """Check (sha256 against the manifest) and load every exported variant before any slow
    step: a changed or unreadable .tflite stops the stage at once with one line."""
    from pipeline.modelfile.runtime import TFLiteModel

    for variant in VARIANTS:
        entry = spec["variants"].get(variant.key)
        if entry is not None:
            TFLiteModel(rd.file("export", entry["file"]))


def _settings(threads: list[int], runs: int, warmup: int, quick: bool, baselines: str,
              seeds: int) -> dict:
    if not threads:
        raise PipelineError("--threads: name at least one thread count, e.g. 1,2")
    if baselines not in KINDS:
        raise PipelineError(f"--baselines must be one of {', '.join(KINDS)}, "
                            f"got {baselines!r}")
    if seeds > 1 and baselines != "trained":
        raise PipelineError("--seeds counts trained models: it needs --baselines trained")
    s = {"threads": sorted(set(threads)), "runs": runs, "warmup": warmup, "rounds": ROUNDS,
         "calibration_images": CALIBRATION, "quick": quick, "baselines": baselines,
         "seeds": seeds}
    if quick:
        s.update(runs=min(runs, QUICK["runs"]), warmup=min(warmup, QUICK["warmup"]),
                 rounds=QUICK["rounds"], calibration_images=QUICK["calibration"])
    s["rounds"] = max(1, min(s["rounds"], s["runs"]))
    return s


def _context(rd: RunDir, spec: dict, calibration: int) -> Context:
    if not rd.has("train"):  # an export alone: its input says the size and normalization
        entry = next(iter(spec["variants"].values()))["input"]
        config = ModelConfig(image_size=int(entry["shape"][1]),
                             normalization=entry["normalization"])
        ctx = Context(rd, spec, rd.heads(), config, None, None)
        ctx.notes.append("no train stage in the run: accuracy not measured, single-task "
                         "pair not built")
        return ctx
    trained = TrainedRun.open(rd.root)
    ctx = Context(rd, spec, trained.heads, trained.config, None, None)
    data = trained.data
    if not (data / "test.txt").is_file() and not (data / "test" / packs.INDEX).is_file():
        ctx.notes.append(f"training data {data} is gone: accuracy not measured, "
                         "single-task pair not built")
        return ctx
    # The data as quantize reads it (label files validated as `data check` does, or packs),
    # and the first of its calibration images: the single-task pair is calibrated alike.
    source = open_source(data, trained.settings.input, trained.config, trained.schema,
                         trained.heads)
    ctx.test = source.arrays("test")
    ctx.train_pixels = source.pixels_at(
        "train", calibration_positions(source.count("train"), calibration))
    return ctx


def _timing_image(ctx: Context) -> np.ndarray:
    """A real test image when there is one (content does not change the time, but it is
    what the phone sees); else mid-grey."""
    if ctx.test is not None and len(ctx.test[0]):
        return ctx.test[0][0]
    size = ctx.config.image_size
    return np.full((size, size, 3), 128, dtype=np.uint8)


def _variants(ctx: Context, tmp: Path) -> list[Variant]:
    found = []
    for name in ORDER:
        try:
            variant = make(name, ctx, tmp)
        except Skip as skip:
            print(f"benchmark: skipping {name}: {skip}")
            ctx.notes.append(f"{name} skipped: {skip}")
            continue
        found.append(variant)
    return found


def _jobs(ctx: Context, variants: list[Variant], tmp: Path, threads: list[int]) -> list[Job]:
    from pipeline.bench.models import peak_models

    print("benchmark: building the peak-throughput models (large fully-connected)")
    peaks = peak_models(tmp / "peak")
    jobs = [Job(v.name, t, v.spec) for v in variants for t in threads]
    for kind, (path, _) in peaks.items():
        pixels = tmp / f"peak_{kind}.npy"
        np.save(pixels, _peak_input(path))
        spec = tflite_job(load_tflite([path]), pixels)
        jobs += [Job(f"peak_{kind}", t, spec) for t in threads]
    ctx.peak_macs = {kind: macs for kind, (_, macs) in peaks.items()}
    return jobs


def _peak_input(path: Path) -> np.ndarray:
    from pipeline.bench.models import PEAK_FEATURES, PEAK_ROWS

    rng = np.random.default_rng(1)
    # TFLiteModel.prepare() takes 0..255 "pixels"; normalization (0, 1) keeps them as they are.
    return rng.integers(0, 4, (PEAK_ROWS, PEAK_FEATURES)).astype(np.uint8)


def _results(ctx: Context, variants: list[Variant], jobs: list[Job], settings: dict,
             load_before) -> dict:
    by_key = {(j.variant, j.threads): j for j in jobs}
    # GMAC/s = MACs / (p50 in ms * 1e6), per thread count and arithmetic.
    peak = {str(t): {kind: ctx.peak_macs[kind] / 1e6
                     / latency_stats(by_key[(f"peak_{kind}", t)])["p50"]
                     for kind in ("float32", "int8")} for t in settings["threads"]}
    out = {v.name: bench_report.variant_entry(v, by_key, settings["threads"], peak,
                                              arithmetic(v.name)) for v in variants}
    host = _machine(load_before)
    ratios = bench_report.ratios(out, settings["threads"], host["flags"] or None)
    return {"machine": host, "settings": settings, "variants": out, "peak_gmacs": peak,
            "ratios": ratios, "notes": ctx.notes}


def _machine(load_before) -> dict:
    from importlib import metadata

    cpu, flags = machine.cpu()
    return {"cpu": cpu, "flags": flags, "cores": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(),
            "ai_edge_litert": metadata.version("ai-edge-litert"),
            "load_avg_before": [round(x, 2) for x in load_before],
            "load_avg_after": [round(x, 2) for x in os.getloadavg()]}
