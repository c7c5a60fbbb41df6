"""The cluster of a multi-worker run, from the standard TF_CONFIG variable, checked.

Every worker runs the same command line; only TF_CONFIG differs (its `task`). TensorFlow
reads the variable itself, but a mistake there surfaces deep inside it (or as a hang), so
it is checked here first, without TensorFlow, and reported as one line.

    TF_CONFIG='{"cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]},
                "task": {"type": "worker", "index": 0}}'

The chief (the only writer of the run directory) is the `chief` task when the cluster has
one, else worker 0, as in TensorFlow's own rule.
"""
from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass

from pipeline.core.errors import PipelineError

JOBS = ("chief", "worker")  # the jobs MultiWorkerMirroredStrategy trains with


@dataclass(frozen=True)
class Cluster:
    jobs: dict  # {"chief": [address], "worker": [address, ...]}
    task_type: str
    task_index: int

    @property
    def num_workers(self) -> int:
        return sum(len(addresses) for addresses in self.jobs.values())

    @property
    def worker_id(self) -> int:
        """0 .. num_workers-1; the chief is 0."""
        before = len(self.jobs.get("chief", [])) if self.task_type == "worker" else 0
        return before + self.task_index

    @property
    def is_chief(self) -> bool:
        return self.worker_id == 0

    @property
    def leader(self) -> str:
        """The task that hosts TensorFlow's coordination service (the chief)."""
        job = "chief" if self.jobs.get("chief") else "worker"
        return f"/job:{job}/replica:0/task:0"

    @property
    def address(self) -> str:
        return self.jobs[self.task_type][self.task_index]

    def describe(self) -> str:
        role = "chief" if self.is_chief else "worker"
        return f"{role} {self.worker_id} of {self.num_workers} ({self.address})"


def from_environment(env=None) -> Cluster:
    env = os.environ if env is None else env
    text = env.get("TF_CONFIG", "")
    if not text.strip():
        raise PipelineError("--distribute multi-worker needs TF_CONFIG, the cluster and this "
                            "worker's task, e.g. TF_CONFIG='{\"cluster\": {\"worker\": "
                            "[\"host1:2222\", \"host2:2222\"]}, \"task\": {\"type\": "
                            "\"worker\", \"index\": 0}}' (docs/scale-out.md, \"Several machines\")")
    return parse(text)


def parse(text: str) -> Cluster:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PipelineError(f"TF_CONFIG is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("cluster"), dict):
        raise PipelineError("TF_CONFIG: expected an object with \"cluster\" and \"task\"")
    jobs = _jobs(data["cluster"])
    task = data.get("task")
    if not isinstance(task, dict):
        raise PipelineError("TF_CONFIG: \"task\" must be an object such as "
                            "{\"type\": \"worker\", \"index\": 0}")
    kind, index = task.get("type"), task.get("index")
    if kind not in jobs:
        raise PipelineError(f"TF_CONFIG: task type {kind!r} is not a job of the cluster "
                            f"({', '.join(jobs)})")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(jobs[kind]):
        raise PipelineError(f"TF_CONFIG: task index {index!r} is out of range: the cluster "
                            f"has {len(jobs[kind])} {kind} task(s)")
    return Cluster(jobs, kind, index)


def _jobs(cluster: dict) -> dict:
    other = sorted(set(cluster) - set(JOBS))
    if other:
        raise PipelineError(f"TF_CONFIG: job {other[0]!r} is not used by MultiWorkerMirrored"
                            f"Strategy; the cluster may name only {' and '.join(JOBS)} tasks")
    jobs = {}
    for job in JOBS:
        addresses = cluster.get(job)
        if addresses is None:
            continue
        if not isinstance(addresses, list) or not addresses:
            raise PipelineError(f"TF_CONFIG: cluster.{job} must be a non-empty list of "
                                "\"host:port\" addresses")
        for address in addresses:
            _check_address(address, job)
        jobs[job] = addresses
    if not jobs:
        raise PipelineError("TF_CONFIG: the cluster has no worker")
    if len(jobs.get("chief", [])) > 1:
        raise PipelineError("TF_CONFIG: a cluster has at most one chief")
    every = [a for addresses in jobs.values() for a in addresses]
    if len(set(every)) != len(every):
        raise PipelineError("TF_CONFIG: two tasks have the same address")
    return jobs


def _check_address(address, job: str) -> None:
    host, sep, port = address.rpartition(":") if isinstance(address, str) else ("", "", "")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise PipelineError(f"TF_CONFIG: cluster.{job} address {address!r} is not "
                            "\"host:port\"")


def localhost_addresses(count: int) -> list[str]:
    """`count` free 127.0.0.1 ports as TF_CONFIG addresses: a cluster on one machine (tests,
    scripts/check_multiworker.py). Free when asked; another process may take one before
    TensorFlow binds it, which is rare enough for a test."""
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    addresses = [f"127.0.0.1:{s.getsockname()[1]}" for s in sockets]
    for s in sockets:
        s.close()
    return addresses
