"""The TensorFlow side of `pipeline train`: build, initialise, fit in phases, keep epochs.

Kept apart from train.py so that option and file checks never import TensorFlow; what is
kept after every epoch (and how a run resumes) is checkpoints.py.
"""
from __future__ import annotations

import hashlib
import math
import os
import sys
from pathlib import Path

import numpy as np

from pipeline.training.model import build_model, load_pretrained
from pipeline.training.multitask import MultiTask, head_tensors
from pipeline.training.optimizer import build_optimizer
from pipeline.training.checkpoints import EpochKeeper
from pipeline.core.tfcompat import keras, tf


def fit(folder: Path, source, config, heads, settings, state: dict | None, start, dist,
        restore_from: Path | None = None):
    """Train into `folder` (the stage's partial dir; a temporary one on non-chief workers);
    return the best model on validation (None on non-chief workers).

    source: data/sources.py; start: another run's model.h5 (Path), converted pretrained
    weights (dict), or None; dist: distribute.Distribution; restore_from: the folder whose
    checkpoints a resumed run reads (the chief's, on every worker).
    """
    k = keras()
    first = state["epoch"] if state else 0
    k.utils.set_random_seed(settings.seed + first)  # a resumed run does not replay epoch 1
    train_ds, val_ds, steps, val_steps = feeds(source, settings, dist)
    factor = settings.lr_factor
    with dist.strategy.scope():  # model, trainer and optimizer live on every replica
        net = initial_model(config, heads, start)
        trainer = MultiTask(net, heads, settings.mode, settings.loss_weights,
                            settings.weighting, settings.none_weight)
        trainer.prepare(build_optimizer(settings.lr * factor, steps * settings.epochs,
                                        steps * settings.freeze_epochs,
                                        settings.finetune_lr * factor))
    checkpoint = tf().train.Checkpoint(trainer=trainer, optimizer=trainer.optimizer)
    if state:
        saved = (restore_from or folder) / "checkpoints" / state["checkpoint"]
        checkpoint.read(str(saved)).assert_consumed()
        print(f"resuming after epoch {first} of {settings.epochs}")
    keeper = EpochKeeper(folder, checkpoint, trainer, settings, state)
    callbacks = [k.callbacks.LambdaCallback(on_epoch_end=keeper.on_epoch_end)]
    for begin, end, frozen in phases(settings.epochs, settings.freeze_epochs):
        if first >= end:
            continue
        if frozen or begin:
            print(f"epochs {begin + 1}-{end}: "
                  + ("heads only, trunk frozen" if frozen else
                     f"whole network, lr {settings.finetune_lr * factor:g}"))
        trainer.freeze_trunk(frozen)
        trainer.fit(train_ds, validation_data=val_ds, epochs=end, initial_epoch=max(first, begin),
                    steps_per_epoch=steps if dist.distributed else None,
                    validation_steps=val_steps, callbacks=callbacks,
                    verbose=1 if sys.stdout.isatty() else 2)
    if dist.cluster:  # every worker reads the weights: BatchNorm statistics are all-reduced
        print(f"{dist.describe()}: final weights sha256 {weights_digest(net)}", flush=True)
    best = folder / "checkpoints" / keeper.best_file
    if best.exists():  # absent when a run killed while finishing is resumed
        os.replace(best, folder / "model.h5")
    return k.models.load_model(folder / "model.h5", compile=False) if dist.is_chief else None


