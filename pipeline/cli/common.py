"""What every `pipeline` command shares: the project's errors as one line and an exit code."""
from __future__ import annotations

import functools

import typer

from pipeline.core.errors import PipelineError


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def friendly(func):
    """Turn the project's own errors into one line and a non-zero exit, not a traceback."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except PipelineError as exc:
            fail(str(exc))
        except KeyboardInterrupt as exc:  # says so when a publish completed first
            fail(str(exc) or "interrupted", 130)
        except OSError as exc:  # a full disk, a read-only folder: one line, not a traceback
            fail(os_error(exc))
    return wrapper


def os_error(exc: OSError) -> str:
    from pipeline.core.errors import disk_full, write_failure

    if disk_full(exc):
        return write_failure(exc, "a file")
    return f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc)
