"""`pipeline train`: joint or alternating multi-task training with checkpoints and resume.

Everything the user can get wrong (options, split files, --resume, --init-from) is checked
before the run directory is touched. Training writes into `.train.partial/`, checkpoints every
epoch there (state.json is written last, so it only ever names a complete checkpoint), keeps
the best model on validation as model.h5, and is published as `train/` when it has finished.
"""
from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

from pipeline.training import plots
from pipeline.core.errors import PipelineError
from pipeline.core.heads import FLOWER_HEADS, Heads
from pipeline.core.labels import SPLITS, atomic_write_text, load_label_file
from pipeline.core.metrics import format_table, head_metrics
from pipeline.training.model import ModelConfig
from pipeline.core.runs import RunDir, read_json, write_json

STATE = "checkpoints/state.json"


def run(data, run, arch="squeezenet1.1", image_size=224, epochs=20, batch_size=32, lr=1e-3,
        mode="joint", loss_weights=None, weighting="fixed", tasks=None, init_from=None,
        seed=0, resume=False) -> dict:
    """Train, evaluate on val and test, publish `train/`; returns the test metrics."""
    heads, config, weights = resolve(arch, image_size, mode, loss_weights, weighting, tasks)
    splits = load_splits(Path(data), heads)
    rundir = RunDir(run)
    settings = {"data": str(Path(data).resolve()), "arch": arch, "image_size": image_size,
                "epochs": epochs, "batch_size": batch_size, "lr": lr, "mode": mode,
                "loss_weights": weights, "weighting": weighting, "tasks": heads.names,
                "init_from": str(Path(init_from).resolve()) if init_from else None, "seed": seed}
    state = resume_state(rundir, settings) if resume else None
    source = init_source(init_from, config) if init_from and not state else None
    if not resume and (rundir.partial("train") / STATE).exists():
        print(f"warning: discarding the checkpoints of an unfinished run in {rundir.root} "
              "(use --resume to continue it)", file=sys.stderr)
    from pipeline.training import fitting  # TensorFlow from here on

    with rundir.stage("train", settings, keep_partial=True, fresh=not resume) as w:
        write_json(w.dir / "checkpoints" / "settings.json", settings)
        net = fitting.fit(w.dir, splits, config, heads, settings, state, source)
        result = finish(w, rundir, net, splits, config, heads, settings)
    return result


def resolve(arch, image_size, mode, loss_weights, weighting, tasks):
    from pipeline.training.multitask import MODES, WEIGHTINGS

    try:
        config = ModelConfig(arch=arch, image_size=image_size)
        heads = FLOWER_HEADS.select(tasks)
    except ValueError as exc:
        raise PipelineError(str(exc)) from None
    if mode not in MODES:
        raise PipelineError(f"unknown --mode {mode!r}; choose from {', '.join(MODES)}")
    if weighting not in WEIGHTINGS:
        raise PipelineError(f"unknown --weighting {weighting!r}; choose from {', '.join(WEIGHTINGS)}")
    if loss_weights and weighting == "uncertainty":
        raise PipelineError("--loss-weights and --weighting uncertainty exclude each other: "
                            "uncertainty weighting learns the weights")
    return heads, config, parse_loss_weights(loss_weights, heads)


def parse_loss_weights(text: str | None, heads: Heads) -> dict:
    """'type=1,color=0.5' -> {'flower_type': 1.0, 'flower_color': 0.5}; unnamed heads get 1."""
    weights = {h.name: 1.0 for h in heads}
    for item in filter(None, (p.strip() for p in (text or "").split(","))):
        key, sep, value = item.partition("=")
        try:
            name, number = heads.get(key.strip()).name, float(value)
        except (KeyError, ValueError):
            raise PipelineError(f"--loss-weights: cannot read {item!r}; expected e.g. "
                                f"{','.join(h.short + '=1' for h in heads)}") from None
        if not sep or number < 0:
            raise PipelineError(f"--loss-weights: {item!r} needs a weight >= 0")
        weights[name] = number
    return weights


