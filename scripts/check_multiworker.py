"""Is distributed training the same training? The trainer's real step (multitask.MultiTask),
fed the same global batches, on one device and on several replicas, step by step.

The model is made deterministic (no BatchNorm, no dropout, no augmentation: BatchNorm
statistics are per replica and dropout masks per device, which no split of the batch can
reproduce), and the colour labels are missing (-1) far more often in the first half of each
global batch than in the second, so a replica-local masked mean would give another loss and
other gradients than the global one. Printed: each step's loss on one device and on the
replicas, the largest differences of losses and weights, and (workers) whether every
worker's weights are byte-identical.

    python scripts/check_multiworker.py            # two worker processes on 127.0.0.1 + one
    python scripts/check_multiworker.py --mirrored # one process, two logical CPU devices
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from pipeline.training.cluster import localhost_addresses

SIZE = 32
# Float32 sums in another order, nothing else: losses to 1e-5 (relative); weights to 1e-3
# (absolute: Adam divides by the root of tiny second moments, which magnifies rounding; the
# largest weight difference was up to 1e-4 on AVX-512 CPUs and 1.17e-4 on an AVX2-only AMD
# EPYC, whose kernels sum in another order; a replica-local masked mean instead moves losses
# by ~100% and weights by ~2e-2, 20x this bound).
LOSS_TOLERANCE, WEIGHT_TOLERANCE = 1e-5, 1e-3
CASES = [("joint", "fixed"), ("joint", "uncertainty"), ("alternating", "fixed")]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch", type=int, default=4, help="per replica (2 replicas)")
    parser.add_argument("--mirrored", action="store_true",
                        help="two logical CPU devices in one process instead of two workers")
    parser.add_argument("--role", default="main", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    return parser.parse_args()


def global_batches(steps: int, batch: int):
    """Seeded images and labels, [steps, 2 * batch, ...]; colour mostly unlabelled in the
    first replica's half."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(steps, 2 * batch, SIZE, SIZE, 3)).astype(np.float32)
    kind = rng.integers(0, 2, (steps, 2 * batch)).astype(np.int32)
    colour = rng.integers(0, 3, (steps, 2 * batch)).astype(np.int32)
    colour[:, :batch][rng.random((steps, batch)) < 0.75] = -1
    colour[:, batch:][rng.random((steps, batch)) < 0.1] = -1
    return x, kind, colour


def run_case(strategy, feed, steps: int, mode: str, weighting: str):
    """Per-step training losses and final weights of one fit."""
    from pipeline.core.config import ModelConfig
    from pipeline.heads.schema import FLOWER_HEADS
    from pipeline.core.tfcompat import keras
    from pipeline.training.model import build_model
    from pipeline.training.multitask import MultiTask
    from pipeline.training.optimizer import build_optimizer

    keras().utils.set_random_seed(0)
    with strategy.scope():
        net = build_model(ModelConfig(image_size=SIZE, batchnorm=False, dropout=0.0),
                          FLOWER_HEADS)
        trainer = MultiTask(net, FLOWER_HEADS, mode=mode, weighting=weighting)
        trainer.prepare(build_optimizer(3e-3, steps))
    # One step per "epoch": Keras resets the loss tracker, so each entry is one step's loss.
    history = trainer.fit(feed, epochs=steps, steps_per_epoch=1, verbose=0)
    return history.history["loss"], net.get_weights()


def feeds(strategy, steps: int, batch: int, replicas: int, pipeline: int = 0,
          pipelines: int = 1):
    """One device: the global batches. Replicas: each pipeline yields its replicas' slices
    of every global batch, in replica order (what distribute_datasets_from_function feeds)."""
    from pipeline.core.tfcompat import tf

    t = tf()
    x, kind, colour = global_batches(steps, batch)
    if replicas == 1:
        return t.data.Dataset.from_tensor_slices(
            (x, {"flower_type": kind, "flower_color": colour}))
    local = replicas // pipelines

    def rows(a):  # [steps, 2b, ...] -> this pipeline's per-replica batches, in order
        parts = [a[:, (pipeline * local + r) * batch:(pipeline * local + r + 1) * batch]
                 for r in range(local)]
        return np.stack(parts, axis=1).reshape(steps * local, batch, *a.shape[2:])

    def make(context):
        return t.data.Dataset.from_tensor_slices(
            (rows(x), {"flower_type": rows(kind), "flower_color": rows(colour)}))

    return strategy.distribute_datasets_from_function(make)


