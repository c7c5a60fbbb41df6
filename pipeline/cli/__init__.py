"""The `pipeline` command: every command generated from its options class (pipeline/options/),
calling the Python API's run_command, so a flag is declared once and the command line and
`pipeline.api` cannot drift apart.

No TensorFlow import here: each command imports its module when it runs, so `pipeline --help`
stays fast. A PipelineError becomes one line on stderr and exit code 1.
"""
from __future__ import annotations

import typer

from pipeline import __version__
from pipeline.bench.baselines import KINDS as BASELINE_KINDS
from pipeline.cli.build import stage_command
from pipeline.modelfile.variants import VARIANTS
from pipeline.options import COMMANDS
from pipeline.training.backbones import BACKBONES

HELP = "Flower photos -> multi-task SqueezeNet -> TFLite on a phone."
# Choices from the registries: a new backbone or export variant appears here by itself.
REGISTRIES = {"backbones": BACKBONES, "variants": [v.key for v in VARIANTS],
              "baselines": BASELINE_KINDS}
GROUPS = {"data": "Make, check, split and pack label files."}

app = typer.Typer(add_completion=False, no_args_is_help=True, help=HELP)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pipeline {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Print the version and exit.")) -> None:
    """Flower photos -> multi-task SqueezeNet -> TFLite on a phone."""


def _run(options):
    from pipeline import api

    if type(options).failed(api.run_command(options)):  # each problem was printed
        raise typer.Exit(1)


def _add_commands() -> None:
    groups = {}
    for name, text in GROUPS.items():
        groups[name] = typer.Typer(no_args_is_help=True, help=text)
        app.add_typer(groups[name], name=name)
    for options in COMMANDS:
        *group, name = options.stage.split()
        stage_command(groups[group[0]] if group else app, options, _run, REGISTRIES, name)


_add_commands()
