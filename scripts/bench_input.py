"""Input-pipeline benchmark: is training ever waiting for data?

Trains the real model for the same number of steps twice: fed by the real tf.data pipeline
(in-memory decoded images, shuffle, augmentation, normalization, prefetch) and fed by the
same batches computed beforehand and held in memory. Prints images/s of each and their ratio;
the pipeline is good enough when the ratio is >= 0.9. Rounds alternate so that a shared
machine's load hits both the same way; the best round of each is reported.

    .venv/bin/python scripts/bench_input.py --data data/synth --image-size 128 --steps 20
"""
from __future__ import annotations

import argparse
import time

from pipeline.data.datasets import dataset_from_arrays, load_arrays
from pipeline.core.heads import FLOWER_HEADS
from pipeline.core.labels import load_label_file
from pipeline.training.model import ModelConfig, build_model
from pipeline.training.multitask import MultiTask, build_optimizer
from pipeline.core.tfcompat import tf


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder with train.txt")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--arch", default="squeezenet1.1")
    return parser.parse_args()


def timed_fit(trainer, dataset, steps: int) -> float:
    start = time.perf_counter()
    trainer.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    return time.perf_counter() - start


def main() -> None:
    args = parse_args()
    t = tf()
    config = ModelConfig(arch=args.arch, image_size=args.image_size)
    samples = load_label_file(f"{args.data}/train.txt")
    images, labels = load_arrays(samples, config.image_size, FLOWER_HEADS)
    pipeline = dataset_from_arrays(images, labels, config, FLOWER_HEADS, args.batch_size,
                                   training=True).repeat()
    # The same kind of batches, augmented once, then served from memory with no work at all.
    held = list(pipeline.take(args.steps))
    memory = t.data.Dataset.from_tensor_slices(
        (t.stack([x for x, _ in held]),
         {name: t.stack([y[name] for _, y in held]) for name in FLOWER_HEADS.names})
    ).repeat().prefetch(2)
    trainer = MultiTask(build_model(config, FLOWER_HEADS), FLOWER_HEADS)
    trainer.prepare(build_optimizer(1e-3, 10_000))
    timed_fit(trainer, pipeline, 3)  # trace the step and warm up both paths
    timed_fit(trainer, memory, 3)
    rates = {"tf.data pipeline": [], "batches in memory": []}
    for _ in range(args.rounds):
        for name, dataset in (("tf.data pipeline", pipeline), ("batches in memory", memory)):
            seconds = timed_fit(trainer, dataset, args.steps)
            rates[name].append(args.steps * args.batch_size / seconds)
    start = time.perf_counter()  # the pipeline alone, no training: how much headroom it has
    for _ in pipeline.take(args.steps):
        pass
    alone = args.steps * args.batch_size / (time.perf_counter() - start)
    best = {name: max(values) for name, values in rates.items()}
    print(f"{len(images)} training images, {args.image_size} px, batch {args.batch_size}, "
          f"{args.steps} steps x {args.rounds} rounds, {args.arch}")
    for name, values in rates.items():
        print(f"  {name:<18} {best[name]:7.1f} images/s  (rounds: "
              f"{', '.join(f'{v:.1f}' for v in values)})")
    print(f"  {'pipeline alone':<18} {alone:7.1f} images/s  (no training step)")
    ratio = best["tf.data pipeline"] / best["batches in memory"]
    print(f"  ratio pipeline / memory = {ratio:.3f}  ({'OK' if ratio >= 0.9 else 'BELOW'} 0.9)")


if __name__ == "__main__":
    main()
