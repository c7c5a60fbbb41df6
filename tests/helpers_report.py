"""Runs for the report's tests: later stages taken away, a benchmark stage without timing, and
a three-head run whose heads are not flowers (known-answer model, no training).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from helpers_runs import export_known_model, known_answer, solid_images
from PIL import Image

from pipeline.heads.schema import Head, Heads
from pipeline.data.labels import Sample, write_label_file
from pipeline.heads.metrics import head_metrics
from pipeline.rundir.runs import RunDir
from pipeline.core.io import write_json
from pipeline.bench.variants import ORDER as BENCH_VARIANTS, arithmetic
from pipeline.modelfile.variants import BENCH_PAIR, BY_KEY
# Not the flowers, and a class name that must be escaped.
THREE_HEADS = Heads((Head("vehicle_kind", "kind", ("sedan", "truck")),
                     Head("vehicle_make", "make", ("alpha", "beta", "<gamma>")),
                     Head("vehicle_age", "age", ("new", "old"))))


def drop_stages(run: RunDir, *stages: str) -> RunDir:
    """The run as if `stages` had never finished: folders and manifest entries gone."""
    manifest = run.manifest()
    for stage in stages:
        shutil.rmtree(run.path(stage), ignore_errors=True)
        manifest["stages"].pop(stage, None)
    write_json(run.manifest_path, manifest)
    return run


def write_benchmark(run: RunDir, heads: Heads, cpu: str = "Test CPU <x86>") -> dict:
    """A benchmark stage in the stage's own results.json shape (bench.report builds it), from
    made-up timings: the report reads the file, not how fast the test machine is."""
    from pipeline.bench import report as bench_report
    from pipeline.bench.driver import Job
    from pipeline.bench.benchmark import Variant

    threads, entries, jobs = [1, 2], {}, {}
    peak = {str(t): {"float32": 10.0 * t, "int8": 30.0 * t} for t in threads}
    for k, name in enumerate(BENCH_VARIANTS):
        for t in threads:
            times = [[(k + 1) * 0.4 + 0.01 * i + 0.05 * r for i in range(6)] for r in range(3)]
            ready = {"import_ms": 1.0, "init_ms": 5.0 + k, "first_ms": 2.0,
                     "rss_before_load_mb": 30.0, "rss_added_mb": 4.0}
            jobs[(name, t)] = Job(name, t, {}, ready, times, 40.0 + 5 * k)
        pair = name == BENCH_PAIR
        accuracy = None if pair else {h.name: 0.5 + 0.05 * k for h in heads}
        variant = Variant(name, {}, 100_000 * (len(BENCH_VARIANTS) - k), 1_000_000, accuracy,
                          ["untrained pair"] if pair else [])
        entries[name] = bench_report.variant_entry(variant, jobs, threads, peak,
                                                   arithmetic(name))
    settings = {"threads": threads, "runs": 18, "warmup": 2, "rounds": 3, "quick": True}
    results = {"machine": {"cpu": cpu, "cores": 2, "platform": "test", "python": "3",
                           "ai_edge_litert": "0", "load_avg_before": [0.5, 0, 0],
                           "load_avg_after": [0.6, 0, 0]},
               "settings": settings, "variants": entries, "peak_gmacs": peak,
               "ratios": bench_report.ratios(entries, threads), "notes": []}
    with run.stage("benchmark", settings) as w:
        bench_report.write_all(results, w.dir)
    return results


def make_three_head_run(root: Path) -> RunDir:
    """Solid-colour 8 px images, the known-answer model exported (every registered variant),
    a dataset heads.json with three heads; one image mislabelled so the gallery has a mistake."""
    root = Path(root)
    data = root.parent / f"{root.name}_data"
    (data / "images").mkdir(parents=True)
    write_json(data / "heads.json", THREE_HEADS.to_json())
    samples = []
    for i, pixels in enumerate(solid_images(8)):
        path = data / "images" / f"solid_{i}.png"
        Image.fromarray(pixels).save(path)
        labels = known_answer(THREE_HEADS, tuple(int(v) for v in pixels[0, 0]))
        if i == 0:
            labels = ((labels[0] + 1) % 2,) + labels[1:]  # the one mistake
        samples.append(Sample(path, labels))
    for split in ("train", "val", "test"):
        write_label_file(data / f"{split}.txt", samples)
    run = RunDir(root)
    run.write_heads(THREE_HEADS)
    with run.stage("train", {"data": str(data), "image_size": 8}) as w:
        _write_train_files(w.dir, samples)
    with run.stage("export", {"variants": list(BY_KEY)}) as w:
        export_known_model(w.dir, THREE_HEADS, size=8)
    return run


def _write_train_files(folder: Path, samples: list) -> None:
    """metrics.json from the model's known answers; a short history.csv for three heads."""
    labels = np.array([s.labels for s in samples])
    answers = [known_answer(THREE_HEADS, tuple(int(v) for v in np.asarray(
        Image.open(s.path))[0, 0])) for s in samples]
    preds = {h.name: np.array([a[j] for a in answers]) for j, h in enumerate(THREE_HEADS)}
    test = head_metrics(THREE_HEADS, labels, preds)
    write_json(folder / "metrics.json", {"test": test, "val": test})
    columns = ["epoch", "loss"] + [f"{p}{h.name}_{m}" for p in ("", "val_")
                                   for h in THREE_HEADS for m in ("loss", "accuracy")]
    rows = [",".join(str(v) for v in [e] + [1.0 / e] * (len(columns) - 1)) for e in (1, 2, 3)]
    (folder / "history.csv").write_text("\n".join([",".join(columns)] + rows) + "\n")
