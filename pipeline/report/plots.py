"""The report's training curves: matplotlib (Agg) figures returned as PNG bytes, drawn from
history.csv; every value drawn is one read from it. The benchmark's figures are figures/charts.py."""
from __future__ import annotations

import re

from pipeline.figures.charts import plain, png, pyplot


def history_series(rows: list[dict] | None, head: str, metric: str) -> dict:
    """{"train": [...], "val": [...]} of one head's loss or accuracy (QAT may say quant_<head>)."""
    pattern = re.compile(rf"^(val_)?(quant_)?{re.escape(head)}_{metric}$")
    out = {}
    for key in (rows[0] if rows else {}):
        match = pattern.match(key)
        if match:
            out["val" if match.group(1) else "train"] = [row.get(key) for row in rows]
    return out


def curves(head: str, train: list[dict] | None, qat: list[dict] | None,
           figure: str = "accuracy") -> bytes | None:
    """Loss and `figure` (the head kind's: accuracy, or a regression head's MAE) of one head
    by epoch: training, then QAT fine-tuning after it."""
    parts = [(name, rows) for name, rows in (("training", train), ("QAT", qat)) if rows]
    if not any(history_series(rows, head, "loss") for _, rows in parts):
        return None
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.2))
    for ax, metric in zip(axes, ("loss", figure)):
        start = 0
        for stage, rows in parts:
            series = history_series(rows, head, metric)
            epochs = list(range(start + 1, start + len(rows) + 1))
            for split, style in (("train", "--"), ("val", "-")):
                if split in series:
                    ax.plot(epochs, series[split], style, marker="." if len(rows) <= 25 else None,
                            color="tab:blue" if stage == "training" else "tab:orange",
                            label=f"{stage}, {split} split")
            if stage == "QAT":
                ax.axvspan(start + 0.5, start + len(rows) + 0.5, color="tab:orange", alpha=0.08)
            start += len(rows)
        ax.set(title=f"{plain(head)}: {metric}",
               xlabel="epoch (training, then QAT)" if len(parts) == 2 else f"epoch ({parts[0][0]})")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if metric == "accuracy":
            ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return png(fig)
