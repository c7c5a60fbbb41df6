"""The TensorFlow side of `pipeline train`: build, initialise, fit in phases, keep epochs.

Kept apart from train.py so that option and file checks never import TensorFlow; what is
kept after every epoch (and how a run resumes) is checkpoints.py.
"""
from __future__ import annotations

import math
import os
import sys
from pathlib import Path

from pipeline.data.datasets import dataset_from_arrays, load_arrays
from pipeline.training.model import build_model, load_pretrained
from pipeline.training.multitask import MultiTask, build_optimizer, head_tensors
from pipeline.training.checkpoints import EpochKeeper
from pipeline.core.tfcompat import keras, tf


def fit(folder: Path, splits, config, heads, settings, state: dict | None, source):
    """Train into `folder` (the stage's partial dir); return the best model on validation.

    source: another run's model.h5 (Path), converted pretrained weights (dict), or None.
    """
    k = keras()
    first = state["epoch"] if state else 0
    k.utils.set_random_seed(settings.seed + first)  # a resumed run does not replay epoch 1
    train_x, train_y = load_arrays(splits["train"], config.image_size, heads)
    val_x, val_y = load_arrays(splits["val"], config.image_size, heads)
    bs = settings.batch_size
    train_ds = dataset_from_arrays(train_x, train_y, config, heads, bs, True, settings.seed)
    val_ds = dataset_from_arrays(val_x, val_y, config, heads, bs, False)
    net = initial_model(config, heads, source)
    trainer = MultiTask(net, heads, settings.mode, settings.loss_weights,
                        settings.weighting)
    steps = math.ceil(len(train_x) / bs)
    trainer.prepare(build_optimizer(settings.lr, steps * settings.epochs,
                                    steps * settings.freeze_epochs, settings.finetune_lr))
    checkpoint = tf().train.Checkpoint(trainer=trainer, optimizer=trainer.optimizer)
    if state:
        checkpoint.read(str(folder / "checkpoints" / state["checkpoint"])).assert_consumed()
        print(f"resuming after epoch {first} of {settings.epochs}")
    keeper = EpochKeeper(folder, checkpoint, trainer, settings, state)
    callbacks = [k.callbacks.LambdaCallback(on_epoch_end=keeper.on_epoch_end)]
    for start, end, frozen in phases(settings.epochs, settings.freeze_epochs):
        if first >= end:
            continue
        if frozen or start:
            print(f"epochs {start + 1}-{end}: "
                  + ("heads only, trunk frozen" if frozen else
                     f"whole network, lr {settings.finetune_lr:g}"))
        trainer.freeze_trunk(frozen)
        trainer.fit(train_ds, validation_data=val_ds, epochs=end, initial_epoch=max(first, start),
                    callbacks=callbacks, verbose=1 if sys.stdout.isatty() else 2)
    best = folder / "checkpoints" / keeper.best_file
    if best.exists():  # absent when a run killed while finishing is resumed
        os.replace(best, folder / "model.h5")
    return k.models.load_model(folder / "model.h5", compile=False)


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
        total = sum(1 for layer in net.layers if layer.get_weights())
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


def predict(net, samples, config, heads, batch_size: int = 32):
    """(labels [N, H], {head name: probabilities [N, C]}) of `net` on some samples."""
    images, labels = load_arrays(samples, config.image_size, heads)
    ds = dataset_from_arrays(images, labels, config, heads, batch_size, False)
    model = keras().Model(net.inputs, head_tensors(net, heads))
    outputs = model.predict(ds.map(lambda x, y: x), verbose=0)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    return labels, {h.name: out for h, out in zip(heads, outputs)}