def compare(single: dict, distributed: dict) -> dict:
    losses = max(abs(a - b) / max(abs(a), 1e-6)
                 for a, b in zip(single["losses"], distributed["losses"]))
    weights = max(float(np.max(np.abs(a - b))) for a, b in zip(single["weights"],
                                                               distributed["weights"]))
    return {"max_rel_loss_diff": losses, "max_abs_weight_diff": weights}


def mirrored_check(steps: int, batch: int) -> dict:
    from pipeline.core.tfcompat import tf

    t = tf()
    cpu = t.config.list_physical_devices("CPU")[0]
    t.config.set_logical_device_configuration(cpu, [t.config.LogicalDeviceConfiguration()] * 2)
    mirrored = t.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    report = {}
    for mode, weighting in CASES:
        one = dict(zip(("losses", "weights"), run_case(
            t.distribute.get_strategy(), feeds(None, steps, batch, 1), steps, mode, weighting)))
        two = dict(zip(("losses", "weights"), run_case(
            mirrored, feeds(mirrored, steps, batch, 2), steps, mode, weighting)))
        report[f"{mode}/{weighting}"] = {"single": one["losses"], "replicas": two["losses"],
                                         **compare(one, two)}
    return report


def worker_role(args) -> None:
    """One process of the two-worker run, or the one-device run (TF_CONFIG unset)."""
    from pipeline.core.tfcompat import tf

    t = tf()
    results = {}
    if os.environ.get("TF_CONFIG"):
        strategy = t.distribute.MultiWorkerMirroredStrategy()
        index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    else:
        strategy, index = t.distribute.get_strategy(), None
    for mode, weighting in CASES:
        replicas = strategy.num_replicas_in_sync
        feed = feeds(strategy, args.steps, args.batch, replicas, index or 0, max(replicas, 1))
        losses, weights = run_case(strategy, feed, args.steps, mode, weighting)
        results[f"{mode}/{weighting}"] = losses
        np.savez(f"{args.out}.{mode}.{weighting}.npz", *weights)
    Path(f"{args.out}.json").write_text(json.dumps(results))


def two_workers(args) -> dict:
    """Two worker processes and one single-device process of this script; their results."""
    tmp = Path(tempfile.mkdtemp(prefix="check-multiworker-"))
    cluster = {"worker": localhost_addresses(2)}
    base = [sys.executable, __file__, "--role", "worker", "--steps", str(args.steps),
            "--batch", str(args.batch)]
    procs = []
    for name, config in (("w0", 0), ("w1", 1), ("single", None)):
        env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
        if config is not None:
            env["TF_CONFIG"] = json.dumps({"cluster": cluster,
                                           "task": {"type": "worker", "index": config}})
        # The same global batches: one device takes each whole, each worker its half.
        procs.append(subprocess.Popen(base + ["--out", str(tmp / name)], env=env))
    if any(p.wait(timeout=600) for p in procs):
        raise SystemExit("a process failed")
    report = {}
    for mode, weighting in CASES:
        key = f"{mode}/{weighting}"
        runs = {}
        for name in ("w0", "w1", "single"):
            weights = np.load(tmp / f"{name}.{mode}.{weighting}.npz")
            runs[name] = {"losses": json.loads((tmp / f"{name}.json").read_text())[key],
                          "weights": [weights[f"arr_{i}"] for i in range(len(weights.files))]}
        same = max(float(np.max(np.abs(a - b))) for a, b in zip(runs["w0"]["weights"],
                                                                runs["w1"]["weights"]))
        report[key] = {"single": runs["single"]["losses"], "replicas": runs["w0"]["losses"],
                       "worker_losses_equal": runs["w0"]["losses"] == runs["w1"]["losses"],
                       "chief_vs_worker_max_abs_weight_diff": same,
                       **compare(runs["single"], runs["w0"])}
    return report


def main() -> None:
    args = parse_args()
    if args.role == "worker":
        worker_role(args)
        return
    report = mirrored_check(args.steps, args.batch) if args.mirrored else two_workers(args)
    print(json.dumps(report, indent=1))
    ok = all(r["max_rel_loss_diff"] < LOSS_TOLERANCE
             and r["max_abs_weight_diff"] < WEIGHT_TOLERANCE
             and r.get("chief_vs_worker_max_abs_weight_diff", 0.0) == 0.0
             for r in report.values())
    print(f"{'OK' if ok else 'FAILED'}: losses within {LOSS_TOLERANCE} (relative), weights "
          f"within {WEIGHT_TOLERANCE} (absolute) of one device; workers identical")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
