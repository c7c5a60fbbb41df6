"""The run directory `artifacts/<run>/`: manifest, labels.json, and crash-safe stage outputs.

A stage writes into a hidden `.<stage>.partial/` folder, which is renamed into place only when
the stage has finished; its manifest entry is added last. A stage that dies therefore leaves
the previous outputs and manifest untouched.
"""
from __future__ import annotations

import os
import platform
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from pipeline.core.errors import PipelineError
from pipeline.core.heads import Heads
from pipeline.core.io import read_json, sha256, write_json

STACK = ("tensorflow", "tf-keras", "tensorflow-model-optimization", "ai-edge-litert", "numpy",
         "pillow", "typer")
# What to type to produce each stage, for "stage X is missing" messages.
HOW_TO_MAKE = {"train": "pipeline train --data DIR --run {run}",
               "quantize": "pipeline quantize --run {run}",
               # `pipeline quantize` publishes two stages: qat/ and export/.
               "qat": "pipeline quantize --run {run}",
               "export": "pipeline quantize --run {run}",
               "benchmark": "pipeline benchmark --run {run}"}
# Stages built from another stage's outputs: re-running the source makes them stale, so their
# manifest entries go (their folders stay until re-made, but `require` now asks for a re-run).
DOWNSTREAM = {"train": ("qat", "export", "benchmark"), "qat": ("benchmark",),
              "export": ("benchmark",)}


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in STACK:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@dataclass
class StageWriter:
    """Handed to a stage while it runs: where to write, and what to record."""
    dir: Path
    metrics: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)


class RunDir:
    def __init__(self, root: Path | str):
        self.root = Path(root)

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    def path(self, stage: str) -> Path:
        return self.root / stage

    def partial(self, stage: str) -> Path:
        return self.root / f".{stage}.partial"

    def manifest(self) -> dict:
        if not self.manifest_path.exists():
            return {"run": self.name, "created": _now(), "versions": package_versions(),
                    "stages": {}}
        return read_json(self.manifest_path)

    def has(self, stage: str) -> bool:
        return stage in self.manifest().get("stages", {}) and self.path(stage).is_dir()

    def require(self, stage: str) -> Path:
        """The folder of a finished stage, or a one-line error saying how to make it."""
        if not self.root.is_dir():
            raise PipelineError(f"{self.root}: no such run directory")
        if not self.has(stage):
            how = HOW_TO_MAKE.get(stage, f"the {stage} stage").format(run=self.root)
            raise PipelineError(f"{self.root}: stage '{stage}' has not finished in this run; "
                                f"run `{how}` first")
        return self.path(stage)

    def stage_entry(self, stage: str) -> dict:
        self.require(stage)
        return self.manifest()["stages"][stage]

    def heads(self) -> Heads:
        return Heads.from_json(read_json(self.root / "labels.json"))

    def write_heads(self, heads: Heads) -> None:
        write_json(self.root / "labels.json", heads.to_json())

    @contextmanager
    def stage(self, stage: str, settings: dict | None = None, keep_partial: bool = False,
              fresh: bool = True):
        """Run a stage into `.<stage>.partial/`, then rename it into place and record it.

        keep_partial: leave the partial folder after a failure (training resumes from it).
        fresh: start from an empty partial folder (False when resuming).
        """
        self.root.mkdir(parents=True, exist_ok=True)
        partial = self.partial(stage)
        if fresh and partial.exists():
            shutil.rmtree(partial)
        partial.mkdir(exist_ok=True)
        writer = StageWriter(partial, settings=dict(settings or {}))
        started = time.time()
        try:
            yield writer
        except BaseException:
            if not keep_partial:
                shutil.rmtree(partial, ignore_errors=True)
            raise
        self._publish(stage, writer, time.time() - started)

    def _publish(self, stage: str, writer: StageWriter, seconds: float) -> None:
        final, old = self.path(stage), self.root / f".{stage}.old"
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            os.replace(final, old)
        os.replace(writer.dir, final)
        shutil.rmtree(old, ignore_errors=True)
        manifest = self.manifest()
        manifest["versions"] = package_versions()
        for stale in DOWNSTREAM.get(stage, ()):
            if manifest["stages"].pop(stale, None) is not None:
                print(f"note: {self.root}: '{stale}' was made from the previous '{stage}'; "
                      "run it again")
        manifest["stages"][stage] = {
            "finished": _now(), "seconds": round(seconds, 2), "settings": writer.settings,
            "outputs": self._outputs(final), "metrics": writer.metrics}
        write_json(self.manifest_path, manifest)

    def _outputs(self, folder: Path) -> dict:
        outputs = {}
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "checkpoints" not in path.parts and "tensorboard" not in path.parts:
                outputs[str(path.relative_to(self.root))] = {"sha256": sha256(path),
                                                             "bytes": path.stat().st_size}
        return outputs


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
