"""Publishing stages atomically, and recovering what an interrupted publish left.

    1. rename each `.<stage>.partial/` to a new `.<stage>.v<N>/`   (no reader looks there yet)
    2. replace manifest.json (os.replace)                          <- the switch, one instant
    3. re-point each `<stage>` symlink (a new link renamed over it), copy labels.json to the root
    4. delete version folders that are neither current nor retired by this publish

Before 2 nothing a reader sees has changed: any failure moves the folders back to `.partial`
and the old run stands. After 2 the new run is the run: steps 3-4 only keep the convenience
names tidy, are finished even after a Ctrl-C (which is then reported as coming after the
publish), and are redone by the next writer after a SIGKILL (`recover`). A Ctrl-C that arrives
during steps 1-4 is held until they are done, so a real interrupt always finds the run switched
and says so. The folders a publish replaces or drops stay until the next publish ("retired"),
so a reader that resolved the old manifest a moment earlier still finds the files it named.
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from pipeline.core.errors import PipelineError
from pipeline.core.io import read_json, sha256, write_json
from pipeline.rundir.manifest import DOWNSTREAM, STAGES, VERSION_DIR, package_versions

# `rd` below is a runs.RunDir and a writer a runs.StageWriter; this module does not import
# runs (runs imports it), so that the two never form an import cycle.


class PublishedInterrupt(KeyboardInterrupt):
    """Ctrl-C came while publishing; the publish was completed first."""


def commit(rd, writers: list) -> None:
    writers = sorted(writers, key=lambda w: STAGES.index(w.name) if w.name in STAGES else 99)
    outputs = {w.name: hash_outputs(w.dir, w.name) for w in writers}  # slow part, before
    names = ", ".join(w.name for w in writers)
    with held_interrupts() as interrupted:
        manifest = rd.live_manifest()  # as it is now, under the lock
        check_inputs(rd, manifest, writers)
        moved: list[tuple] = []  # (writer, its version folder)
        try:
            for writer in writers:
                target = rd.root / f".{writer.name}.v{next_version(rd.root, writer.name, manifest)}"
                os.replace(writer.dir, target)
                moved.append((writer, target))
            new = next_manifest(rd, manifest, moved, outputs)
            write_json(rd.manifest_path, new)  # the switch
        except BaseException:
            for writer, target in reversed(moved):  # nothing switched: back to .partial
                try:
                    os.replace(target, writer.dir)
                except OSError:
                    pass  # left as an unreferenced version folder: the next writer deletes it
            raise
        tidy_after_commit(rd, new, names)
    if interrupted:
        raise PublishedInterrupt(f"interrupted after publishing {names} (complete and "
                                 "recorded in manifest.json)")


def hash_outputs(folder: Path, stage: str) -> dict:
    """{"<stage>/<file>": {sha256, bytes}} of what a reader may use (not resume state)."""
    outputs = {}
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if path.is_file() and not {"checkpoints", "tensorboard"} & set(parts):
            outputs["/".join((stage, *parts))] = {"sha256": sha256(path),
                                                  "bytes": path.stat().st_size}
    return outputs


def check_inputs(rd, manifest: dict, writers: list) -> None:
    """Refuse to publish what was made from a stage that has changed since it was read (only
    possible if another writer got past the lock, but then this is what keeps the run honest)."""
    stages = manifest.get("stages", {})
    for writer in writers:
        for upstream, read in writer.inputs.items():
            if (stages.get(upstream) or {}).get("id") != read:
                raise PipelineError(f"{rd.root}: '{upstream}' changed while this command made "
                                    f"'{writer.name}'; not published, run it again")


def next_version(root: Path, stage: str, manifest: dict) -> int:
    """Never a number used before in this run ("serial" counts them), so a stale snapshot can
    never name a folder that has since been re-made with other content."""
    used = [int(m["n"]) for m in map(VERSION_DIR.fullmatch, _names(root, manifest))
            if m and m["stage"] == stage]
    number = max(used + [int(manifest.get("serial", 0))]) + 1
    manifest["serial"] = number
    return number


def _names(root: Path, manifest: dict) -> list[str]:
    recorded = [e.get("dir") or "" for e in manifest.get("stages", {}).values()]
    return [p.name for p in root.iterdir()] + recorded + list(manifest.get("retired", []))


def next_manifest(rd, manifest: dict, moved, outputs: dict) -> dict:
    new = {**manifest, "stages": dict(manifest.get("stages", {})), "versions": package_versions()}
    published = {writer.name for writer, _ in moved}
    retired, dropped = [], {k: v for k, v in manifest.get("dropped", {}).items()
                            if k not in published}
    for writer, _ in moved:
        for stale in DOWNSTREAM.get(writer.name, ()):
            entry = None if stale in published else new["stages"].pop(stale, None)
            if entry is not None:
                retired.append(entry.get("dir"))
                dropped[stale] = writer.name  # so a reader can say why it is gone
                print(f"note: {rd.root}: '{stale}' was made from the previous '{writer.name}'; "
                      "run it again")
    for writer, target in moved:
        old = new["stages"].get(writer.name) or {}
        retired.append(old.get("dir"))
        new["stages"][writer.name] = {
            "dir": target.name, "id": secrets.token_hex(8), "from": writer.inputs,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "seconds": writer.seconds,
            "settings": writer.settings, "outputs": outputs[writer.name],
            "metrics": writer.metrics}
    new["retired"] = [r for r in retired if r]
    new["dropped"] = dropped
    return new


def tidy_after_commit(rd, manifest: dict, names: str) -> None:
    """Steps 3-4. The switch has happened: whatever stops them, they are finished (or left to
    the next writer) and the command reports the publish as done."""
    try:
        tidy(rd, manifest)
    except BaseException as exc:
        try:
            tidy(rd, manifest)
        except Exception as again:  # the run is right; only its convenience names lag
            print(f"warning: {rd.root}: {names} published, but tidying failed ({again}); "
                  "the next command that writes the run finishes it", file=sys.stderr)
        if isinstance(exc, KeyboardInterrupt):
            raise PublishedInterrupt(f"interrupted after publishing {names} (complete and "
                                     "recorded in manifest.json)") from None
        if not isinstance(exc, Exception):
            raise


def tidy(rd, manifest: dict) -> None:
    sync_links(rd, manifest)
    sync_labels(rd, manifest)
    collect(rd, manifest)


def sync_links(rd, manifest: dict) -> None:
    """`<stage>` -> its current version folder; no link for a stage the manifest lacks."""
    stages = manifest.get("stages", {})
    for stage in set(STAGES) | set(stages):
        link, folder = rd.root / stage, (stages.get(stage) or {}).get("dir")
        if folder and (rd.root / folder).is_dir():
            if not (link.is_symlink() and os.readlink(link) == folder):
                tmp = rd.root / f".{stage}.link"
                tmp.unlink(missing_ok=True)
                os.symlink(folder, tmp)
                os.replace(tmp, link)  # atomic for a link (a real folder there was moved away)
        elif link.is_symlink():
            link.unlink()


def sync_labels(rd, manifest: dict) -> None:
    """The root labels.json follows the current training's copy (readers use the latter)."""
    entry = manifest.get("stages", {}).get("train") or {}
    source = rd.root / entry.get("dir", "-") / "labels.json"
    target = rd.root / "labels.json"
    if entry.get("dir") and source.is_file() and (
            not target.is_file() or target.read_bytes() != source.read_bytes()):
        write_json(target, read_json(source))


