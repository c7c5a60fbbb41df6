"""The `pipeline` command: one thin Typer command per stage.

No TensorFlow import here: each command imports its stage module when it runs, so
`pipeline --help` stays fast. A PipelineError becomes one line on stderr and exit code 1.
"""
from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from pipeline import __version__
from pipeline.core.config import Distribute, Input, Mode, Weighting
from pipeline.bench.baselines import KINDS as BASELINE_KINDS
from pipeline.cli_common import DECODERS, _csv, friendly
from pipeline.cli_data import data_app
from pipeline.export.variants import DEFAULT as DEFAULT_VARIANT, VARIANTS
from pipeline.training.backbones import BACKBONES, DEFAULT_ARCH

# Choices from the registries: a new backbone or export variant appears here by itself.
Arch = Enum("Arch", [(name, name) for name in BACKBONES], type=str)
ExportKey = Enum("ExportKey", [(v.key, v.key) for v in VARIANTS], type=str)
Baselines = Enum("Baselines", [(k, k) for k in BASELINE_KINDS], type=str)

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Flower photos -> multi-task SqueezeNet -> TFLite on a phone.")
app.add_typer(data_app, name="data")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pipeline {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Print the version and exit.")) -> None:
    """Flower photos -> multi-task SqueezeNet -> TFLite on a phone."""


def _thread_counts(text: str) -> List[int]:
    try:
        return [int(t) for t in _csv(text) or ["1"]]
    except ValueError:
        raise typer.BadParameter(f"{text!r}: thread counts as whole numbers, e.g. 1,2",
                                 param_hint="--threads") from None


@app.command()
@friendly
def train(data: Path = typer.Option(..., help="Folder with train.txt, val.txt, test.txt, or "
                                                 "a packed one (`pipeline data pack`)."),
          run: Path = typer.Option(..., help="Run directory, e.g. artifacts/NAME."),
          arch: Arch = typer.Option(DEFAULT_ARCH, help="Backbone."),
          image_size: int = typer.Option(224, help="Input side in pixels (>= 32)."),
          epochs: int = typer.Option(20, min=1),
          batch_size: int = typer.Option(32, min=1, help="Images per replica and step; the "
                                                         "global batch is this x replicas "
                                                         "(workers x their devices)."),
          lr: Optional[float] = typer.Option(
              None, help="Learning rate (Adam) of the global batch, whatever the number of "
                         "replicas (see --scale-lr); default 3e-4 when pretrained, 1e-3 from "
                         "scratch."),
          mode: Mode = typer.Option(Mode.joint, help="joint: one step on the summed losses; "
                                                     "alternating: batches alternate heads."),
          loss_weights: Optional[str] = typer.Option(None, help="e.g. type=1,color=1."),
          weighting: Weighting = typer.Option(Weighting.fixed,
                                              help="fixed (--loss-weights) or learned "
                                                   "uncertainty weights (Kendall 2018)."),
          tasks: Optional[str] = typer.Option(None, help="Heads to train, e.g. type,color."),
          none_weight: float = typer.Option(
              1.0, help="Loss weight of photos labelled \"none of these\" (negatives, and -1 "
                        "in a head declared so) against photos of a class."),
          pretrained: Optional[str] = typer.Option(
              None, help="imagenet, none, or a weights .npz (<layer>/kernel, <layer>/bias). "
                         "Default: imagenet for squeezenet1.1, none for squeezenet1.0."),
          freeze_epochs: Optional[int] = typer.Option(
              None, min=0, help="First epochs train the heads only, trunk frozen "
                                "(default: 2 when pretrained, at most half the epochs; else 0)."),
          finetune_lr: Optional[float] = typer.Option(
              None, help="Learning rate after the frozen epochs (default: --lr)."),
          init_from: Optional[Path] = typer.Option(None, help="Start from another run's weights."),
          seed: int = typer.Option(0),
          resume: bool = typer.Option(False, "--resume", help="Continue from the last checkpoint "
                                                              "(multi-worker: restart every "
                                                              "worker with it)."),
          input: Input = typer.Option(Input.auto, help="memory: decode the label files into "
                                                       "memory; stream: read the packed shards; "
                                                       "auto: stream when --data is packed."),
          distribute: Distribute = typer.Option(
              Distribute.none, help="mirrored: every device of this machine; multi-worker: "
                                    "the machines in TF_CONFIG, each running this same "
                                    "command (docs/scale-out.md, \"Several machines\")."),
          scale_lr: bool = typer.Option(False, "--scale-lr",
                                        help="Multiply --lr and --finetune-lr by the number "
                                             "of replicas (linear scaling rule)."),
          cluster_timeout: float = typer.Option(600, min=1, help="Multi-worker: seconds to "
                                                                 "wait for every worker to "
                                                                 "join before giving up.")):
    """Train the multi-task SqueezeNet (joint or alternating) on a split folder."""
    from pipeline import api
    api.train(data=data, run=run, arch=arch.value, image_size=image_size, epochs=epochs,
              batch_size=batch_size, lr=lr, mode=mode.value, loss_weights=loss_weights,
              weighting=weighting.value, tasks=_csv(tasks), init_from=init_from, seed=seed,
              resume=resume, pretrained=pretrained, freeze_epochs=freeze_epochs,
              finetune_lr=finetune_lr, distribute=distribute.value, input=input.value,
              scale_lr=scale_lr, cluster_timeout=cluster_timeout, none_weight=none_weight)


@app.command()
@friendly
def quantize(run: Path = typer.Option(..., help="Run directory with a finished train stage."),
             epochs: int = typer.Option(2, min=0, help="QAT fine-tuning epochs."),
             lr: float = typer.Option(1e-4, help="QAT learning rate."),
             threshold: Optional[str] = typer.Option(
                 None, help="Not-sure thresholds of your own, e.g. type=0.8,color=0.6 (each "
                            "head answers only when a class reaches it); other heads: chosen "
                            "on the validation split (docs/not-sure.md)."),
             coverage: Optional[float] = typer.Option(
                 None, help="Choose thresholds that answer this share of the validation "
                            "photos of a class (default: the threshold that best separates "
                            "them from 'none of these' photos, where there are some; else "
                            "0.95).")):
    """Quantization-aware fine-tuning, then TFLite export of every variant."""
    from pipeline import api
    api.quantize(run, epochs=epochs, lr=lr, threshold=threshold, coverage=coverage)


@app.command()
@friendly
def export(run: Path = typer.Option(..., help="Run directory with a finished quantize stage."),
           threshold: Optional[str] = typer.Option(
               None, help="Not-sure thresholds of your own, e.g. type=0.8,color=0.6."),
           coverage: Optional[float] = typer.Option(
               None, help="Choose thresholds that answer this share of the validation photos "
                          "of a class (default as in `pipeline quantize`)."),
           variants: Optional[str] = typer.Option(
               None, help="Variants to export, comma-separated, of "
                          f"{','.join(v.key for v in VARIANTS)} (default: all).")):
    """Export the variants again from the trained and QAT models, without training."""
    from pipeline import api
    api.export(run, threshold=threshold, coverage=coverage, variants=_csv(variants))


@app.command()
@friendly
def evaluate(model: Path = typer.Option(..., help="A run directory or a .tflite file."),
             labels: Path = typer.Option(..., help="Label file to score on (read with the "
                                                   "heads.json beside it, else flower heads)."),
             out: Optional[Path] = typer.Option(None, help="Also write the metrics to this "
                                                           "JSON file."),
             negatives: Optional[Path] = typer.Option(
                 None, help="A `path, kind` file of photos that are no class of any head: "
                            "also report how often each head says \"not sure\" per kind."),
             workers: Optional[int] = typer.Option(None, min=1, help=DECODERS)):
    """Per-head accuracy, confusion, calibration (ECE) and not-sure figures on a label file."""
    from pipeline import api
    api.evaluate(model, labels, negatives=negatives, out=out, workers=workers)


@app.command()
@friendly
def benchmark(run: Path = typer.Option(..., help="Run directory with an export."),
              threads: str = typer.Option("1,2", help="Thread counts, e.g. 1,2."),
              runs: int = typer.Option(200, min=1, help="Timed runs per variant."),
              warmup: int = typer.Option(20, min=0, help="Untimed warm-up runs."),
              quick: bool = typer.Option(False, "--quick", help="Few runs: a fast look."),
              baselines: Baselines = typer.Option(
                  Baselines.untrained,
                  help="The single-task models held against the two-head one: untrained "
                       "(latency and size only) or trained with the run's own settings, QAT and "
                       "export, kept in RUN/baselines/ and reused by the next call "
                       "(docs/results.md)."),
              seeds: int = typer.Option(1, min=1, help="With --baselines trained: models of "
                                                       "each kind, trained with seeds 0..N-1 "
                                                       "(mean and min-max reported).")):
    """Latency, memory, size and accuracy of every variant on CPU, side by side."""
    from pipeline import api
    api.benchmark(run, threads=tuple(_thread_counts(threads)), runs=runs, warmup=warmup,
                  quick=quick, baselines=baselines.value, seeds=seeds)


@app.command()
@friendly
def report(run: Path = typer.Option(..., help="Run directory."),
           out: Optional[Path] = typer.Option(None, help="HTML file to write (default: RUN/report/index.html)."),
           gallery: int = typer.Option(48, min=0, help="Test images shown in the gallery at most.")):
    """One self-contained HTML page of a run: problems, curves, metrics, gallery, benchmark."""
    from pipeline import api
    api.report(run, out=out, gallery=gallery)


@app.command()
@friendly
def predict(inputs: List[Path] = typer.Argument(..., help="Image files or folders."),
            model: Path = typer.Option(Path("artifacts/demo"), help="Run directory or .tflite."),
            json_output: bool = typer.Option(False, "--json", help="One JSON object per image."),
            threads: int = typer.Option(1, min=1),
            workers: Optional[int] = typer.Option(None, min=1, help=DECODERS)):
    """Type and colour of images from the .tflite (LiteRT only), one line each, in order."""
    from pipeline.deploy import predict as stage
    failures = stage.run(inputs, model, json_output, threads, workers)
    if failures:
        raise typer.Exit(1)


@app.command()
@friendly
def inspect(model: Path = typer.Argument(..., help="A .tflite file (or a run directory)."),
            json_output: bool = typer.Option(False, "--json", help="Print JSON.")):
    """Metadata, inputs, outputs, signatures, op counts and size of a .tflite (no TensorFlow)."""
    from pipeline.deploy import inspect as stage
    stage.run(model=model, as_json=json_output)


@app.command()
@friendly
def android(run: Path = typer.Option(..., help="Run directory with an export, or a .tflite."),
            variant: ExportKey = typer.Option(DEFAULT_VARIANT, help="Which exported variant of "
                                                                    "the run to ship."),
            assets: Optional[Path] = typer.Option(
                None, help="Assets folder (default: android_demo/app/src/main/assets of the "
                           "repository holding the current folder).")):
    """Copy one self-describing .tflite into the Android demo's assets (as model.tflite)."""
    from pipeline.deploy import android as stage
    stage.run(run=run, variant=variant.value, assets=assets)


from pipeline.web.commands import add as add_web_commands  # noqa: E402 (web, serve)
add_web_commands(app, friendly, _csv)
if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
