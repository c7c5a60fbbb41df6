"""`pipeline train --distribute`: TensorFlow's own strategies, set up so that mistakes and
lost machines end in one line instead of a hang.

- none: the default strategy (one device).
- mirrored: MirroredStrategy over this machine's devices (GPUs, else the CPU).
- multi-worker: MultiWorkerMirroredStrategy over the cluster in TF_CONFIG (training/cluster.py
  checks it first). Every worker runs the same command; the chief alone writes the run.

Three guards, because a collective waits for every worker:
- start-up: until every worker has joined, TensorFlow blocks inside C++ (holding the GIL and
  ignoring SIGTERM), so a small watchdog process prints one line and ends this process when
  the cluster has not formed within --cluster-timeout seconds;
- settings: every worker publishes its resolved settings through TensorFlow's coordination
  service and compares them with the others' before any data is read (different command
  lines would deadlock or silently train different things);
- the end: workers leave together (a barrier after the chief has published the run), so no
  worker goes while another still receives from it; a worker that dies or stops answering
  mid-run is detected by the coordination service's heartbeats and ends the others' steps
  with an error (`lost_worker`).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass

from pipeline.training.cluster import Cluster
from pipeline.core.errors import PipelineError
from pipeline.core.tfcompat import tf

CLUSTER_TIMEOUT = 600  # seconds for every worker to join (pods may start minutes apart)
FINISH_TIMEOUT_MS = 24 * 3600 * 1000  # non-chief workers wait this long for the chief's end
RESULT_KEY = "pipeline/train/result"


@dataclass
class Distribution:
    kind: str
    strategy: object
    cluster: Cluster | None = None

    @property
    def replicas(self) -> int:
        return self.strategy.num_replicas_in_sync

    @property
    def workers(self) -> int:
        return self.cluster.num_workers if self.cluster else 1

    @property
    def is_chief(self) -> bool:
        return self.cluster is None or self.cluster.is_chief

    @property
    def distributed(self) -> bool:
        return self.kind != "none"

    def describe(self) -> str:
        return self.cluster.describe() if self.cluster else "this process"

    def compare_settings(self, settings: dict) -> None:
        """Every worker's settings must equal every other's (one line naming the first
        difference, on every worker)."""
        if not self.cluster:
            return
        context = _context()
        context.set_config_key_value(f"pipeline/settings/{self.cluster.worker_id}",
                                     json.dumps(settings, sort_keys=True))
        context.wait_at_barrier("pipeline/settings", CLUSTER_TIMEOUT * 1000)
        for other in range(self.workers):
            theirs = json.loads(context.get_config_key_value(f"pipeline/settings/{other}"))
            changed = [f"{k} {v!r} (worker {other}: {theirs.get(k)!r})"
                       for k, v in settings.items() if theirs.get(k) != v]
            if changed:
                raise PipelineError(f"{self.describe()}: every worker must run the same command "
                                    f"line; this one differs: {'; '.join(changed)}")

    def leave(self, failure: str | None = None) -> None:
        """Multi-worker: the chief says how the run ended, then everyone leaves together;
        a non-chief worker turns the chief's failure into its own (non-zero exit)."""
        if not self.cluster or self.workers == 1:
            return
        context = _context()
        try:
            if self.is_chief:
                context.set_config_key_value(RESULT_KEY, failure or "ok")
            context.wait_at_barrier("pipeline/finished", FINISH_TIMEOUT_MS)
            result = context.get_config_key_value(RESULT_KEY)
        except tf().errors.OpError:
            return  # a peer is gone: the run's own error (if any) says what happened
        if failure is None and result != "ok":
            raise PipelineError(f"{self.describe()}: the chief failed: {result}")


def _context():
    from tensorflow.python.eager import context  # the coordination service's key-value store

    return context.context()


def start(kind: str, cluster: Cluster | None, timeout: float = CLUSTER_TIMEOUT) -> Distribution:
    t = tf()
    if kind == "none":
        return Distribution(kind, t.distribute.get_strategy())
    if kind == "mirrored":
        return Distribution(kind, t.distribute.MirroredStrategy())
    assert cluster is not None, "multi-worker needs the checked TF_CONFIG"
    message = (f"error: {cluster.describe()}: the cluster did not form within {timeout:g} s "
               f"(every worker in TF_CONFIG must start the same command; unreachable: "
               f"check addresses, ports and firewalls; --cluster-timeout to wait longer)")
    with watchdog(timeout, message):
        strategy = t.distribute.MultiWorkerMirroredStrategy()
        # The first collective (in a graph: eager collectives only add a warning): returns
        # once every worker has joined.
        t.function(lambda: strategy.reduce("SUM", strategy.run(lambda: t.constant(1.0)),
                                           axis=None))()
    return Distribution(kind, strategy, cluster)


@contextmanager
def watchdog(seconds: float, message: str):
    """Kill this process with `message` unless the block ends within `seconds`.

    A separate process, because the block may sit in C++ that a Python thread or signal
    handler cannot interrupt. It waits on a pipe: closed by us when the block is done, or
    by the kernel when we exit."""
    code = ("import os, select, signal, sys\n"
            "ready, _, _ = select.select([sys.stdin], [], [], float(sys.argv[1]))\n"
            "if not ready:\n"
            "    sys.stderr.write(sys.argv[2] + '\\n'); sys.stderr.flush()\n"
            "    os.kill(int(sys.argv[3]), signal.SIGKILL)\n")
    guard = subprocess.Popen([sys.executable, "-I", "-S", "-c", code, str(seconds), message,
                              str(os.getpid())], stdin=subprocess.PIPE)
    try:
        yield
    finally:
        guard.stdin.close()
        guard.wait()


class LostWorker(PipelineError):
    """Another worker died or stopped answering in the middle of the run."""


def lost_worker(exc, dist: Distribution) -> LostWorker | None:
    """A collective that failed because a peer died or stopped answering, as one line."""
    t = tf()
    if not dist.cluster or not isinstance(exc, (t.errors.UnavailableError,
                                                t.errors.DeadlineExceededError,
                                                t.errors.AbortedError, t.errors.CancelledError)):
        return None
    first = next((line.strip() for line in str(exc).splitlines()
                  if "aborted" in line.lower() or "unhealthy" in line.lower()),
                 str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    return LostWorker(f"{dist.describe()}: lost contact with another worker "
                      f"({first.rstrip(':')[:200]}); "
                         "restart every worker with --resume to continue from the last "
                         "complete checkpoint")
