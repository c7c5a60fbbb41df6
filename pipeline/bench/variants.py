"""The variants `pipeline benchmark` compares: what each runs, its size, MACs and accuracy.

`make(name, ctx, tmp)` returns a Variant, or raises Skip with the reason (a variant missing from
the export is reported and skipped; an export file that cannot be loaded is an error).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.core.config import ModelConfig
from pipeline.heads.schema import Heads
from pipeline.rundir.runs import RunDir
from pipeline.modelfile.variants import BENCH_KERAS as KERAS, BENCH_PAIR as PAIR, BY_BENCH_KEY, \
    VARIANTS

ORDER = (KERAS, *(v.bench_key for v in VARIANTS), PAIR)  # results.json keys, in table order
PAIR_NOTE = ("untrained weights (latency, memory and size do not depend on them); "
             "accuracy not meaningful without single-task training runs")


@dataclass
class Variant:
    name: str
    spec: dict  # the worker job, without threads
    size_bytes: int
    macs: int
    accuracy: dict | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Context:
    run: RunDir
    spec: dict  # export/model.json
    heads: Heads
    config: ModelConfig
    test: tuple[np.ndarray, np.ndarray] | None  # uint8 pixels [N,S,S,3], labels [N,H]
    train_pixels: np.ndarray | None  # calibration images, uint8
    pixels_file: Path | None = None
    peak_macs: dict = field(default_factory=dict)
    macs: int = 0  # of the two-head model, counted once
    notes: list[str] = field(default_factory=list)
    baselines: dict[str, Path] = field(default_factory=dict)  # --baselines trained: head -> run


def arithmetic(name: str) -> str:
    """Which practical peak (float32 or int8 GEMM) a benchmark variant is held against."""
    return "float32" if name == KERAS else BY_BENCH_KEY[name].arithmetic \
        if name in BY_BENCH_KEY else "int8"


class Skip(Exception):
    """This variant cannot be measured in this run; the message says why."""


def make(name: str, ctx: Context, tmp: Path) -> Variant:
    if name == KERAS:
        return _keras(ctx)
    if name == PAIR:
        return _pair(ctx, tmp)
    return _exported(name, ctx)


def _two_head_macs(ctx: Context) -> int:
    """Counted once on a fresh build: the architecture fixes the MACs, not the weights."""
    if not ctx.macs:
        from pipeline.bench.models import count_macs
        from pipeline.training.model import build_model

        ctx.macs = count_macs(build_model(ctx.config, ctx.heads))
    return ctx.macs


def _accuracy(ctx: Context, probs: dict) -> dict | None:
    from pipeline.heads.metrics import head_metrics

    scores = head_metrics(ctx.heads, ctx.test[1], probs)
    accuracy = {name: scores[name]["accuracy"] for name in ctx.heads.names}
    accuracy["joint"] = scores["joint_accuracy"]
    return accuracy


def load_tflite(paths: list[Path]) -> list:
    """Each .tflite loaded once, for both its scores and its worker job."""
    from pipeline.modelfile.runtime import TFLiteModel

    return [TFLiteModel(path, threads=2) for path in paths]


def tflite_probs(models: list, pixels: np.ndarray) -> dict[str, np.ndarray]:
    """{head: [N, C] probabilities} of loaded .tflite models (each its own heads) on uint8
    images, as `evaluate` scores them."""
    from pipeline.deploy.evaluate import predict

    probs = {}
    for model in models:
        probs.update(predict(model, pixels))
    return probs


def tflite_job(models: list, pixels_file: Path) -> dict:
    """A worker job for loaded .tflite models: each one's input prepared here (normalized,
    quantized), so the worker needs only LiteRT and numpy. Reading a model's metadata takes the
    Python flatbuffer schemas (~20 MB of RSS) that an app's own reader does not cost: measured
    in the worker, it would hide the model's memory behind the parser's."""
    pixels, jobs = np.load(pixels_file), []
    for model in models:
        feed = Path(pixels_file).with_name(f"{model.path.stem}.{len(jobs)}.input.npy")
        np.save(feed, model.prepare(pixels))
        jobs.append({"path": str(model.path), "input": model.input_name, "feed": str(feed),
                     "signature": model.entry.get("signature", "serving_default")})
    return {"kind": "tflite", "models": jobs, "pixels": str(pixels_file)}


def _exported(name: str, ctx: Context) -> Variant:
    exported = BY_BENCH_KEY[name]
    entry = ctx.spec.get("variants", {}).get(exported.key)
    if entry is None:
        raise Skip(f"export/model.json has no {exported.key!r} variant")
    path = ctx.run.file("export", entry["file"])  # checked against the manifest
    models = load_tflite([path])
    accuracy = None
    if ctx.test is not None:
        accuracy = _accuracy(ctx, tflite_probs(models, ctx.test[0]))
    return Variant(name, tflite_job(models, ctx.pixels_file), path.stat().st_size,
                   _two_head_macs(ctx), accuracy)


def _keras(ctx: Context) -> Variant:
    from pipeline.export.writer import keras_probs
    from pipeline.modelfile.contract import Contract

    if not ctx.run.has("train"):
        raise Skip("no current train stage (no trained Keras model in this run)")
    h5 = ctx.run.file("train", "model.h5")
    accuracy = None
    if ctx.test is not None:
        from pipeline.rundir.trained import TrainedRun

        model = TrainedRun.open(ctx.run.root).load_keras()
        contract = Contract(ctx.heads, ctx.config.image_size, ctx.config.normalization)
        accuracy = _accuracy(ctx, keras_probs(model, contract, ctx.test[0]))
    job = {"kind": "keras", "run": str(ctx.run.root), "pixels": str(ctx.pixels_file),
           "normalization": ctx.config.normalization}
    variant = Variant(KERAS, job, h5.stat().st_size, _two_head_macs(ctx), accuracy)
    variant.notes.append("size is the Keras .h5 file")
    return variant


def _pair(ctx: Context, tmp: Path) -> Variant:
    if len(ctx.heads) < 2:
        raise Skip("the run has a single head: nothing to split")
    if ctx.baselines:
        return _trained_pair(ctx)
    from pipeline.bench.models import single_task_models

    if ctx.train_pixels is None or not len(ctx.train_pixels):
        raise Skip("no training images to calibrate the single-task int8 models on")
    trained = _single_task_runs(ctx)
    trained = trained if set(trained) == set(ctx.heads.names) else {}
    print(f"benchmark: building {len(ctx.heads)} single-task int8 models "
          f"({'from ' + ', '.join(map(str, trained.values())) if trained else 'untrained'}), "
          f"calibrated on {len(ctx.train_pixels)} training images")
    paths, macs = single_task_models(ctx.config, ctx.heads, ctx.train_pixels, tmp / "single",
                                     trained)
    models = load_tflite(paths)
    job = tflite_job(models, ctx.pixels_file)
    accuracy = {name: None for name in ctx.heads.names}
    if trained and ctx.test is not None:
        accuracy = _accuracy(ctx, tflite_probs(models, ctx.test[0]))
    variant = Variant(PAIR, job, sum(p.stat().st_size for p in paths), macs,
                      accuracy)
    variant.notes.append(f"weights from single-task runs {', '.join(map(str, trained.values()))}"
                         if trained else PAIR_NOTE)
    return variant


def _trained_pair(ctx: Context) -> Variant:
    """The int8 QAT files that the single-task baselines exported themselves (baselines.py):
    trained, quantized and exported exactly like the two-head model."""
    from pipeline.bench.models import count_macs
    from pipeline.modelfile.variants import BY_KEY, DEFAULT
    from pipeline.training.model import build_model

    runs = [RunDir(ctx.baselines[name]) for name in ctx.heads.names]
    paths = [run.file("export", BY_KEY[DEFAULT].file) for run in runs]
    # The architecture fixes the MACs, not the weights: counted on fresh one-head builds.
    macs = sum(count_macs(build_model(ctx.config, ctx.heads.select([name])))
               for name in ctx.heads.names)
    models = load_tflite(paths)
    accuracy = None if ctx.test is None else _accuracy(ctx, tflite_probs(models, ctx.test[0]))
    variant = Variant(PAIR, tflite_job(models, ctx.pixels_file),
                      sum(p.stat().st_size for p in paths), macs, accuracy)
    variant.notes.append("trained single-task baselines " + ", ".join(str(r.root) for r in runs))
    return variant


def _single_task_runs(ctx: Context) -> dict[str, Path]:
    """Sibling runs trained with `--tasks` on one head, same architecture and image size:
    {head name: run}, the newest training per head."""
    from pipeline.rundir.runs import RunDir
    from pipeline.core.io import read_json

    found = {}
    configs = sorted(ctx.run.root.parent.glob("*/train/model_config.json"),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for path in configs:
        run, saved = path.parent.parent, read_json(path)
        names = saved.get("heads") or []
        if (run != ctx.run.root and len(names) == 1 and names[0] in ctx.heads.names
                and saved.get("arch") == ctx.config.arch
                and saved.get("image_size") == ctx.config.image_size and RunDir(run).has("train")):
            found.setdefault(names[0], run)
    return found
