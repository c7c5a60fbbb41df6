"""Two .tflite files of the same input, timed in interleaved rounds in one process (LiteRT,
1 thread unless --threads): the ratio of their medians is what a noisy shared machine can
still tell.

    .venv/bin/python scripts/compare_latency.py OLD.tflite NEW.tflite \
        [--rounds 12 --runs 150 --threads 1]

Used for issue 18: the files before and after the "none of these" class in each head.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from ai_edge_litert.interpreter import Interpreter


def runner(path: str, threads: int = 1):
    interpreter = Interpreter(model_path=path, num_threads=threads)
    run = interpreter.get_signature_runner("serving_default")
    (name, detail), = run.get_input_details().items()
    x = np.random.default_rng(0).integers(0, 255, detail["shape"]).astype(detail["dtype"])
    return lambda: run(**{name: x})


def median_ms(call, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--runs", type=int, default=150)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    old, new = runner(args.old, args.threads), runner(args.new, args.threads)
    for call in (old, new):
        median_ms(call, 50)  # warm-up
    pairs = []
    for r in range(args.rounds):  # alternate which goes first
        first, second = (old, new) if r % 2 == 0 else (new, old)
        a, b = median_ms(first, args.runs), median_ms(second, args.runs)
        pairs.append((a, b) if r % 2 == 0 else (b, a))
    olds, news = np.array(pairs).T
    ratios = news / olds
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), "unknown CPU")
    print(f"{cpu}, {args.threads} thread(s): old p50 {np.median(olds):.3f} ms, "
          f"new p50 {np.median(news):.3f} ms, new/old {np.median(ratios):.3f} "
          f"(rounds {ratios.min():.3f}..{ratios.max():.3f})")


if __name__ == "__main__":
    main()
