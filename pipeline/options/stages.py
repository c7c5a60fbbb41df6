"""The options of the model stages (train, quantize, export, evaluate, benchmark, report,
predict): the one place of their defaults, help texts, choices and limits. Checks that need
the data (a head name, a threshold's head) stay in the stages."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from pipeline.core.config import MIN_IMAGE_SIZE, Distribute, Input, Mode, Weighting
from pipeline.options.base import DECODERS, StageOptions, option

# Pretrained starts train the heads alone for a few epochs (trunk frozen), then everything;
# learning rates by start. Chosen on the real photos, several seeds (docs/training.md).
FREEZE_EPOCHS = 2
DEFAULT_LR = {"pretrained": 3e-4, "scratch": 1e-3}
DEFAULT_ARCH = "squeezenet1.1"  # a key of the backbone registry (training/backbones)


@dataclass(kw_only=True)
class TrainOptions(StageOptions):
    """Train the multi-task SqueezeNet (joint or alternating) on a split folder."""
    stage, module = "train", "pipeline.training.train"
    data: Path = option(help="Folder with train.txt, val.txt, test.txt, or a packed one "
                             "(`pipeline data pack`).")
    run: Path = option(help="Run directory, e.g. artifacts/NAME.")
    arch: str = option(DEFAULT_ARCH, "Backbone.", choices="backbones")
    image_size: int = option(224, f"Input side in pixels (>= {MIN_IMAGE_SIZE}).",
                             min=MIN_IMAGE_SIZE)
    epochs: int = option(20, "Training epochs.", min=1)
    batch_size: int = option(32, "Images per replica and step; the global batch is this x "
                                 "replicas (workers x their devices).", min=1)
    lr: Optional[float] = option(
        None, "Learning rate (Adam) of the global batch, whatever the number of replicas (see "
              f"--scale-lr); default {DEFAULT_LR['pretrained']:g} when pretrained, "
              f"{DEFAULT_LR['scratch']:g} from scratch.", above=0)
    mode: str = option(Mode.joint.value, "joint: one step on the summed losses; alternating: "
                                         "batches alternate heads.", choices=Mode)
    loss_weights: Optional[str] = option(None, "e.g. type=1,color=1.")
    weighting: str = option(Weighting.fixed.value, "fixed (--loss-weights) or learned "
                                                   "uncertainty weights (Kendall 2018).",
                            choices=Weighting)
    tasks: Optional[list[str]] = option(None, "Heads to train, e.g. type,color.", csv=True)
    none_weight: float = option(1.0, "Loss weight of photos labelled \"none of these\" "
                                     "(negatives, and -1 in a head declared so) against photos "
                                     "of a class.", min=0, max=10)
    pretrained: Optional[str] = option(
        None, "imagenet, none, or a weights .npz (<layer>/kernel, <layer>/bias). Default: "
              "imagenet for squeezenet1.1, none for squeezenet1.0.")
    freeze_epochs: Optional[int] = option(
        None, f"First epochs train the heads only, trunk frozen (default: {FREEZE_EPOCHS} when "
              "pretrained, at most half the epochs; else 0).", min=0)
    finetune_lr: Optional[float] = option(None, "Learning rate after the frozen epochs "
                                                "(default: --lr).", above=0)
    init_from: Optional[Path] = option(None, "Start from another run's weights.")
    seed: int = option(0, "Random seed (weights, shuffling, augmentation).")
    resume: bool = option(False, "Continue from the last checkpoint (multi-worker: restart "
                                 "every worker with it).")
    input: str = option(Input.auto.value, "memory: decode the label files into memory; stream: "
                                          "read the packed shards; auto: stream when --data is "
                                          "packed.", choices=Input)
    distribute: str = option(Distribute.none.value, "mirrored: every device of this machine; "
                                                    "multi-worker: the machines in TF_CONFIG, "
                                                    "each running this same command "
                                                    "(docs/scale-out.md, \"Several machines\").",
                             choices=Distribute)
    scale_lr: bool = option(False, "Multiply --lr and --finetune-lr by the number of replicas "
                                   "(linear scaling rule).")
    cluster_timeout: float = option(600.0, "Multi-worker: seconds to wait for every worker to "
                                           "join before giving up.", min=1)


@dataclass(kw_only=True)
class ThresholdOptions(StageOptions):
    """What the export writes: its variants and their not-sure thresholds (docs/not-sure.md);
    shared by quantize and export."""
    threshold: Optional[str] = option(
        None, "Not-sure thresholds of your own, e.g. type=0.8,color=0.6 (each head answers only "
              "when a class reaches it); other heads: chosen on the validation split.")
    coverage: Optional[float] = option(
        None, "Choose thresholds that answer this share of the validation photos of a class "
              "(default: the threshold that best separates them from 'none of these' photos, "
              "where there are some; else 0.95).", above=0, max=1)
    decline: Optional[str] = option(
        None, "Choose a head's threshold as the lowest that declines this share of the "
              "validation 'none of these' photos, e.g. type=0.95 (docs/not-sure.md).")
    variants: Optional[list[str]] = option(
        None, "Variants to export, comma-separated (default: all). `pipeline export` keeps "
              "the run's other exported variants as they are.", csv=True, choices="variants")


@dataclass(kw_only=True)
class QuantizeOptions(ThresholdOptions):
    """Quantization-aware fine-tuning, then TFLite export of every variant."""
    stage, module = "quantize", "pipeline.export.quantize"
    run: Path = option(help="Run directory with a finished train stage.")
    epochs: int = option(2, "QAT fine-tuning epochs.", min=0)
    lr: float = option(1e-4, "QAT learning rate.", above=0)


@dataclass(kw_only=True)
class ExportOptions(ThresholdOptions):
    """Export the variants again from the trained and QAT models, without training."""
    stage, module = "export", "pipeline.export.export"
    run: Path = option(help="Run directory with a finished quantize stage.")


@dataclass(kw_only=True)
class EvaluateOptions(StageOptions):
    """Per-head accuracy, confusion, calibration (ECE) and not-sure figures on a label file."""
    stage, module = "evaluate", "pipeline.deploy.evaluate"
    model: Path = option(help="A run directory or a .tflite file.")
    labels: Path = option(help="Label file to score on (read with the heads.json beside it, "
                               "else flower heads).")
    out: Optional[Path] = option(None, "Also write the metrics to this JSON file.")
    negatives: Optional[Path] = option(
        None, "A `path, kind` file of photos that are no class of any head: also report how "
              "often each head says \"not sure\" per kind.")
    workers: Optional[int] = option(None, DECODERS, min=1)


@dataclass(kw_only=True)
class BenchmarkOptions(StageOptions):
    """Latency, memory, size and accuracy of every variant on CPU, side by side."""
    stage, module = "benchmark", "pipeline.bench.benchmark"
    run: Path = option(help="Run directory with an export.")
    threads: tuple[int, ...] = option((1, 2), "Thread counts, e.g. 1,2.", csv=True, min=1)
    runs: int = option(200, "Timed runs per variant.", min=1)
    warmup: int = option(20, "Untimed warm-up runs.", min=0)
    quick: bool = option(False, "Few runs: a fast look.")
    baselines: str = option(
        "untrained", "The single-task models held against the two-head one: untrained (latency "
                     "and size only) or trained with the run's own settings, QAT and export, "
                     "kept in RUN/baselines/ and reused by the next call (docs/results.md).",
        choices="baselines")
    seeds: int = option(1, "With --baselines trained: models of each kind, trained with seeds "
                           "0..N-1 (mean and min-max reported).", min=1)


@dataclass(kw_only=True)
class ReportOptions(StageOptions):
    """One self-contained HTML page of a run: problems, curves, metrics, gallery, benchmark."""
    stage, module = "report", "pipeline.report.report"
    run: Path = option(help="Run directory.")
    out: Optional[Path] = option(None, "HTML file to write (default: RUN/report/index.html).")
    gallery: int = option(48, "Test images shown in the gallery at most.", min=0)


@dataclass(kw_only=True)
class PredictOptions(StageOptions):
    """Type and colour of images from the .tflite (LiteRT only), one line each, in order."""
    stage, module = "predict", "pipeline.deploy.predict"
    inputs: list[Path] = option(help="Image files or folders.", argument=True)
    model: Path = option(Path("artifacts/demo"), "Run directory or .tflite.")
    json_output: bool = option(False, "One JSON object per image.", flag="--json")
    threads: int = option(1, "LiteRT threads.", min=1)
    workers: Optional[int] = option(None, DECODERS, min=1)

    @staticmethod
    def failed(result) -> bool:
        return result > 0  # the number of inputs that could not be answered, each printed
