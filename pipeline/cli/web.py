"""The `pipeline web` and `pipeline serve` commands, added to the CLI's app by cli.py (kept
here so that cli.py stays one short file). Imports the stage only when a command runs."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def add(app: typer.Typer, friendly, csv) -> None:
    @app.command()
    @friendly
    def web(run: Path = typer.Option(..., help="Run directory with an export."),
            out: Path = typer.Option(..., help="Folder for the static site (replaced if "
                                               "`pipeline web` made it before)."),
            variants: Optional[str] = typer.Option(
                None, help="Exported variants to include; the first is the default (default: "
                           "the export's default variant and its float reference, int8,float32).")):
        """A static page that runs the exported .tflite in a phone's browser, offline."""
        from pipeline.web import stage
        stage.web(run=run, out=out, variants=csv(variants))

    @app.command()
    @friendly
    def serve(run: Path = typer.Option(..., help="Run directory with an export."),
              host: str = typer.Option("127.0.0.1", help="Address to listen on; 0.0.0.0 lets "
                                                         "phones on your LAN reach it."),
              port: int = typer.Option(8000, min=0, max=65535, help="0: any free port."),
              tls: bool = typer.Option(False, "--tls", help="HTTPS with a self-signed "
                                                            "certificate (made once, kept beside "
                                                            "the site): phones give the camera "
                                                            "to https pages only."),
              site: Optional[Path] = typer.Option(None, help="Site folder (default: RUN/web, "
                                                             "rebuilt when the export changed)."),
              variants: Optional[str] = typer.Option(None, help="As for `pipeline web`."),
              verbose: bool = typer.Option(False, "--verbose", help="Log every request.")):
        """Serve the phone page and record the device benchmarks it posts (docs/web.md)."""
        from pipeline.web import stage
        stage.serve(run=run, host=host, port=port, use_tls=tls, site=site,
                    variants=csv(variants), verbose=verbose)
