"""`pipeline data check`: every problem of a label file as one `FILE:LINE: reason` line, with
its class counts; changes nothing."""
from __future__ import annotations

from pathlib import Path

import typer

from pipeline.data.labels import validate_label_file
from pipeline.data.split import counts_table
from pipeline.heads.schema import schema_of


def check(labels: Path | str) -> bool:
    """Print class counts and every problem (`FILE:LINE: reason`); True if there is no error."""
    heads = schema_of(labels)
    samples, problems = validate_label_file(labels, heads)
    if samples:
        typer.echo(counts_table({str(labels): samples}, heads))
    for problem in sorted(problems, key=lambda p: p.line):
        typer.echo(str(problem))
    errors = sum(not p.warning for p in problems)
    warnings = len(problems) - errors
    verdict = "OK" if not errors else f"{errors} error{'s' * (errors != 1)}"
    typer.echo(f"{labels}: {verdict}, {warnings} warning{'s' * (warnings != 1)}, "
               f"{len(samples)} image{'s' * (len(samples) != 1)} listed")
    return errors == 0


def run(o) -> bool:
    """`pipeline data check` (options.CheckOptions): True if the file has no error."""
    return check(o.labels)
