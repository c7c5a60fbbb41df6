"""One writer at a time per run directory: an `fcntl.flock` on `RUN/.lock`.

Every command that writes a run holds the lock for its whole length; readers never take it
(they read through the manifest, which only ever switches atomically). The holder writes its
pid, command and start time into the lock file so a second writer can say who is in the way.
The kernel drops a flock when its holder's file is closed, so a holder that dies, even by
SIGKILL, leaves no stale lock behind: the file's content then means nothing, the lock does.
The lock is re-entrant within one process (a command that runs nested stages takes it once).
"""
from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from pipeline.core.errors import PipelineError

LOCK_FILE = ".lock"
_HELD: dict[str, list] = {}  # real path of the run -> [fd, depth]


class RunBusy(PipelineError):
    """Another process holds the run's lock."""


def command_line() -> str:
    """What this process was started as, for the holder line: `pipeline train --run ...`."""
    argv = list(sys.argv)
    if argv and (argv[0].endswith(("pipeline", "cli/__main__.py")) or argv[0] == "-m"):
        argv[0] = "pipeline"
    return " ".join(argv) or "python"


def held(root: Path) -> bool:
    return str(Path(root).resolve()) in _HELD


@contextmanager
def run_lock(root: Path, command: str | None = None):
    """Hold the run's lock (re-entrant in this process); RunBusy if another process has it."""
    key = str(Path(root).resolve())
    if key in _HELD:
        _HELD[key][1] += 1
        try:
            yield
        finally:
            _HELD[key][1] -= 1
        return
    fd = _acquire(Path(root), command or command_line())
    _HELD[key] = [fd, 1]
    try:
        yield
    finally:
        del _HELD[key]
        _release(fd)


def _acquire(root: Path, command: str) -> int:
    fd = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise RunBusy(f"{root} is being written by another command: {holder}; wait for it to "
                      "finish (one writer per run directory)") from None
    except BaseException:
        os.close(fd)
        raise
    record = json.dumps({"pid": os.getpid(), "command": command,
                         "since": time.strftime("%Y-%m-%d %H:%M:%S")}) + "\n"
    os.ftruncate(fd, 0)
    os.pwrite(fd, record.encode("utf-8"), 0)
    return fd


def _release(fd: int) -> None:
    try:
        os.ftruncate(fd, 0)  # the record only means something while the lock is held
    finally:
        os.close(fd)  # releases the flock


def _holder(fd: int) -> str:
    """`pid 123 (pipeline train ...), since ...` from the lock file. The holder writes it just
    after locking, so an empty file is retried briefly; this only shapes the message."""
    for _ in range(50):
        raw = os.pread(fd, 4096, 0)
        try:
            record = json.loads(raw.decode("utf-8"))
            return f"pid {record['pid']} ({record['command']}), since {record['since']}"
        except (ValueError, KeyError, TypeError):
            time.sleep(0.01)
    return "pid unknown (the lock file names no holder)"
