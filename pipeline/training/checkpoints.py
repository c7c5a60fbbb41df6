"""What `pipeline train` keeps after every epoch, so a killed run resumes where it stopped.

In this order: the best model so far (checkpoints/best-epoch-N.h5), history.csv, the full
training state (model, log-variances, optimizer and its step) as a TF checkpoint, TensorBoard
scalars, and last state.json, which names them: a run killed at any point resumes from the
last state.json.
"""
from __future__ import annotations

import csv
import io
import os
import warnings
from pathlib import Path

from pipeline.core.io import atomic_write_text, write_json
from pipeline.core.tfcompat import tf

STATE = "checkpoints/state.json"


class EpochKeeper:
    """Keeps history, the best model and the resumable checkpoint, once per epoch."""

    def __init__(self, folder: Path, checkpoint, trainer, settings, state: dict | None):
        self.folder, self.checkpoint, self.trainer, self.settings = folder, checkpoint, trainer, settings
        state = state or {}
        self.history = state.get("history", [])
        self.best, self.best_file = state.get("best"), state.get("best_file")

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        row = {"epoch": epoch + 1, **{key: float(v) for key, v in (logs or {}).items()},
               "lr": self.current_lr()}
        if self.trainer.weighting == "uncertainty":
            for head, s in zip(self.trainer.heads, self.trainer.log_variances()):
                row[f"{head.name}_log_var"] = float(s)
        self.history.append(row)
        # Best = highest sum of the heads' validation figures (accuracy; a regression head's
        # MAE counts negatively, in standard deviations), then lowest validation loss.
        score = [sum(_better(row.get(f"val_{h.name}_{h.impl.metric}", 0.0), h)
                     for h in self.trainer.heads), -row.get("val_loss", 0.0)]
        if self.best is None or score > self.best:
            self.best, self.best_file = score, f"best-epoch-{epoch + 1}.h5"
            save_h5(self.trainer.net, self.folder / "checkpoints" / self.best_file)
        write_history(self.folder / "history.csv", self.history)
        prefix = self.checkpoint.write(str(self.folder / "checkpoints" / f"epoch-{epoch + 1}"))
        write_json(self.folder / STATE, {
            "settings": self.settings.to_json(), "epoch": epoch + 1, "checkpoint": Path(prefix).name,
            "best": self.best, "best_file": self.best_file, "history": self.history})
        self.prune(Path(prefix).name)
        self.tensorboard(row)

    def tensorboard(self, row: dict) -> None:
        """Epoch scalars as TensorBoard events.

        Keras' TensorBoard callback needs the `tensorboard` package (not in this stack); the
        event files are written with TF's own summary op and the scalar plugin's metadata, so
        `tensorboard --logdir .../tensorboard` shows them wherever tensorboard is installed.
        """
        from tensorflow.core.framework.summary_pb2 import SummaryMetadata

        t = tf()
        meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="scalars"))
        for split in ("train", "validation"):
            writer = t.summary.create_file_writer(str(self.folder / "tensorboard" / split))
            with writer.as_default():
                for key, value in row.items():
                    if key == "epoch" or key.startswith("val_") != (split == "validation"):
                        continue
                    t.summary.write(f"epoch_{key.removeprefix('val_')}", t.constant(value, t.float32),
                                    step=row["epoch"], metadata=meta.SerializeToString())
            writer.close()

    def current_lr(self) -> float:
        optimizer = self.trainer.optimizer
        rate = optimizer._learning_rate  # the schedule object: evaluate it at the current step
        return float(rate(optimizer.iterations) if callable(rate) else rate)

    def prune(self, keep: str) -> None:
        """Delete checkpoints that state.json no longer names."""
        for path in (self.folder / "checkpoints").iterdir():
            stale_ckpt = path.name.startswith("epoch-") and not path.name.startswith(keep + ".")
            stale_best = path.name.startswith("best-epoch-") and path.name != self.best_file
            if stale_ckpt or stale_best:
                path.unlink()


def save_h5(net, path: Path) -> None:
    """Atomic .h5 save, without tf_keras' "HDF5 is legacy" and "not compiled" chatter: .h5 is
    the format tfmot's quantize_scope loads, and the model is deliberately saved uncompiled."""
    logger = tf().get_logger()
    level = logger.level
    tmp = path.with_name(f".{path.name}.tmp")
    logger.setLevel("ERROR")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            net.save(tmp, include_optimizer=False, save_format="h5")
        os.replace(tmp, path)
    finally:
        logger.setLevel(level)
        tmp.unlink(missing_ok=True)


def write_history(path: Path, rows: list[dict]) -> None:
    """One CSV row per epoch; columns are every key any row has (train and QAT histories)."""
    keys = list(dict.fromkeys(k for row in rows for k in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def _better(value: float, head) -> float:
    """A head's validation figure, larger = better, on a scale comparable to accuracy."""
    return value if head.impl.metric == "accuracy" else -value / head.impl.value_scale(head)
