"""The variants `pipeline benchmark` compares: what each runs, its size, MACs and accuracy.

`make(name, ctx, tmp)` returns a Variant, or raises Skip with the reason (a variant missing from
the export is reported and skipped; an export file that cannot be loaded is an error).
"""
from __future__ import annotations

from pathlib import Path

from pipeline.bench.stage import EXPORTED, PAIR_NOTE, Context, Variant


class Skip(Exception):
    """This variant cannot be measured in this run; the message says why."""


def make(name: str, ctx: Context, tmp: Path) -> Variant:
    if name == "keras_float":
        return _keras(ctx)
    if name == "two_single_task_int8":
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
    from pipeline.core.metrics import head_metrics

    scores = head_metrics(ctx.heads, ctx.test[1], probs)
    accuracy = {name: scores[name]["accuracy"] for name in ctx.heads.names}
    accuracy["joint"] = scores["joint_accuracy"]
    return accuracy


def _exported(name: str, ctx: Context) -> Variant:
    from pipeline.bench.models import tflite_scores

    key, _ = EXPORTED[name]
    entry = ctx.spec.get("variants", {}).get(key)
    if entry is None:
        raise Skip(f"export/model.json has no {key!r} variant")
    path = ctx.run.file("export", entry["file"])  # checked against the manifest
    accuracy = None
    if ctx.test is not None:
        accuracy = _accuracy(ctx, tflite_scores(path, ctx.test[0], threads=2))
    job = {"kind": "tflite", "models": [str(path)], "pixels": str(ctx.pixels_file)}
    return Variant(name, job, path.stat().st_size, _two_head_macs(ctx), accuracy)


def _keras(ctx: Context) -> Variant:
    from pipeline.bench.models import keras_scores

    if not ctx.run.has("train"):
        raise Skip("no current train stage (no trained Keras model in this run)")
    h5 = ctx.run.file("train", "model.h5")
    accuracy = None
    if ctx.test is not None:
        from pipeline.training.train import load_trained

        model = load_trained(ctx.run.root)[0]
        accuracy = _accuracy(ctx, keras_scores(model, ctx.test[0], ctx.config.normalization))
    job = {"kind": "keras", "run": str(ctx.run.root), "pixels": str(ctx.pixels_file),
           "normalization": ctx.config.normalization}
    variant = Variant("keras_float", job, h5.stat().st_size, _two_head_macs(ctx), accuracy)
    variant.notes.append("size is the Keras .h5 file")
    return variant


def _pair(ctx: Context, tmp: Path) -> Variant:
    from pipeline.bench.models import single_task_models, tflite_scores

    if ctx.train_pixels is None or not len(ctx.train_pixels):
        raise Skip("no training images to calibrate the single-task int8 models on")
    if len(ctx.heads) < 2:
        raise Skip("the run has a single head: nothing to split")
    trained = _single_task_runs(ctx)
    trained = trained if set(trained) == set(ctx.heads.names) else {}
    print(f"benchmark: building {len(ctx.heads)} single-task int8 models "
          f"({'from ' + ', '.join(map(str, trained.values())) if trained else 'untrained'}), "
          f"calibrated on {len(ctx.train_pixels)} training images")
    paths, macs = single_task_models(ctx.config, ctx.heads, ctx.train_pixels, tmp / "single",
                                     trained)
    job = {"kind": "tflite", "models": [str(p) for p in paths], "pixels": str(ctx.pixels_file)}
    accuracy = {name: None for name in ctx.heads.names}
    if trained and ctx.test is not None:
        probs = {}
        for path in paths:
            probs.update(tflite_scores(path, ctx.test[0], threads=2))
        accuracy = _accuracy(ctx, probs)
    variant = Variant("two_single_task_int8", job, sum(p.stat().st_size for p in paths), macs,
                      accuracy)
    variant.notes.append(f"weights from single-task runs {', '.join(map(str, trained.values()))}"
                         if trained else PAIR_NOTE)
    return variant


def _single_task_runs(ctx: Context) -> dict[str, Path]:
    """Sibling runs trained with `--tasks` on one head, same architecture and image size:
    {head name: run}, the newest training per head."""
    from pipeline.core.runs import RunDir, read_json

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
