"""The one exception type the CLI turns into a one-line message and a non-zero exit."""
from __future__ import annotations

import errno


class PipelineError(Exception):
    """A problem the user can fix: bad input, a missing stage, a refused overwrite."""


# Libraries that write through their own C code (h5py, TensorFlow) report a full disk in the
# message only, without an errno; these are the C library's texts for ENOSPC and EDQUOT.
_FULL = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded"}


def disk_full(exc: BaseException) -> str | None:
    """'no space left on device' (or the quota text) when `exc` says the disk is full."""
    if isinstance(exc, OSError) and exc.errno in _FULL:
        return _FULL[exc.errno]
    text = str(exc).lower()
    return next((why for why in _FULL.values() if why in text), None)


def write_failure(exc: BaseException, where) -> str:
    """One line for a failed write: `no space left on device while writing PATH`."""
    path = getattr(exc, "filename", None) or where
    why = disk_full(exc) or (exc.strerror if isinstance(exc, OSError) and exc.strerror
                             else str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    return f"{why[0].lower()}{why[1:]} while writing {path}"
