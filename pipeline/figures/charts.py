"""The benchmark's figures, drawn from benchmark/results.json: matplotlib (Agg) figures returned
as PNG bytes. One drawing of each: `pipeline benchmark` saves latency.png from it and `pipeline
report` embeds the same figures (report/plots.py draws the training curves).

Every value drawn is one read from results.json; nothing is filled in. results.json keeps
latency percentiles (min, p50, p90, p99, mean) and per-round medians, not every timed run, so
the latency "distribution" is drawn from those.
"""
from __future__ import annotations

import io

DPI = 96


def pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and in tests; must precede pyplot
    import matplotlib.pyplot as plt

    return plt


def plain(name) -> str:
    """A name from a file as matplotlib text: "$5 $10" is not TeX (mathtext would raise)."""
    return str(name).replace("$", r"\$")


def png(fig) -> bytes:
    plt = pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _threads(results: dict) -> list[str]:
    """Thread counts measured, from the first variant (per_threads, else the contract's
    latency_ms)."""
    variants = list(results.get("variants", {}).values())
    first = variants[0] if variants else {}
    return list(first.get("per_threads") or first.get("latency_ms") or {})


def stats(entry: dict, t: str) -> dict | None:
    """A variant's latency figures at t threads: the full ones, else the contract's four."""
    full = ((entry.get("per_threads") or {}).get(t) or {}).get("latency")
    return full or (entry.get("latency_ms") or {}).get(t)


def latency(results: dict) -> bytes | None:
    """Per variant and thread count: min..p99 line, p50..p90 box, mean, per-round medians."""
    names, threads = list(results.get("variants", {})), _threads(results)
    if not names or not threads:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(len(threads), 1, figsize=(9.5, 0.45 * len(names) * len(threads) + 1.4),
                             squeeze=False)
    for ax, t in zip(axes[:, 0], threads):
        for y, name in enumerate(names):
            lat = stats(results["variants"][name], t)
            if lat:
                _distribution(ax, y, lat)
        ax.set_yticks(range(len(names)), [plain(n) for n in names], fontsize=8)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set(xlabel="ms per inference, batch 1 (log scale)",
               title=f"{t} thread(s): line min..p99, box p50..p90, x mean, red dots round medians")
        ax.title.set_fontsize(9)
        ax.grid(alpha=0.3, axis="x", which="both")
    fig.tight_layout()
    return png(fig)


def _distribution(ax, y: int, lat: dict) -> None:
    low = lat.get("min", lat["p50"])
    ax.plot([low, lat["p99"]], [y, y], color="0.55", lw=1)
    ax.barh(y, lat["p90"] - lat["p50"], left=lat["p50"], height=0.45, color="tab:blue", alpha=0.35)
    ax.plot([lat["p50"]] * 2, [y - 0.25, y + 0.25], color="tab:blue", lw=2.2)
    ax.plot(lat["mean"], y, "x", color="black", ms=5)
    medians = lat.get("round_medians", [])
    ax.plot(medians, [y + 0.32] * len(medians), ".", color="tab:red", ms=4)
    ax.annotate(f"p50 {lat['p50']:.3g} ms", (lat["p99"], y), xytext=(6, -3),
                textcoords="offset points", fontsize=7)


def memory_and_size(results: dict) -> bytes | None:
    """Peak RSS of each variant's process and its file size, side by side."""
    variants = results.get("variants", {})
    if not variants:
        return None
    plt = pyplot()
    names = list(variants)
    fig, (mem, size) = plt.subplots(1, 2, figsize=(9.5, 0.35 * len(names) + 1.3), sharey=True)
    peaks = [variants[n].get("peak_rss_mb") or 0 for n in names]
    sizes = [(variants[n].get("size_bytes") or 0) / 1e6 for n in names]
    for ax, values, unit, colour in ((mem, peaks, "peak RSS, MB", "tab:purple"),
                                     (size, sizes, "file size, MB", "tab:gray")):
        ax.barh(range(len(names)), values, color=colour)
        for y, v in enumerate(values):
            ax.annotate(f"{v:.1f}" if v >= 10 else f"{v:.2f}", (v, y), xytext=(3, -3),
                        textcoords="offset points", fontsize=7)
        ax.set(xlabel=unit)
        ax.set_xlim(0, max(values + [1e-9]) * 1.2)
        ax.grid(alpha=0.3, axis="x")
    mem.set_yticks(range(len(names)), [plain(n) for n in names], fontsize=8)
    mem.invert_yaxis()
    fig.tight_layout()
    return png(fig)


def noise(results: dict) -> bytes | None:
    """Each variant's per-round median over its p50, round by round: shared drift shows as
    lines that move together; one line alone is that variant's own noise."""
    threads = _threads(results)
    if not threads:
        return None
    t = threads[0]
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(9.5, 2.8))
    drawn = False
    for name, entry in results["variants"].items():
        lat = stats(entry, t) or {}
        medians = lat.get("round_medians") or []
        if len(medians) > 1 and lat.get("p50"):
            ax.plot(range(1, len(medians) + 1), [m / lat["p50"] for m in medians], marker=".",
                    label=f"{plain(name)} (spread {lat.get('round_spread_pct', 0):.0f}%)")
            drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.axhline(1.0, color="0.5", lw=0.8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="round", ylabel="round median / p50",
           title=f"noise: per-round medians at {t} thread(s)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return png(fig)