def collect(rd, manifest: dict) -> None:
    """Delete version folders neither current nor retired by the latest publish."""
    keep = {e.get("dir") for e in manifest.get("stages", {}).values()} | set(
        manifest.get("retired", []))
    for path in rd.root.iterdir():
        if VERSION_DIR.fullmatch(path.name) and path.name not in keep and not path.is_symlink():
            shutil.rmtree(path)


# ---- the next writer: finish or clean up after a killed one ---------------------------------

def recover(rd) -> None:
    """Run by every writer once it holds the lock: temporary files, the partial folders of
    stages that cannot resume, unreferenced version folders and stale links of an interrupted
    writer go; a run from before versioned folders is moved into them."""
    manifest = rd.live_manifest()
    report = rd.root / "report"  # the page's own temporary files (atomic_write_text)
    for path in [*rd.root.iterdir(), *(report.iterdir() if report.is_dir() else [])]:
        if _leftover(path.name):
            _remove(path)
    if migrate(rd, manifest):
        write_json(rd.manifest_path, manifest)
    resumable_training(rd, manifest)
    tidy(rd, manifest)


def resumable_training(rd, manifest: dict) -> None:
    """A training killed between its rename and the manifest's switch left a finished
    `.train.v<N>/` that nothing names: hours of work, so it goes back to `.train.partial/`
    (unless another is there), where `pipeline train ... --resume` finishes and publishes it."""
    current = _number((manifest.get("stages", {}).get("train") or {}).get("dir"))
    newer = [p for p in rd.root.iterdir() if p.name.startswith(".train.v")
             and _number(p.name) > current and p.name not in manifest.get("retired", [])]
    newest = max(newer, key=lambda p: _number(p.name), default=None)
    partial = rd.partial("train")
    if newest and not partial.exists() and (newest / "checkpoints" / "state.json").is_file():
        os.replace(newest, partial)
        print(f"note: {rd.root}: a training that was stopped while publishing is back in "
              f"{partial.name}; `pipeline train ... --resume` publishes it", file=sys.stderr)


def _number(name: str | None) -> int:
    match = VERSION_DIR.fullmatch(name or "")
    return int(match["n"]) if match else 0


def _leftover(name: str) -> bool:
    if name.startswith(".") and name.endswith((".tmp", ".link", ".old")):
        return True  # atomic_write_text's temporaries, link switches, the old scheme's .old
    # Only training resumes from its partial folder (`--resume`); the rest start afresh.
    return name.endswith(".partial") and name.startswith(".") and name != ".train.partial"


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def migrate(rd, manifest: dict) -> bool:
    """Real `<stage>/` folders (older runs, or a copy that followed the links) become version
    folders; the manifest adopts one when it recorded that stage without a version folder."""
    changed = False
    stages = manifest.setdefault("stages", {})
    for stage in set(STAGES) | set(stages):
        path = rd.root / stage
        if not path.is_dir() or path.is_symlink():
            continue
        target = rd.root / f".{stage}.v{next_version(rd.root, stage, manifest)}"
        os.replace(path, target)
        changed = True  # at least the serial number moved on
        entry = stages.get(stage)
        if entry is not None and not entry.get("dir"):
            entry["dir"] = target.name
    return changed


@contextmanager
def held_interrupts():
    """Hold SIGINT for the length of the block; yields a list that is non-empty if one came."""
    hits: list[int] = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: hits.append(signum))
    except ValueError:  # not the main thread: nothing to hold
        yield hits
        return
    try:
        yield hits
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
