"""The measuring subprocess of `pipeline benchmark`: one variant at one thread count.

Run as `python -m pipeline.bench.worker JOB_JSON`. A fresh process per variant and thread count
gives each its own memory figures: VmHWM (the kernel's high-water mark of this process alone;
ru_maxrss would include what a forked child inherits) and the RSS that loading adds.
A TFLite job imports only numpy and ai_edge_litert: importing TensorFlow (~500 MB) or the
pipeline's metadata readers (~20 MB of flatbuffer schemas) would hide what the phone-side
runtime costs.

Protocol, one JSON object a line: the worker prints {"ready": ...} after loading and the first
inference, then answers each {"warmup": W, "runs": N} on stdin with {"times_ms": [...]} and
stops on {"quit": true} or end of input. The parent alternates rounds between workers, so the
other workers sit blocked on stdin while one measures.
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np


def proc_status_mb(*keys: str) -> dict[str, float]:
    """VmRSS / VmHWM of this process, in MB, from /proc/self/status (Linux)."""
    found = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in keys:
                found[name] = int(value.split()[0]) / 1024.0  # reported in kB
    return found


def _rss() -> float:
    return proc_status_mb("VmRSS")["VmRSS"]


class TFLiteRunner:
    """One or more .tflite files run one after the other on the same image (the pair case).
    The parent prepared each model's input (normalized, quantized, as the app does per frame):
    this process holds LiteRT and the models, nothing of the pipeline's metadata readers."""

    @staticmethod
    def setup(job: dict) -> None:
        from ai_edge_litert import interpreter  # noqa: F401 -- imported apart from the load

    def __init__(self, job: dict, pixels: np.ndarray):
        from ai_edge_litert.interpreter import Interpreter

        self.calls = []
        for model in job["models"]:
            interpreter = Interpreter(model_path=model["path"], num_threads=job["threads"])
            # The signature runner itself: no dequantizing, not the model's time.
            runner = interpreter.get_signature_runner(model["signature"])
            self.calls.append((runner, {model["input"]: np.load(model["feed"])}))

    def __call__(self) -> None:
        for runner, feed in self.calls:
            runner(**feed)


class KerasRunner:
    """The trained Keras model inside a tf.function, batch 1, at a fixed thread count."""

    @staticmethod
    def setup(job: dict) -> None:
        from pipeline.core.tfcompat import tf

        # Must happen before TF creates its thread pools, hence a fresh process per count.
        tf().config.threading.set_intra_op_parallelism_threads(job["threads"])
        tf().config.threading.set_inter_op_parallelism_threads(job["threads"])
        import pipeline.training.train  # noqa: F401

    def __init__(self, job: dict, pixels: np.ndarray):
        from pipeline.core.tfcompat import tf
        from pipeline.data.images import normalize
        from pipeline.rundir.trained import TrainedRun

        tf_ = tf()
        model = TrainedRun.open(job["run"]).load_keras()
        norm = job["normalization"]
        x = normalize(pixels, norm)
        self.x = tf_.constant(x[None])
        self.fn = tf_.function(lambda image: model(image, training=False))

    def __call__(self) -> None:
        out = self.fn(self.x)
        for value in out.values():
            value.numpy()  # wait for the result, as an app would


def _timed(call) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000.0


def load(job: dict) -> tuple[object, dict]:
    """Import the runtime, then load the model: timed and measured apart, so init_ms and
    rss_added_mb are the model's own (TF's import alone is seconds and ~500 MB). The first
    inference is timed apart too (tensor allocation, XNNPACK weight packing, TF tracing)."""
    kind = KerasRunner if job["kind"] == "keras" else TFLiteRunner
    pixels = np.load(job["pixels"])
    start = time.perf_counter()
    kind.setup(job)
    import_ms = (time.perf_counter() - start) * 1000.0
    before = _rss()
    start = time.perf_counter()
    runner = kind(job, pixels)
    init_ms = (time.perf_counter() - start) * 1000.0
    first_ms = _timed(runner)
    ready = {"import_ms": import_ms, "init_ms": init_ms, "first_ms": first_ms,
             "rss_before_load_mb": before, "rss_added_mb": _rss() - before}
    return runner, ready


def serve(job: dict, stdin=sys.stdin, stdout=sys.stdout) -> None:
    try:
        runner, ready = load(job)
    except Exception as exc:  # reported to the parent as one line, which names the variant
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}".splitlines()[0]}),
              file=stdout, flush=True)
        return
    print(json.dumps({"ready": ready}), file=stdout, flush=True)
    for line in stdin:
        order = json.loads(line)
        if order.get("quit"):
            break
        for _ in range(order.get("warmup", 0)):
            runner()
        times = [_timed(runner) for _ in range(order["runs"])]
        peak = proc_status_mb("VmHWM")["VmHWM"]
        print(json.dumps({"times_ms": times, "peak_rss_mb": peak}), file=stdout, flush=True)


if __name__ == "__main__":
    serve(json.loads(sys.argv[1]))
