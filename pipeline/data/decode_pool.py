"""Decode many images in parallel, hand them back in order, hold only a few at a time.

`predict`, `evaluate`, `data check`, `data pack` and the in-memory training arrays all read
their images through `decode_ordered`: threads decode ahead of the consumer (Pillow releases
the GIL while it decodes and resizes, so threads use every core with no copies between
processes), the consumer (the model, a shard writer) takes results in input order, and at
most `ahead` results wait decoded: memory does not grow with the number of files.

A failure the caller expects (`expected`: images.ImageError, usually) comes back in place of the result, in
order, so one bad file costs one line and the others are still answered; anything else is a
bug and is raised.
"""
from __future__ import annotations

import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """Decoding threads by default: the cores this process may use, at most 8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(8, cores))


def _call(load: Callable[[T], R], item: T, expected: tuple) -> R | Exception:
    try:
        return load(item)
    except expected as exc:
        return exc


def decode_ordered(items: Iterable[T], load: Callable[[T], R], expected: tuple,
                   workers: int | None = None, ahead: int | None = None
                   ) -> Iterator[tuple[T, R | Exception]]:
    """(item, load(item) or the expected exception it raised), in the order of `items`.

    `items` is read lazily (a generator over a huge folder is fine); at most `ahead` (default
    2 x workers) items are being decoded or wait decoded at any time. Leaving the loop early
    (break, an exception in the consumer) cancels what was not started and waits for the
    few that were."""
    workers = max(1, workers or default_workers())
    ahead = max(workers, ahead or 2 * workers)
    pending: deque[tuple[T, Future]] = deque()
    pool = ThreadPoolExecutor(workers, thread_name_prefix="decode")
    try:
        for item in items:
            pending.append((item, pool.submit(_call, load, item, expected)))
            if len(pending) >= ahead:
                done, job = pending.popleft()
                yield done, job.result()
        while pending:
            done, job = pending.popleft()
            yield done, job.result()
    finally:
        for _, job in pending:
            job.cancel()
        pool.shutdown(wait=True)
