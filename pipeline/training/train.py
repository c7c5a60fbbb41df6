"""`pipeline train`: joint or alternating multi-task training with checkpoints and resume.

Everything the user can get wrong (options, split files and their schema, weights to start
from, --resume, --init-from) is checked before the run directory is touched. Training writes
into `.train.partial/`, checkpoints every epoch there (checkpoints.py), keeps the best model
on validation as model.h5, and is published as `train/` when it has finished.
"""
from __future__ import annotations

import json
import sys
import tempfile
from contextlib import nullcontext
from pathlib import Path

from pipeline.training import cluster as cluster_lib
from pipeline.core.config import ModelConfig, TrainSettings
from pipeline.core.errors import PipelineError
from pipeline.heads.schema import Heads
from pipeline.core.io import read_json, write_json
from pipeline.heads.metrics import format_table, head_metrics
from pipeline.options import DEFAULT_LR, FREEZE_EPOCHS, TrainOptions
from pipeline.rundir.runs import RunDir
from pipeline.rundir.trained import CONFIG_FILE
from pipeline.data.sources import data_schema, open_source, resolve_input
from pipeline.training import backbones, plots
from pipeline.training.checkpoints import STATE



def run(o: TrainOptions) -> dict:
    """Train, evaluate on val and test, publish `train/`; returns the test metrics (an empty
    dict on a non-chief worker, which writes nothing in the run)."""
    cluster = check_distribute(o.distribute)
    kind = resolve_input(o.data, o.input)
    schema = data_schema(o.data, kind)
    heads, config, weights = resolve(schema, o.arch, o.image_size, o.loss_weights, o.weighting,
                                     o.tasks)
    start = resolve_start(config, heads, o.pretrained, o.init_from)
    schedule = resolve_schedule(config, o.epochs, o.lr, o.freeze_epochs, o.finetune_lr)
    source = open_source(o.data, kind, config, schema, heads)  # every file checked, before TF
    heads = source.fit_targets()  # a regression head's center and scale, from train
    rundir = RunDir(o.run)
    settings = TrainSettings(
        data=str(o.data.resolve()), arch=o.arch, image_size=o.image_size, epochs=o.epochs,
        batch_size=o.batch_size, mode=o.mode, loss_weights=weights, weighting=o.weighting,
        none_weight=o.none_weight, tasks=heads.names,
        init_from=str(o.init_from.resolve()) if o.init_from else None,
        pretrained=config.pretrained, seed=o.seed, input=kind, distribute=o.distribute,
        scale_lr=o.scale_lr, **schedule)
    resume, distribute, cluster_timeout = o.resume, o.distribute, o.cluster_timeout
    if resume and not rundir.root.is_dir():
        resume_state(rundir, settings)  # refused before a run directory is made for nothing
    chief = cluster is None or cluster.is_chief  # the only writer of the run directory
    with rundir.writing() if chief else nullcontext():  # from before checkpoints are read
        # The number of replicas is known once TensorFlow has the devices: compared below.
        state = resume_state(rundir, settings, but=("replicas",)) if resume else None
        from pipeline.training import distribute as dist_lib  # TensorFlow from here on

        dist = dist_lib.start(distribute, cluster, cluster_timeout)
        settings.replicas = dist.replicas
        if state:
            resume_state(rundir, settings)
        dist.compare_settings(settings.to_json())
        role = train_chief if chief else train_worker
        try:
            result = role(rundir, source, config, schema, heads, settings, state,
                          None if state else start, dist)
        except dist_lib.LostWorker:
            raise  # the others are gone: no goodbye
        except BaseException as exc:
            dist.leave(failure=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            raise
        dist.leave()
    return result


def train_chief(rundir: RunDir, source, config, schema, heads, settings, state, start, dist):
    """The chief (or the only process): trains into the run's partial folder, publishes."""
    from pipeline.training import fitting

    if not state and (rundir.partial("train") / STATE).exists():
        print(f"warning: discarding the checkpoints of an unfinished run in {rundir.root} "
              "(use --resume to continue it)", file=sys.stderr)
    with rundir.stage("train", settings.to_json(), keep_partial=True, fresh=not state,
                      on_disk_full=keep_last_checkpoint) as w:
        (w.dir / "checkpoints").mkdir(exist_ok=True)
        net = guarded(fitting.fit, dist, w.dir, source, config, heads, settings, state, start,
                      dist)
        return finish(w, rundir, net, source, config, schema, heads, settings)


def train_worker(rundir: RunDir, source, config, schema, heads, settings, state, start, dist):
    """A non-chief worker: the same steps, its checkpoints in a temporary folder that goes
    when it ends (TensorFlow's multi-worker rule: every worker saves, for the collectives
    saving runs, but only the chief's copy is kept); a resumed run reads the chief's, so the
    run directory must be on storage every worker sees at the same path."""
    from pipeline.training import fitting

    with tempfile.TemporaryDirectory(prefix="pipeline-worker-") as tmp:
        guarded(fitting.fit, dist, Path(tmp), source, config, heads, settings, state, start,
                dist, restore_from=rundir.partial("train"))
    return {}


def guarded(fit, dist, *args, **kwargs):
    """A lost peer becomes one line (distribute.lost_worker) instead of a traceback."""
    from pipeline.training import distribute as dist_lib

    try:
        return fit(*args, **kwargs)
    except Exception as exc:
        lost = dist_lib.lost_worker(exc, dist)
        if lost is None:
            raise
        raise lost from None


def check_distribute(kind: str):
    """The cluster of a multi-worker run (TF_CONFIG checked), before TensorFlow starts."""
    return cluster_lib.from_environment() if kind == "multi-worker" else None


def keep_last_checkpoint(partial: Path) -> str:
    """After a full disk: keep only what `--resume` needs (state.json and the files it names),
    so the failed run stops taking space but its last finished epoch is not lost."""
    import shutil

    try:
        state = json.loads((partial / STATE).read_text(encoding="utf-8"))
        # model.h5: once training ended the best epoch's file was moved there (fitting.fit)
        keep = {STATE, f"checkpoints/{state['best_file']}", "model.h5"}
        prefix = f"checkpoints/{state['checkpoint']}."
    except (OSError, ValueError, KeyError, TypeError):
        shutil.rmtree(partial, ignore_errors=True)  # nothing resumable: all of it goes
        return ""
    for path in sorted(partial.rglob("*"), reverse=True):  # files before their folders
        name = path.relative_to(partial).as_posix()
        if path.is_file() and name not in keep and not name.startswith(prefix):
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    size = sum(p.stat().st_size for p in partial.rglob("*") if p.is_file())
    return (f"kept epoch {state['epoch']}'s checkpoint ({size / 1e6:.1f} MB in {partial}): "
            "free some space and add --resume")


def resolve(schema: Heads, arch, image_size, loss_weights, weighting, tasks):
    backbones.get(arch)  # one line naming the choices for an unknown arch
    try:
        config = ModelConfig(arch=arch, image_size=image_size)
        heads = schema.select(tasks)
    except ValueError as exc:
        raise PipelineError(str(exc)) from None
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


def resume_state(rundir: RunDir, settings: TrainSettings, but: tuple = ()) -> dict:
    path = rundir.partial("train") / STATE
    if not path.exists():
        done = " (its training has finished)" if rundir.has("train") else ""
        raise PipelineError(f"--resume: no checkpoint of an unfinished training in "
                            f"{rundir.root}{done}; start without --resume")
    state = read_json(path)
    # Keys added since the checkpoint was written take their defaults (the old behaviour).
    saved = json.loads(json.dumps(TrainSettings.from_json(state["settings"]).to_json()))
    now = json.loads(json.dumps(settings.to_json()))
    changed = [f"{k} {saved.get(k)!r} -> {now.get(k)!r}" for k in now
               if saved.get(k) != now[k] and k not in but]
    if changed:
        raise PipelineError("--resume with different settings (" + "; ".join(changed) +
                            "); resume with the original options or start a new run")
    return state


def resolve_start(config: ModelConfig, heads: Heads, pretrained: str | None, init_from):
    """What the weights start from, settled (files read and checked) before the run
    directory is touched: another run's model (.h5 path), converted pretrained weights
    ({layer: [kernel, bias]}), or None for a random start. Sets the config's layer style and
    normalization to what those weights need."""
    backbone = backbones.get(config.arch)
    if init_from:
        if pretrained:
            raise PipelineError("--init-from and --pretrained exclude each other: the other "
                                "run's weights already say where they started")
        return init_source(init_from, config)
    source = backbone.source(pretrained or backbone.default_pretrained)
    config.batchnorm = backbone.batchnorm(source)
    if source is None:
        return None
    config.pretrained, config.normalization = source.name, dict(source.normalization)
    return source.load(heads.names)


def resolve_schedule(config: ModelConfig, epochs: int, lr, freeze_epochs, finetune_lr) -> dict:
    """Pretrained starts train the heads alone first (trunk frozen), then everything; a random
    start trains everything from the first step. Unset rates take the defaults of the start."""
    pretrained = config.pretrained != "none"
    lr = DEFAULT_LR["pretrained" if pretrained else "scratch"] if lr is None else lr
    freeze = (min(FREEZE_EPOCHS, epochs // 2) if pretrained else 0) if freeze_epochs is None \
        else freeze_epochs
    if not 0 <= freeze <= epochs:
        raise PipelineError(f"--freeze-epochs {freeze} must be between 0 and --epochs {epochs}")
    finetune_lr = lr if finetune_lr is None else finetune_lr
    return {"lr": lr, "freeze_epochs": freeze, "finetune_lr": finetune_lr}


def init_source(init_from, config: ModelConfig) -> Path:
    """The .h5 of another run's trained model, checked to have the same architecture; this
    run takes its layer style, normalization and what it started from."""
    other = RunDir(init_from).snapshot()
    saved = ModelConfig.from_json(read_json(other.file("train", CONFIG_FILE)))
    if saved.arch != config.arch:
        raise PipelineError(f"--init-from {init_from}: that run is {saved.arch}, "
                            f"this one {config.arch}; the weights cannot be reused")
    config.batchnorm, config.normalization = saved.batchnorm, dict(saved.normalization)
    config.pretrained = f"run {other.root} (from {saved.pretrained})"
    return other.file("train", "model.h5")


def finish(w, rundir: RunDir, net, source, config, schema: Heads, heads: Heads,
           settings: TrainSettings) -> dict:
    """Calibrate the best model (one temperature per head, fitted on val and folded into its
    weights), score it on val and test; write metrics, plots, config; print the table."""
    from pipeline.training.calibrate import calibrate, describe
    from pipeline.training.checkpoints import save_h5
    from pipeline.training.fitting import predict

    scored = {split: predict(net, source, split, config, heads, settings.batch_size)
              for split in ("test", "val")}
    calibration = calibrate(net, heads, scored)
    save_h5(net, w.dir / "model.h5")
    metrics = {}
    for split in ("test", "val"):
        labels, probs = predict(net, source, split, config, heads, settings.batch_size)
        metrics[split] = head_metrics(heads, labels, probs)
    metrics["calibration"] = calibration
    write_json(w.dir / "metrics.json", metrics)
    print(describe(calibration))
    history = read_json(w.dir / STATE)["history"]
    plots.training_curves(history, heads.names, w.dir / "curves.png",
                          [h.name for h in heads if h.impl.metric == "accuracy"])
    for head in (h for h in heads if h.impl.one_class):
        plots.confusion_matrix(metrics["test"][head.name]["confusion"], head.classes,
                               f"{head.name} (test)", w.dir / f"confusion_{head.name}.png")
    # The schema with the model's heads in place: later stages read a regression head's center
    # and scale from it (the data's schema was read before they were fitted).
    fitted = Heads(tuple(heads.get(h.name) if h.name in heads.names else h for h in schema))
    write_json(w.dir / CONFIG_FILE, {**config.to_json(), "heads": heads.names,
               "schema": fitted.to_json(), "mode": settings.mode,
               "loss_weights": settings.loss_weights, "weighting": settings.weighting})
    write_json(w.dir / "labels.json", heads.to_json())  # published with the model, not before
    w.metrics = {"test": _summary(metrics["test"], heads), "val": _summary(metrics["val"], heads),
                 "epochs": len(history)}
    print(format_table(metrics["test"], heads, title=f"test metrics ({rundir.root})"))
    return metrics["test"]


def _summary(m: dict, heads: Heads) -> dict:
    keys = ("accuracy", "mean_recall", "mae")
    out = {h.name: {k: m[h.name][k] for k in keys if k in m[h.name]} for h in heads}
    return {**out, "joint_accuracy": m["joint_accuracy"]}