def load_splits(data: Path, heads: Heads) -> dict:
    """{split: samples}; a missing, empty or broken split file is a one-line error."""
    if not data.is_dir():
        raise PipelineError(f"{data}: no such data folder (make one with `pipeline data split`)")
    splits = {}
    for split in SPLITS:
        path = data / f"{split}.txt"
        if not path.exists():
            raise PipelineError(f"{path}: split file not found; run `pipeline data split` first")
        samples = load_label_file(path)
        i = [FLOWER_HEADS.names.index(n) for n in heads.names]
        used = [s for s in samples if any(s.labels[c] >= 0 for c in i)]
        if not used:
            raise PipelineError(f"{path}: no image has a label for {', '.join(heads.names)}")
        warn_gaps(path, used, heads)
        splits[split] = used
    return splits


def warn_gaps(path: Path, samples, heads: Heads) -> None:
    columns = {n: FLOWER_HEADS.names.index(n) for n in heads.names}
    for head in heads:
        seen = {s.labels[columns[head.name]] for s in samples}
        absent = [c for i, c in enumerate(head.classes) if i not in seen]
        if absent:
            print(f"warning: {path}: no image of {head.name} {', '.join(absent)}",
                  file=sys.stderr)


def resume_state(rundir: RunDir, settings: dict) -> dict:
    path = rundir.partial("train") / STATE
    if not path.exists():
        done = " (its training has finished)" if rundir.has("train") else ""
        raise PipelineError(f"--resume: no checkpoint of an unfinished training in "
                            f"{rundir.root}{done}; start without --resume")
    state = read_json(path)
    saved = json.loads(json.dumps(state["settings"]))
    now = json.loads(json.dumps(settings))
    changed = [f"{k} {saved.get(k)!r} -> {now.get(k)!r}" for k in now if saved.get(k) != now[k]]
    if changed:
        raise PipelineError("--resume with different settings (" + "; ".join(changed) +
                            "); resume with the original options or start a new run")
    return state


def init_source(init_from, config: ModelConfig) -> Path:
    """The .h5 of another run's trained model, checked to have the same architecture."""
    other = RunDir(init_from)
    folder = other.require("train")
    saved = read_json(folder / "model_config.json")
    if saved.get("arch") != config.arch:
        raise PipelineError(f"--init-from {init_from}: that run is {saved.get('arch')}, "
                            f"this one {config.arch}; the weights cannot be reused")
    return folder / "model.h5"


def finish(w, rundir: RunDir, net, splits, config, heads, settings) -> dict:
    """Score the best model on val and test; write metrics, plots, config; print the table."""
    from pipeline.training.fitting import predict

    metrics = {}
    for split in ("test", "val"):
        labels, probs = predict(net, splits[split], config, heads, settings["batch_size"])
        metrics[split] = head_metrics(heads, labels, probs)
    write_json(w.dir / "metrics.json", metrics)
    history = read_json(w.dir / STATE)["history"]
    plots.training_curves(history, heads.names, w.dir / "curves.png")
    for head in heads:
        plots.confusion_matrix(metrics["test"][head.name]["confusion"], head.classes,
                               f"{head.name} (test)", w.dir / f"confusion_{head.name}.png")
    write_json(w.dir / "model_config.json", {**config.to_json(), "heads": heads.names,
               "mode": settings["mode"], "loss_weights": settings["loss_weights"],
               "weighting": settings["weighting"]})
    rundir.write_heads(heads)
    w.metrics = {"test": _summary(metrics["test"], heads), "val": _summary(metrics["val"], heads),
                 "epochs": len(history)}
    print(format_table(metrics["test"], heads, title=f"test metrics ({rundir.root})"))
    return metrics["test"]


def _summary(m: dict, heads: Heads) -> dict:
    out = {h.name: {"accuracy": m[h.name]["accuracy"], "mean_recall": m[h.name]["mean_recall"]}
           for h in heads}
    return {**out, "joint_accuracy": m["joint_accuracy"]}


def write_history(path: Path, history: list[dict]) -> None:
    keys = list(dict.fromkeys(k for row in history for k in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    atomic_write_text(path, buffer.getvalue())


def load_trained(run_dir):
    """(float tf_keras model, ModelConfig, Heads) of a finished train stage."""
    from pipeline.core.tfcompat import keras

    folder = RunDir(run_dir).require("train")
    saved = read_json(folder / "model_config.json")
    heads = RunDir(run_dir).heads().select(saved.get("heads"))
    net = keras().models.load_model(folder / "model.h5", compile=False)
    return net, ModelConfig.from_json(saved), heads
