"""The run directory `artifacts/<run>/`: manifest, labels.json, and atomically published stages.

manifest.json is the one source of truth. Each finished stage lives in a versioned folder
(`.export.v3/`) that the manifest names; `export` beside it is a symlink to that folder, for
people and scripts. A stage writes into `.<stage>.partial/`; publishing renames it to a new
version folder, then replaces manifest.json in one `os.replace` (the switch: every stage of the
command, e.g. qat/ and export/ together, and the entries its re-run makes stale, change at
that instant), then re-points the symlinks. Readers resolve a stage through the manifest, so
they see the old run or the new one, never a mix; see `publish.py`. Writers hold the run's
lock (`lock.py`); readers never need it.
"""
from __future__ import annotations

import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from pipeline.core.errors import PipelineError, disk_full, write_failure
from pipeline.heads.schema import Heads, parse_schema
from pipeline.core.io import read_json, sha256, write_json
from pipeline.rundir.manifest import (DOWNSTREAM, HOW_TO_MAKE, STACK, STAGES,  # noqa: F401
                                    UPSTREAM, VERSION_DIR, check_manifest, package_versions)

@dataclass
class StageWriter:
    """Handed to a stage while it runs: where to write, and what to record."""
    dir: Path
    metrics: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    name: str = ""
    inputs: dict = field(default_factory=dict)  # upstream stage -> the entry id it read
    seconds: float = 0.0
    keep_partial: bool = False
    on_disk_full: Callable[[Path], str] | None = None

    def discard(self, exc: BaseException) -> str:
        """After a failure: keep the partial folder for a resume, trim it when the disk is
        full (a resume needs its last checkpoint, not the rest), or remove it. Returns what
        was kept, for the message."""
        if not self.dir.exists() or (self.keep_partial and not disk_full(exc)):
            return ""
        if self.keep_partial and self.on_disk_full is not None:
            return self.on_disk_full(self.dir)
        shutil.rmtree(self.dir, ignore_errors=True)
        return ""


