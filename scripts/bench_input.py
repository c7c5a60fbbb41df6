"""Input-pipeline benchmark: is training ever waiting for data?

Trains the real model for the same number of steps, fed by each input path in turn:
- "in memory": the label files decoded into memory, shuffled, augmented, normalized,
  prefetched (data/datasets.py);
- "streamed": the same images from packed TFRecord shards (`pipeline data pack`), read with
  interleaved shards and a bounded shuffle buffer, then the same augmentation (data/stream.py),
  when --data is a packed split folder;
- "held batches": batches of the in-memory path computed beforehand and served from memory
  with no work at all (the ceiling).
Prints images/s of each and the ratios; a path is good enough when it reaches >= 0.9 of the
ceiling, and streaming should reach >= 0.9 of the in-memory path. Rounds alternate so that a
shared machine's load hits every path the same way; the best round of each is reported.

    .venv/bin/python scripts/bench_input.py --data data/packed --image-size 128 --steps 20
"""
from __future__ import annotations

import argparse
import time

from pipeline.data import packs
from pipeline.core.config import ModelConfig
from pipeline.heads.schema import schema_of
from pipeline.core.tfcompat import tf
from pipeline.data.datasets import Feed
from pipeline.data.sources import open_source
from pipeline.training.model import build_model
from pipeline.training.multitask import MultiTask
from pipeline.training.optimizer import build_optimizer


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True,
                        help="split folder with train.txt (packed: streaming is measured too)")
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


def pipelines(args, config) -> dict:
    t = tf()
    schema = schema_of(f"{args.data}/train.txt")
    feed = Feed(args.batch_size, training=True)
    found = {"in memory": open_source(args.data, "memory", config, schema, schema)}
    if packs.is_packed_split_folder(args.data):
        found["streamed"] = open_source(args.data, "stream", config, schema, schema)
    datasets = {name: source.dataset("train", feed).repeat() for name, source in found.items()}
    held = list(datasets["in memory"].take(args.steps))
    datasets["held batches"] = t.data.Dataset.from_tensor_slices(
        (t.stack([x for x, _ in held]),
         {name: t.stack([y[name] for _, y in held]) for name in schema.names})
    ).repeat().prefetch(2)
    return datasets, schema, found["in memory"].count("train")


def main() -> None:
    args = parse_args()
    config = ModelConfig(arch=args.arch, image_size=args.image_size)
    datasets, heads, images = pipelines(args, config)
    trainer = MultiTask(build_model(config, heads), heads)
    trainer.prepare(build_optimizer(1e-3, 10_000))
    for dataset in datasets.values():  # trace the step and warm every path up
        timed_fit(trainer, dataset, 3)
    rates = {name: [] for name in datasets}
    for _ in range(args.rounds):
        for name, dataset in datasets.items():
            seconds = timed_fit(trainer, dataset, args.steps)
            rates[name].append(args.steps * args.batch_size / seconds)
    alone = {}
    for name in (n for n in datasets if n != "held batches"):  # no training: the headroom
        start = time.perf_counter()
        for _ in datasets[name].take(args.steps):
            pass
        alone[name] = args.steps * args.batch_size / (time.perf_counter() - start)
    best = {name: max(values) for name, values in rates.items()}
    print(f"{images} training images, {args.image_size} px, batch {args.batch_size}, "
          f"{args.steps} steps x {args.rounds} rounds, {args.arch}")
    for name, values in rates.items():
        print(f"  {name:<13} {best[name]:7.1f} images/s  (rounds: "
              f"{', '.join(f'{v:.1f}' for v in values)})")
    for name, rate in alone.items():
        print(f"  {name:<13} {rate:7.1f} images/s  alone (no training step)")
    for name in alone:
        ratio = best[name] / best["held batches"]
        print(f"  {name} / held batches = {ratio:.3f}  ({'OK' if ratio >= 0.9 else 'BELOW'} 0.9)")
    if "streamed" in best:
        ratio = best["streamed"] / best["in memory"]
        print(f"  streamed / in memory = {ratio:.3f}  ({'OK' if ratio >= 0.9 else 'BELOW'} 0.9)")


if __name__ == "__main__":
    main()
