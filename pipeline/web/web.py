"""`pipeline web`: the static phone page of a run (index.html, the page's JavaScript and
wasm, the model files), which any static web server can serve."""
from __future__ import annotations

from pathlib import Path

from pipeline.rundir.runs import writing_if_inside
from pipeline.web import site as sitelib


def build(run: Path, out: Path, variants: list[str] | None = None) -> Path:
    with writing_if_inside(run, out):
        sitelib.build(run, out, variants)
    print(f"web: {out} (open {out}/index.html through any static web server, "
          f"or `pipeline serve --run {run}`)")
    return Path(out)


def run(o) -> Path:
    """`pipeline web` (options.WebOptions)."""
    return build(o.run, o.out, o.variants)
