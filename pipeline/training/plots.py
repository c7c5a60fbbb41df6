"""PNG figures: training curves and confusion matrices (matplotlib, Agg backend).

matplotlib is imported inside each function: it is slow to import and only the stages
that draw need it. Every figure is written atomically (temporary file, then rename).
"""
from __future__ import annotations

import os
from pathlib import Path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and in tests
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    os.replace(tmp, path)


def training_curves(history: list[dict], head_names: list[str], path: Path,
                    accuracy_heads: list[str] | None = None) -> None:
    """Loss (total and per head) and accuracy per head (of `accuracy_heads`, default all),
    training and validation, by epoch."""
    plt = _pyplot()
    epochs = [row["epoch"] for row in history]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    loss_ax, acc_ax = axes
    for key in ["loss"] + [f"{name}_loss" for name in head_names]:
        _plot_pair(loss_ax, history, epochs, key)
    for name in head_names if accuracy_heads is None else accuracy_heads:
        _plot_pair(acc_ax, history, epochs, f"{name}_accuracy")
    loss_ax.set(title="loss (masked, per head kind)", xlabel="epoch", yscale="log")
    acc_ax.set(title="accuracy per head", xlabel="epoch", ylim=(0, 1.02))
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    _save(fig, path)
    plt.close(fig)


def _plot_pair(ax, history, epochs, key) -> None:
    """Training as a dashed line, validation as a solid line of the same colour."""
    train = [row.get(key) for row in history]
    if any(v is None for v in train):
        return
    line, = ax.plot(epochs, train, "--", label=f"train {key}")
    val = [row.get(f"val_{key}") for row in history]
    if all(v is not None for v in val):
        ax.plot(epochs, val, "-", color=line.get_color(), label=f"val {key}")


def confusion_matrix(matrix, classes, title: str, path: Path) -> None:
    """Counts with row-normalized shading (rows = true class, columns = predicted)."""
    import numpy as np

    plt = _pyplot()
    counts = np.asarray(matrix, dtype=float)
    rows = counts.sum(axis=1, keepdims=True)
    shade = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    fig, ax = plt.subplots(figsize=(1.2 * len(classes) + 2, 1.1 * len(classes) + 1.5))
    ax.imshow(shade, cmap="Blues", vmin=0, vmax=1)
    for (i, j), value in np.ndenumerate(counts):
        ax.text(j, i, f"{int(value)}", ha="center", va="center",
                color="white" if shade[i, j] > 0.6 else "black")
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    _save(fig, path)
    plt.close(fig)