class RunDir:
    def __init__(self, root: Path | str, manifest: dict | None = None):
        self.root = Path(root)
        self._frozen = manifest  # a snapshot: every read resolves through the same manifest
        self._group: list[StageWriter] | None = None  # stages to publish together

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    def partial(self, stage: str) -> Path:
        return self.root / f".{stage}.partial"

    def how(self, stage: str) -> str:
        return HOW_TO_MAKE.get(stage, f"the {stage} stage").format(run=self.root)

    # ---- reading ------------------------------------------------------------------------

    def manifest(self) -> dict:
        if self._frozen is not None:
            return self._frozen
        if not self.manifest_path.exists():
            return {"run": self.name, "created": _now(), "versions": package_versions(),
                    "stages": {}}
        return check_manifest(read_json(self.manifest_path), self.manifest_path)

    def live_manifest(self) -> dict:
        """manifest.json as it is on disk now, even in a snapshot (for the writer)."""
        return RunDir(self.root).manifest()

    def snapshot(self) -> "RunDir":
        """This run as its manifest says now: a reader that resolves every file through one
        snapshot sees one consistent run even if a writer publishes meanwhile (the folders it
        names stay until the next publish after that; see publish.collect)."""
        return RunDir(self.root, self.manifest())

    def entry(self, stage: str) -> dict | None:
        return self.manifest().get("stages", {}).get(stage)

    def path(self, stage: str) -> Path:
        """The stage's current folder by the manifest (`root/stage` if it records none)."""
        entry = self.entry(stage) or {}
        return self.root / entry["dir"] if entry.get("dir") else self.root / stage

    def stale(self, stage: str) -> str | None:
        """Why a recorded stage cannot be used, or None: made from an upstream stage's earlier
        version (its recorded id is no longer the current one), or its folder is gone."""
        stages = self.manifest().get("stages", {})
        for upstream, made_from in (stages[stage].get("from") or {}).items():
            if (stages.get(upstream) or {}).get("id") != made_from:
                return f"stage '{stage}' was made from an earlier '{upstream}'"
        if not self.path(stage).is_dir():
            return f"stage '{stage}' is recorded but its folder {self.path(stage).name} is missing"
        return None

    def has(self, stage: str) -> bool:
        return self.entry(stage) is not None and self.stale(stage) is None

    def require(self, stage: str) -> Path:
        """The folder of a finished, current stage, or a one-line error saying how to make it."""
        if not self.root.is_dir():
            raise PipelineError(f"{self.root}: no such run directory")
        if self.entry(stage) is None:
            by = self.manifest().get("dropped", {}).get(stage)
            if by:
                raise PipelineError(f"{self.root}: stage '{stage}' was made from an earlier "
                                    f"'{by}' and is no longer current; run `{self.how(stage)}`")
            left = (f" ({stage}/ there is left from an earlier model or an unfinished run)"
                    if (self.root / stage).exists() else "")
            raise PipelineError(f"{self.root}: stage '{stage}' has not finished in this run"
                                f"{left}; run `{self.how(stage)}` first")
        why = self.stale(stage)
        if why:
            raise PipelineError(f"{self.root}: {why}; run `{self.how(stage)}` again")
        return self.path(stage)

    def stage_entry(self, stage: str) -> dict:
        self.require(stage)
        return self.manifest()["stages"][stage]

    def file(self, stage: str, name: str) -> Path:
        """A file of a current stage, checked against the manifest's size and sha256."""
        path = self.require(stage) / name
        record = self.entry(stage)["outputs"].get(f"{stage}/{name}")
        again = f"run `{self.how(stage)}` again"
        if record is None:
            held = sorted(k.removeprefix(f"{stage}/") for k in self.entry(stage)["outputs"])
            raise PipelineError(f"{path}: the current '{stage}' stage did not write it (it "
                                f"holds {', '.join(held) or 'no files'}); {again}")
        if not path.is_file():
            raise PipelineError(f"{path}: recorded in manifest.json but missing; {again}")
        if path.stat().st_size != record.get("bytes", path.stat().st_size) \
                or sha256(path) != record["sha256"]:
            raise PipelineError(f"{path}: sha256 differs from manifest.json's record (changed "
                                f"after stage '{stage}' made it); {again}")
        return path

    def verify(self, stage: str) -> Path:
        """Every recorded file of a current stage checked; the stage's folder."""
        folder = self.require(stage)
        prefix = f"{stage}/"
        for key in self.entry(stage)["outputs"]:
            self.file(stage, key[len(prefix):] if key.startswith(prefix) else key)
        return folder

    def labels_path(self) -> Path:
        """labels.json of the current training (published with it), else the run's root copy."""
        if self.has("train") and "train/labels.json" in self.entry("train")["outputs"]:
            return self.file("train", "labels.json")
        return self.root / "labels.json"

    def heads(self, path: Path | None = None) -> Heads:
        """The heads in `path` (default: labels_path()); one line naming the file if broken."""
        path = path or self.labels_path()
        return parse_schema(read_json(path), str(path))

    # ---- writing ------------------------------------------------------------------------

    def write_heads(self, heads: Heads) -> None:
        write_json(self.root / "labels.json", heads.to_json())

    @contextmanager
    def writing(self, command: str | None = None):
        """Hold the run's lock (one writer at a time) and tidy what an interrupted writer left."""
        from pipeline.rundir import lock
        from pipeline.rundir import publish

        self.root.mkdir(parents=True, exist_ok=True)
        first = not lock.held(self.root)
        with lock.run_lock(self.root, command):
            if first:
                publish.recover(self)
            yield self

    @contextmanager
    def stage(self, stage: str, settings: dict | None = None, keep_partial: bool = False,
              fresh: bool = True, on_disk_full: Callable[[Path], str] | None = None):
        """Run a stage into `.<stage>.partial/`, then publish it (see the module doc).

        A stage opened inside another one is published with it, in the same manifest switch.
        keep_partial: leave the partial folder after a failure (training resumes from it);
        on_disk_full trims it after a full disk (default: remove it) and says what it kept.
        fresh: start from an empty partial folder (False when resuming).
        """
        from pipeline.rundir import publish

        with self.writing():
            outer = self._group is None
            if outer:
                self._group = []
            writer = StageWriter(self.partial(stage), settings=dict(settings or {}), name=stage,
                                 inputs=self._inputs(stage), keep_partial=keep_partial,
                                 on_disk_full=on_disk_full)
            try:
                if fresh and writer.dir.exists():
                    shutil.rmtree(writer.dir)
                writer.dir.mkdir(exist_ok=True)
                started = time.time()
                yield writer
                writer.seconds = round(time.time() - started, 2)
                self._group.append(writer)
                if outer:
                    publish.commit(self, self._group)
            except BaseException as exc:
                group = {id(w): w for w in [writer, *(self._group if outer else [])]}
                kept = [note for w in group.values() if (note := w.discard(exc))]
                if self._write_error(exc):
                    said = [write_failure(exc, writer.dir), "the run's earlier outputs are "
                            "unchanged", *kept]
                    raise PipelineError("; ".join(said)) from None
                raise
            finally:
                if outer:
                    self._group = None

    def _inputs(self, stage: str) -> dict:
        stages = self.manifest().get("stages", {})
        return {up: stages[up]["id"] for up in UPSTREAM.get(stage, ())
                if "id" in stages.get(up, {})}

    def _write_error(self, exc: BaseException) -> bool:
        """A full disk, or an OSError on a file of this run (not, say, an unreadable image)."""
        if isinstance(exc, PipelineError):  # already one line (a nested stage said it)
            return False
        if disk_full(exc):
            return True
        if not isinstance(exc, OSError):
            return False
        name = exc.filename  # None: a write() on an open file, which is ours
        return name is None or Path(os.path.abspath(name)).is_relative_to(self.root.absolute())


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def writing_if_inside(run: Path, out: Path):
    """A view written into the run (its report, its phone page) is a write of the run: under
    its lock, taken first so that a busy run is refused at once, naming the holder. A view
    written elsewhere needs no lock."""
    from contextlib import nullcontext

    run, out = Path(run), Path(out)
    inside = out.absolute().resolve().is_relative_to(run.absolute().resolve())
    return RunDir(run).writing() if inside and run.is_dir() else nullcontext()
