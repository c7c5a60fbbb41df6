"""What a manifest records and its file-level helpers: the stages and how they depend on each
other, JSON in and out, sha256, package versions, and the manifest's shape, checked once so
that no reader trips over a damaged or hand-edited file with a KeyError. No TensorFlow and no
run logic here (that is runs.py and publish.py, which both build on this module).
"""
from __future__ import annotations

import platform
import re
from importlib import metadata
from pathlib import Path

from pipeline.core.errors import PipelineError

STACK = ("tensorflow", "tf-keras", "tensorflow-model-optimization", "ai-edge-litert", "numpy",
         "pillow", "typer")
VERSION_DIR = re.compile(r"\.(?P<stage>[a-z][a-z0-9_]*)\.v(?P<n>[0-9]+)")

# What to type to produce each stage, for "stage X is missing" messages.
HOW_TO_MAKE = {"train": "pipeline train --data DIR --run {run}",
               "quantize": "pipeline quantize --run {run}",
               # `pipeline quantize` publishes two stages: qat/ and export/.
               "qat": "pipeline quantize --run {run}",
               "export": "pipeline quantize --run {run}",
               "benchmark": "pipeline benchmark --run {run}"}
STAGES = ("train", "qat", "export", "benchmark")
# Stages built from another stage's outputs: re-running the source makes them stale, so their
# manifest entries go (in the same manifest switch), and `require` then asks for a re-run.
DOWNSTREAM = {"train": ("qat", "export", "benchmark"), "qat": ("benchmark",),
              "export": ("benchmark",)}
# The stages a stage reads when it starts: their entry ids are recorded in its own entry
# ("from"), and a reader refuses it when they are no longer the current ones.
UPSTREAM = {"qat": ("train",), "export": ("train",), "benchmark": ("train", "export")}


def package_versions() -> dict[str, str]:
    """Python, the stack's packages, and the image loader that made the run's pixels."""
    from pipeline.data.images import LOADER

    versions = {"python": platform.python_version(), "image_loader": LOADER}
    for name in STACK:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def check_manifest(data, path: Path) -> dict:
    """The manifest's shape, checked once here so that no reader trips over a hand-edited or
    damaged file with a KeyError: one line naming the file instead."""
    def bad(why: str):
        raise PipelineError(f"{path}: {why}; not a run manifest this pipeline wrote (restore "
                            "it, or start a new run directory)")
    if not isinstance(data, dict) or not isinstance(data.get("stages", {}), dict):
        bad("expected a JSON object with a 'stages' object")
    for name, entry in data.get("stages", {}).items():
        if not isinstance(entry, dict) or not isinstance(entry.get("outputs", {}), dict):
            bad(f"stage {name!r} is not an object with an 'outputs' object")
        folder = entry.get("dir")
        match = VERSION_DIR.fullmatch(folder) if isinstance(folder, str) else None
        if folder is not None and (match is None or match["stage"] != name):
            bad(f"stage {name!r} names the folder {folder!r}, not .{name}.v<N>")
        if not all(isinstance(v, dict) and isinstance(v.get("sha256"), str)
                   for v in entry.get("outputs", {}).values()):
            bad(f"stage {name!r} has an output without its sha256")
        if not isinstance(entry.get("from", {}), dict):
            bad(f"stage {name!r}: 'from' is not an object")
    if not isinstance(data.get("dropped", {}), dict):
        bad("'dropped' is not an object")
    retired = data.get("retired", [])
    if not isinstance(retired, list) or not all(
            isinstance(r, str) and VERSION_DIR.fullmatch(r) for r in retired):
        bad("'retired' is not a list of version folders")
    return data
