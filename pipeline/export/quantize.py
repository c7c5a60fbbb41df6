"""`pipeline quantize`: quantization-aware fine-tuning of the trained model, then the export.

The QAT model is tfmot's `quantize_model` clone of the trained float model, fine-tuned at a
low learning rate with the training stage's own data, masked losses, mode and loss weights
(`multitask.MultiTask` accepts the `quant_`-renamed outputs). Both `qat/` and `export/` are
written into hidden partial folders; the export stage is nested inside the QAT stage so that
any failure (a conversion error, a failed check, Ctrl-C) publishes neither, and the previous
`qat/` and `export/` stay as they were; success publishes both in one manifest switch, each
recording the training it was made from.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from pipeline.core.errors import PipelineError
from pipeline.heads.schema import Heads
from pipeline.data.images import normalize
from pipeline.heads.metrics import head_metrics
from pipeline.options import QuantizeOptions, ThresholdOptions
from pipeline.core.io import write_json
from pipeline.rundir.runs import RunDir
from pipeline.rundir.trained import TrainedRun
from pipeline.core.tfcompat import keras

CALIBRATION_IMAGES = 200  # "100 to 300 real training images" for full-integer conversion


def quantize_model(model, normalization: dict):
    """tfmot's QAT clone, its input range pinned to every value a normalized pixel can take.

    With the default (pixel - 128) / 128 the range is [-1, 127/128], so the uint8 input gets
    scale 1/128 and zero point 128 exactly: an app feeds camera bytes unchanged.
    """
    import tensorflow_model_optimization as tfmot

    qat = tfmot.quantization.keras.quantize_model(model)
    lo, hi = input_range(normalization)
    # By type, not name: Keras numbers auto-named layers ("quantize_layer_1") per session.
    inputs = [layer for layer in qat.layers if type(layer).__name__ == "QuantizeLayer"
              and any(layer.input is tensor for tensor in qat.inputs)]
    for layer in inputs:
        # AllValuesQuantizer only widens its range in training, so pixels never move it again.
        layer.quantizer_vars["min_var"].assign(lo)
        layer.quantizer_vars["max_var"].assign(hi)
    if not inputs:
        raise PipelineError("tfmot added no input quantizer; cannot fold the normalization")
    return qat


def calibrate_ranges(qat, model, pixels: np.ndarray, normalization: dict,
                     batch: int = 32, outputs: tuple[str, ...] = ()) -> int:
    """Start every activation range of the QAT clone at what the float model's layer really
    outputs on the calibration images (as post-training quantization would calibrate them).

    tfmot starts each range at [-6, 6] and moves it by a moving average with decay 0.999: a
    short fine-tune on a few hundred photos leaves layers whose outputs span 0..0.5 quantized
    in steps of 6/255 (seen: two colour photos of 49 flipped against the float model, which
    post-training quantization got right). `outputs`: layers (the heads' output layers) whose
    post-activation range is set too: a head's output Dense keeps tfmot's [-6, 6] otherwise,
    which clips a regression head's numbers and leaves class scores steps of 12/255. Returns
    the number of ranges set.
    """
    from pipeline.core.tfcompat import keras

    ranges = {}  # float layer name -> (min var, max var) of its output quantizer
    for var in qat.non_trainable_variables:
        layer, _, what = var.name.partition("/")
        name = layer.removeprefix("quant_")
        if layer.startswith("quant_") and what.startswith(("output_min", "output_max")):
            ranges.setdefault(name, {})[what[7:10]] = var
        elif name in outputs and what.startswith(("post_activation_min", "post_activation_max")):
            ranges.setdefault(name, {})[what[16:19]] = var
    names = [n for n in ranges if set(ranges[n]) == {"min", "max"}]
    if not names:
        return 0
    probe = keras().Model(model.inputs, [model.get_layer(n).output for n in names])
    lo, hi = {n: 0.0 for n in names}, {n: 0.0 for n in names}  # ranges always hold 0
    for start in range(0, len(pixels), batch):
        outs = probe.predict_on_batch(normalize(pixels[start:start + batch], normalization))
        for name, out in zip(names, outs if len(names) > 1 else [outs]):
            lo[name], hi[name] = min(lo[name], float(out.min())), max(hi[name], float(out.max()))
    for name in names:
        ranges[name]["min"].assign(lo[name])
        ranges[name]["max"].assign(hi[name])
    return len(names)


def input_range(normalization: dict) -> tuple[float, float]:
    mean, std = np.float64(normalization["mean"]), np.float64(normalization["std"])
    return float(np.min((0 - mean) / std)), float(np.max((255 - mean) / std))


def fine_tune(qat, heads: Heads, settings, datasets: dict, epochs: int, lr: float,
              steps: int) -> dict:
    """Fit the QAT model like training did; epochs=0 only calibrates the activation ranges."""
    from pipeline.training.multitask import MultiTask
    from pipeline.training.optimizer import build_optimizer

    trainer = MultiTask(qat, heads, mode=settings.mode, loss_weights=settings.loss_weights,
                        weighting=settings.weighting, none_weight=settings.none_weight)
    trainer.prepare(build_optimizer(lr, max(epochs, 1) * steps))
    if epochs == 0:
        for x, _ in datasets["train"]:
            # Training mode is what sets the weight quantizers' ranges (tfmot's LastValue
            # quantizers update only then); it also nudges the activation ranges (moving
            # average) and BatchNorm statistics, if any. No weight is changed.
            qat(x, training=True)
        return {}
    history = trainer.fit(datasets["train"], validation_data=datasets["val"], epochs=epochs,
                          verbose=2)
    return history.history


def recalibrate_qat(qat, heads: Heads, arrays: dict, normalization: dict) -> dict:
    """QAT fine-tuning sharpens the scores the trained model's temperature had calibrated:
    fit a temperature and a "none" bias per head on the QAT model's val scores and fold
    them into it (and its quantizer ranges) before it is saved and converted."""
    from pipeline.training.calibrate import recalibrate_qat as recalibrate

    return recalibrate(qat, heads, arrays, normalization)


def with_ece_after(calibration: dict, metrics: dict) -> dict:
    """The recalibration report with the calibrated QAT model's ECE per split; printed."""
    from pipeline.training.calibrate import describe

    for name, entry in calibration.items():
        entry.update({f"ece_after_{split}": metrics[split][name]["ece"] for split in metrics})
    print("QAT " + describe(calibration))
    return calibration


def keras_metrics(model, contract, arrays: dict) -> dict:
    from pipeline.export.writer import keras_probs

    return {split: head_metrics(contract.heads, labels, keras_probs(model, contract, pixels))
            for split, (pixels, labels) in arrays.items()}


def save_qat(out: Path, qat, heads: Heads, history: dict, metrics: dict) -> None:
    from pipeline.training.checkpoints import save_h5, write_history

    save_h5(qat, out / "model.h5")  # .keras does not load back for QAT models; .h5 does
    epochs = len(next(iter(history.values()), []))
    write_history(out / "history.csv", [{"epoch": e + 1, **{k: float(v[e]) for k, v in
                                                            history.items()}}
                                        for e in range(epochs)])
    write_json(out / "metrics.json", metrics)
    print("QAT Keras model, test: " + "; ".join(
        f"{h.name} {h.impl.summary(metrics['test'][h.name])}" for h in heads))


def calibration_positions(count: int, pick: int = CALIBRATION_IMAGES, seed: int = 0) -> list:
    """A fixed, seeded pick of training images (positions in the split): the same
    calibration on every run, from label files or from a pack."""
    return sorted(np.random.default_rng(seed).permutation(count)[:pick].tolist())


def prepare_data(source, settings) -> tuple[dict, dict, np.ndarray]:
    """(tf.data train/val, uint8 arrays of val/test, calibration pixels). Fine-tuning reads
    the training data the way training did (in memory, or streamed from the packs) on one
    machine: QAT is short, and stays single-machine whatever --distribute trained the run."""
    from pipeline.data.datasets import Feed

    batch, seed = settings.batch_size, settings.seed
    datasets = {"train": source.dataset("train", Feed(batch, True, seed)),
                "val": source.dataset("val", Feed(batch, False))}
    arrays = {name: source.arrays(name) for name in ("val", "test")}
    calibration = source.pixels_at("train", calibration_positions(source.count("train")))
    return datasets, arrays, calibration


def run(o: QuantizeOptions) -> dict:
    """QAT, then the export (options/stages.py: thresholds of your own, coverage, variants)."""
    from pipeline.modelfile.variants import select

    variants = select(o.variants)  # an unknown one stops before anything
    rd = RunDir(o.run)
    rd.require("train")
    with rd.writing():  # held from before train/ is read: a retrain cannot slip in between
        return _run(rd, o.epochs, o.lr, o, variants)


def not_sure_options(heads: Heads, o: ThresholdOptions) -> dict:
    """How each head's threshold is chosen (export/thresholds.py); one line if mistyped."""
    from pipeline.export import thresholds

    return {"overrides": thresholds.parse_overrides(o.threshold, heads), "coverage": o.coverage,
            "decline": thresholds.parse_overrides(o.decline, heads, "--decline")}


def _run(rd: RunDir, epochs: int, lr: float, rules: ThresholdOptions, variants) -> dict:
    from pipeline.data.sources import open_source

    trained = TrainedRun.open(rd.root)
    config, heads = trained.config, trained.heads
    not_sure = not_sure_options(heads, rules)  # a typo stops us before QAT
    # Label files and images, or packs (size, heads, checksums): checked before TF loads.
    source = open_source(trained.data, trained.settings.input, config, trained.schema, heads)
    model = trained.load_keras()
    keras().utils.set_random_seed(trained.settings.seed)
    datasets, arrays, calibration = prepare_data(source, trained.settings)
    steps = math.ceil(source.count("train") / trained.settings.batch_size)  # lr schedule
    settings = {"epochs": epochs, "lr": lr, "mode": trained.settings.mode,
                "heads": heads.names, "calibration_images": int(len(calibration))}
    with rd.stage("qat", settings) as qat_stage:
        qat = quantize_model(model, config.normalization)
        calibrate_ranges(qat, model, calibration, config.normalization,
                         outputs=tuple(heads.names))
        history = fine_tune(qat, heads, trained.settings, datasets, epochs, lr, steps)
        recalibration = recalibrate_qat(qat, heads, arrays, config.normalization)
        metrics = keras_metrics(qat, contract_of(trained), arrays)
        metrics["calibration"] = with_ece_after(recalibration, metrics)
        save_qat(qat_stage.dir, qat, heads, history, metrics)
        qat_stage.metrics = {"test": _accuracies(metrics["test"], heads)}
        return export_stage(rd, model, qat, contract_of(trained), calibration, arrays,
                            not_sure, variants)


def contract_of(trained: TrainedRun):
    """The trained model's contract with its file's readers (modelfile.contract)."""
    from pipeline.modelfile.contract import Contract
    from pipeline.training.backbones import get as backbone

    config = trained.config
    return Contract(trained.heads, config.image_size, config.normalization,
                    backbone(config.arch).title)


def export_stage(rd: RunDir, model, qat, contract, calibration: np.ndarray, arrays: dict,
                 not_sure: dict, variants=None, keep: RunDir | None = None) -> dict:
    """The export stage of the run (quantize nests it in QAT's; `pipeline export` alone) of
    the registry's variants (default: all). keep: the run as it was before, whose other
    exported variants this export carries over unchanged (export/carry.py)."""
    from pipeline.export import writer as export
    from pipeline.export.carry import carry_over
    from pipeline.modelfile.variants import BY_KEY, VARIANTS

    variants = variants or VARIANTS
    with rd.stage("export", {"variants": [v.key for v in variants], **not_sure}) as stage:
        results = export.export(stage.dir, model, qat, contract, calibration, arrays["test"],
                                arrays["val"], **not_sure, variants=variants)
        kept = carry_over(keep, stage.dir, contract.heads, contract.image_size, results) \
            if keep else []
        if kept:
            stage.settings["kept"] = kept
            print("kept from the previous export, byte for byte: "
                  + ", ".join(BY_KEY[k].file for k in kept))
        stage.metrics = {k: r["accuracy"] for k, r in results["variants"].items()}
    return results


def _accuracies(metrics: dict, heads: Heads) -> dict:
    return {h.name: metrics[h.name]["accuracy"] for h in heads}
