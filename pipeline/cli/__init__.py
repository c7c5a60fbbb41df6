"""The `pipeline` command: one thin Typer command per stage.

No TensorFlow import here: each command imports its stage module when it runs, so
`pipeline --help` stays fast. A PipelineError becomes one line on stderr and exit code 1.
"""
from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from pipeline import __version__
from pipeline.bench.baselines import KINDS as BASELINE_KINDS
from pipeline.cli.build import stage_command
from pipeline.cli.common import _csv, friendly
from pipeline.cli.data import data_app
from pipeline.options import STAGES, PredictOptions
from pipeline.modelfile.variants import DEFAULT as DEFAULT_VARIANT, VARIANTS
from pipeline.training.backbones import BACKBONES

# Choices from the registries: a new backbone or export variant appears here by itself.
ExportKey = Enum("ExportKey", [(v.key, v.key) for v in VARIANTS], type=str)

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


def _run_stage(options):
    from pipeline import api

    return api.run_stage(options)


def _predict(options) -> None:
    from pipeline.deploy import predict as stage

    if stage.run(options):  # each failed input was printed; the exit code says so
        raise typer.Exit(1)


# The model stages: flags, defaults, help and limits from their classes in options.py.
REGISTRIES = {"backbones": BACKBONES, "variants": [v.key for v in VARIANTS],
              "baselines": BASELINE_KINDS}
for _options in STAGES:
    stage_command(app, _options, _predict if _options is PredictOptions else _run_stage,
                  REGISTRIES, _options.stage)


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


from pipeline.cli.web import add as add_web_commands  # noqa: E402 (web, serve)
add_web_commands(app, friendly, _csv)
