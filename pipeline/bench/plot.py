"""benchmark/latency.png: p50 latency bars with p90 whiskers per thread count, and file size."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def latency_chart(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on a server; must precede pyplot
    import matplotlib.pyplot as plt

    variants = results["variants"]
    names = list(variants)
    threads = list(next(iter(variants.values()))["per_threads"]) if variants else []
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5),
                                      gridspec_kw={"width_ratios": [2, 1]})
    x, width = np.arange(len(names)), 0.8 / max(1, len(threads))
    for i, t in enumerate(threads):
        p50 = [variants[n]["per_threads"][t]["latency"]["p50"] for n in names]
        p90 = [variants[n]["per_threads"][t]["latency"]["p90"] for n in names]
        whisker = [np.zeros(len(names)), np.subtract(p90, p50)]  # upward only: p50 -> p90
        left.bar(x + i * width, p50, width, yerr=whisker, capsize=3, label=f"{t} thread(s)")
    left.set_xticks(x + width * (len(threads) - 1) / 2, names, rotation=25, ha="right")
    left.set_ylabel("latency, ms (bar p50, whisker p90)")
    left.set_title("latency per inference, batch 1")
    left.legend()
    sizes = [variants[n]["size_bytes"] / 1e6 for n in names]
    right.bar(x, sizes, color="tab:gray")
    right.set_xticks(x, names, rotation=25, ha="right")
    right.set_ylabel("MB")
    right.set_title("model file size")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
