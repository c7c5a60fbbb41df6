"""Drive the measuring subprocesses: one per variant and thread count, timed in rounds.

Every worker is started (and loads its model) before any timing, one at a time, so the load and
first-inference figures do not overlap. Then each round asks every worker in turn for a slice of
the timed runs; a slow spell of the shared machine therefore lands on all variants alike, and
the spread of the per-round medians says how noisy the run was. Idle workers wait on a pipe and
use no CPU.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

import numpy as np

from pipeline.core.errors import PipelineError


@dataclass
class Job:
    variant: str  # a results.json key, or "peak_float32" / "peak_int8"
    threads: int
    spec: dict  # what bench_worker needs: kind, models or run, pixels, normalization
    ready: dict = field(default_factory=dict)
    times: list[list[float]] = field(default_factory=list)  # one list per round
    peak_rss_mb: float = 0.0


class Worker:
    def __init__(self, job: Job):
        self.job = job
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
        spec = dict(job.spec, threads=job.threads)
        # stderr to a file, not a pipe: TF's start-up chatter could fill a pipe and block it.
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline.bench.worker", json.dumps(spec)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, text=True,
            env=env)

    def _reply(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            self.stderr.seek(0)
            tail = [t for t in self.stderr.read().splitlines() if t.strip()][-1:]
            raise PipelineError(f"benchmark worker for {self.job.variant} ({self.job.threads} "
                                f"thread(s)) died: {tail[0] if tail else 'no message'}")
        reply = json.loads(line)
        if "error" in reply:
            raise PipelineError(f"{self.job.variant}: {reply['error']}")
        return reply

    def wait_ready(self) -> None:
        self.job.ready = self._reply()["ready"]

    def measure(self, warmup: int, runs: int) -> None:
        self.proc.stdin.write(json.dumps({"warmup": warmup, "runs": runs}) + "\n")
        self.proc.stdin.flush()
        reply = self._reply()
        self.job.times.append(reply["times_ms"])
        self.job.peak_rss_mb = max(self.job.peak_rss_mb, reply["peak_rss_mb"])

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.proc.stdin.write(json.dumps({"quit": True}) + "\n")
                self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()  # our own child, by handle
            self.proc.wait()
        self.stderr.close()


def measure_all(jobs: list[Job], runs: int, warmup: int, rounds: int, say=print) -> None:
    """Fill each job's `ready`, `times` and `peak_rss_mb`. Round r times runs/rounds runs per
    job after a warm-up (full in round 0; a few later, to refill caches the others evicted);
    odd rounds go in reverse order so no variant always follows the same neighbour."""
    per_round = max(1, -(-runs // rounds))
    rewarm = max(1, warmup // 4) if warmup else 0
    workers: list[Worker] = []
    try:
        for job in jobs:
            say(f"  loading {job.variant} ({job.threads} thread(s))")
            workers.append(Worker(job))
            workers[-1].wait_ready()
        for r in range(rounds):
            say(f"  round {r + 1}/{rounds}: {per_round} timed runs per variant")
            for worker in (workers if r % 2 == 0 else workers[::-1]):
                worker.measure(warmup if r == 0 else rewarm, per_round)
    finally:
        for worker in workers:
            worker.close()


def latency_stats(job: Job) -> dict:
    """p50/p90/p99/mean over all timed runs; per-round medians and their spread (noise)."""
    times = np.concatenate([np.asarray(t) for t in job.times])
    medians = [float(np.median(t)) for t in job.times]
    p50 = float(np.percentile(times, 50))
    return {"p50": p50, "p90": float(np.percentile(times, 90)),
            "p99": float(np.percentile(times, 99)), "mean": float(times.mean()),
            "min": float(times.min()), "n": int(times.size),
            "throughput_per_s": 1000.0 / float(times.mean()),
            "round_medians": medians,
            "round_spread_pct": 100.0 * (max(medians) - min(medians)) / p50}
