"""Every stage's options, typed: the one place of their defaults, help texts, choices and
limits. The `pipeline` command (cli/build.py generates each stage's flags from these classes)
and the Python API (api.py) both build them, and the stage reads nothing else, so a flag is
written once. Checks that need the data (a head name, a threshold's head) stay in the stages.

A field's metadata says how it appears on the command line: `help`, `min`/`max`, `choices`
(an Enum here, or the name of a registry that cli_build resolves: core may not import the
registries), `flag` (another spelling), `argument` (positional), `csv` (a comma-separated
list on the command line; a list or that text in Python). No TensorFlow here.
"""
from __future__ import annotations

import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import Optional

from pipeline.core.config import MIN_IMAGE_SIZE, Distribute, Input, Mode, Weighting
from pipeline.core.errors import PipelineError

# Pretrained starts train the heads alone for a few epochs (trunk frozen), then everything;
# learning rates by start. Chosen on the real photos, several seeds (docs/training.md).
FREEZE_EPOCHS = 2
DEFAULT_LR = {"pretrained": 3e-4, "scratch": 1e-3}
DEFAULT_ARCH = "squeezenet1.1"  # a key of the backbone registry (training/backbones)
DECODERS = "Decoding threads (default: all cores, at most 8)."


def option(default=MISSING, help: str = "", **cli):
    """A stage option: its default (none: required), help text and command-line metadata."""
    return field(default=default, metadata={"help": help, **cli})


class StageOptions:
    """Checks every field against its metadata after construction: one line naming the flag.
    Each stage's class names its command (`stage`) and the module whose run(options) does
    the work (`module`, imported by api.run_stage when the stage runs)."""
    stage = module = ""

    def __post_init__(self):
        hints = typing.get_type_hints(type(self))
        for f in fields(self):
            setattr(self, f.name, _check(f, hints[f.name], getattr(self, f.name)))

    @classmethod
    def build(cls, **values):
        """The options from keyword arguments (the API's), refusing names that are none."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise PipelineError(f"unknown option {unknown[0]!r} of {cls.stage}; known: "
                                f"{', '.join(sorted(known))}")
        missing = [f.name for f in fields(cls) if f.default is MISSING and f.name not in values]
        if missing:
            raise PipelineError(f"{cls.stage}: {flag(missing[0])} is required")
        return cls(**values)

    def to_json(self) -> dict:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def unwrap_optional(hint):
    """X of Optional[X]; any other type as it is."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        return next(a for a in args if a is not type(None))
    return hint


def _check(f, hint, value):
    """value converted to the field's type (a path from text, a list from 'a,b') and held to
    its limits and choices."""
    meta, name = f.metadata, flag(f.name)
    if value is None:
        if type(None) in typing.get_args(hint) or f.default is None:
            return None
        raise PipelineError(f"{name} needs a value")
    base = unwrap_optional(hint)
    if isinstance(value, Enum):
        value = value.value
    if meta.get("csv"):
        value = _csv(value, base, name)
    else:
        value = _scalar(value, base, name)
    for item in value if isinstance(value, (list, tuple)) else [value]:
        _limits(item, meta, name)
    return value


def _csv(value, base, name):
    items = [t.strip() for t in value.split(",") if t.strip()] if isinstance(value, str) \
        else list(value)
    kind = typing.get_args(base)[0] if typing.get_args(base) else str
    out = [_scalar(item, kind, name) for item in items]
    return tuple(out) if typing.get_origin(base) is tuple else out


def _scalar(value, kind, name):
    try:
        if kind is Path:
            return Path(value)
        if kind is bool:
            if not isinstance(value, bool):
                raise ValueError
            return value
        if kind is int:
            if isinstance(value, bool) or float(value) != int(float(value)):
                raise ValueError
            return int(float(value))
        if kind is float:
            return float(value)
        return str(value) if kind is str else value
    except (TypeError, ValueError):
        what = {int: "a whole number", float: "a number", bool: "true or false"}.get(kind, kind)
        raise PipelineError(f"{name} {value!r}: expected {what}") from None


def _limits(value, meta, name):
    low, high, choices = meta.get("min"), meta.get("max"), meta.get("choices")
    if meta.get("above") is not None and value <= meta["above"]:
        raise PipelineError(f"{name} {value}: must be above {meta['above']}")
    if low is not None and value < low:
        raise PipelineError(f"{name} {value}: must be at least {low}")
    if high is not None and value > high:
        raise PipelineError(f"{name} {value}: must be at most {high}")
    if isinstance(choices, type) and issubclass(choices, Enum) and \
            value not in {c.value for c in choices}:
        raise PipelineError(f"{name} {value!r}: choose from "
                            f"{', '.join(c.value for c in choices)}")


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
    stage, module = "export", "pipeline.export.reexport"
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
    stage, module = "benchmark", "pipeline.bench.stage"
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
    stage, module = "report", "pipeline.report.stage"
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


STAGES = (TrainOptions, QuantizeOptions, ExportOptions, EvaluateOptions, BenchmarkOptions,
          ReportOptions, PredictOptions)