def feeds(source, settings, dist):
    """(train, validation, steps per epoch, validation steps) for Keras.

    One device: the split as it is, partial last batch included. Distributed: each worker
    reads its share (Feed.shards), every replica gets --batch-size images a step, training
    is an endless stream of full batches with ceil(images / global batch) steps an epoch,
    and validation is padded with unlabelled images so that every worker runs the same
    number of batches over its whole share."""
    from pipeline.data.datasets import Feed

    bs, seed = settings.batch_size, settings.seed
    steps = math.ceil(source.count("train") / (bs * dist.replicas))
    if not dist.distributed:
        return (source.dataset("train", Feed(bs, True, seed)),
                source.dataset("val", Feed(bs, False)), steps, None)
    local = dist.replicas // dist.workers  # devices of one worker: one pipeline feeds them
    share = math.ceil(source.count("val") / dist.workers)
    val_steps = math.ceil(share / (bs * local))

    def train_fn(context):
        return source.dataset("train", Feed(
            bs, True, seed + context.input_pipeline_id, context.num_input_pipelines,
            context.input_pipeline_id, repeat=True, drop_remainder=True))

    def val_fn(context):
        return source.dataset("val", Feed(
            bs, False, 0, context.num_input_pipelines, context.input_pipeline_id,
            pad_to=val_steps * bs * local))

    strategy = dist.strategy
    return (strategy.distribute_datasets_from_function(train_fn),
            strategy.distribute_datasets_from_function(val_fn), steps, val_steps)


def weights_digest(net) -> str:
    """sha256 of every weight's bytes, in layer order: equal digests, equal models."""
    digest = hashlib.sha256()
    for array in net.get_weights():
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def phases(epochs: int, freeze_epochs: int) -> list[tuple[int, int, bool]]:
    """(first epoch, end epoch, trunk frozen) of the fine-tuning schedule."""
    parts = [(0, freeze_epochs, True), (freeze_epochs, epochs, False)]
    return [p for p in parts if p[1] > p[0]]


def initial_model(config, heads, source):
    net = build_model(config, heads)
    if config.batchnorm:
        faster_batchnorm_statistics(net)
    if isinstance(source, Path):
        copied, total = transfer_weights(source, net)
        print(f"initialised {copied} of {total} layers with weights from {source}")
    elif source:
        count = load_pretrained(net, source)
        # layers that learn (not the heads' fixed output layers, core/kinds)
        total = sum(1 for layer in net.layers if layer.trainable_weights)
        print(f"initialised {count} of {total} layers with {config.pretrained} weights")
    return net


def faster_batchnorm_statistics(net, momentum: float = 0.9) -> None:
    """BatchNorm's default momentum (0.99) needs several hundred steps before its moving
    statistics describe the data, and until then validation scores are noise (seen: val
    accuracy 0.5 after a 29-step epoch at train accuracy 0.84). Small datasets have few steps
    per epoch, so average over ~10 steps instead. Set before the first call is traced."""
    for layer in net.layers:
        if isinstance(layer, keras().layers.BatchNormalization):
            layer.momentum = momentum


def transfer_weights(source: Path, net) -> tuple[int, int]:
    """Copy every layer whose name and weight shapes match (the trunk, and heads of the same
    classes); the image size may differ, since SqueezeNet has no dense layer."""
    src = keras().models.load_model(source, compile=False)
    by_name = {layer.name: layer for layer in src.layers}
    copied = total = 0
    for layer in net.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        total += 1
        other = by_name.get(layer.name)
        if other is not None and [w.shape for w in other.get_weights()] == [w.shape for w in weights]:
            layer.set_weights(other.get_weights())
            copied += 1
    return copied, total


def predict(net, source, split: str, config, heads, batch_size: int = 32):
    """(label matrix [N, heads.width], {head name: outputs [N, C]}) of `net` on a split, read from the
    source batch by batch (a packed split is never held in memory whole)."""
    from pipeline.data.datasets import Feed

    model = keras().Model(net.inputs, head_tensors(net, heads))
    labels, outputs = [], []
    for x, y in source.dataset(split, Feed(batch_size, False)):
        out = model.predict_on_batch(x)
        outputs.append(out if isinstance(out, list) else [out])
        labels.append(np.concatenate([np.asarray(y[h.name]).reshape(len(x), -1) for h in heads],
                                     axis=1))
    probs = {h.name: np.concatenate([o[i] for o in outputs]) for i, h in enumerate(heads)}
    return np.concatenate(labels), probs
