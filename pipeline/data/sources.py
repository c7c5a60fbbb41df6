"""Where training, QAT and the final scoring get their images: a split folder's label files
decoded into memory (small sets), or its packs streamed from disk (`pipeline data pack`).

Both sources give the same thing for a split: `count` (images labelled for at least one
of the model's heads), `dataset(split, feed)` (batches for Keras), `arrays` (the whole
split as uint8 pixels and labels, for scores and export checks) and `pixels_at` (chosen
images, for calibration). Opening one checks everything first (label files and images, or
pack indexes, sizes, schemas and shard checksums) and imports no TensorFlow.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from pipeline.data import negatives
from pipeline.data import packs
from pipeline.core.errors import PipelineError
from pipeline.heads.schema import Heads, schema_of
from pipeline.data.labels import SPLITS, Sample, load_label_file, select_heads

MEMORY, STREAM = "memory", "stream"


def resolve_input(data: Path, asked: str) -> str:
    """auto -> stream for a packed split folder, else memory; a stream of a folder without
    packs (or with an unfinished one) is one line."""
    unfinished = (data / "train" / packs.PLAN).is_file() and not packs.is_packed_split_folder(data)
    if asked == "auto":
        asked = STREAM if packs.is_packed_split_folder(data) or unfinished else MEMORY
    if asked == STREAM and not packs.is_packed_split_folder(data):
        packs.read_pack(data / "train")  # raises: not a pack, or unfinished
    if asked not in (MEMORY, STREAM):
        raise PipelineError(f"unknown --input {asked!r}; choose from auto, {MEMORY}, {STREAM}")
    return asked


def data_schema(data: Path, kind: str) -> Heads:
    """The columns of the data: heads.json beside the label files, or the packs' own."""
    if not data.is_dir():
        raise PipelineError(f"{data}: no such data folder (make one with `pipeline data split`)")
    if kind == STREAM:
        return packs.read_pack(data / "train").schema
    return schema_of(data / "train.txt")


def open_source(data: Path | str, kind: str, config, schema: Heads, heads: Heads,
                checksums: bool = True):
    data = Path(data)
    if kind == STREAM:
        if any((data / negatives.FILE.format(split=n)).is_file() for n in SPLITS):
            print(f"warning: {data}: negatives_<split>.txt files are not packed and not read "
                  "when streaming packs (yet): train from the label files to use them",
                  file=sys.stderr)
        found = packs.open_split_packs(data, config.image_size, schema, checksums)
        return StreamSource(found, config, schema, heads)
    return MemorySource(load_splits(data, schema, heads), config, heads)


def load_splits(data: Path, schema: Heads, heads: Heads) -> dict:
    """{split: samples narrowed to the model's heads, then the split's negatives (every head
    NONE), if the folder has them}; a missing, empty or broken split file is a one-line
    error."""
    splits = {}
    for split in SPLITS:
        path = data / f"{split}.txt"
        if not path.exists():
            raise PipelineError(f"{path}: split file not found; run `pipeline data split` first")
        samples = load_label_file(path, schema)
        used = select_heads(samples, schema, heads, str(path), drop_unlabelled=True)
        if not used:
            raise PipelineError(f"{path}: no image has a label for {', '.join(heads.names)}")
        warn_gaps(path, [{v for s in used for v in h.impl.gap_values(s.labels[i])}
                         for i, h in enumerate(heads)], heads)
        splits[split] = used + load_negatives(data, split, heads)
    return splits


def load_negatives(data: Path, split: str, heads: Heads) -> list:
    path = data / negatives.FILE.format(split=split)
    return negatives.read(path, heads)[0] if path.is_file() else []


def warn_gaps(where, seen: list[set], heads: Heads) -> None:
    """A class with no image in a split: training or scoring it is blind there."""
    for head, values in zip(heads, seen):
        absent = [c for k, c in enumerate(head.classes) if k not in values]
        if absent:
            print(f"warning: {where}: no image of {head.name} {', '.join(absent)}",
                  file=sys.stderr)


class MemorySource:
    kind = MEMORY

    def __init__(self, splits: dict, config, heads: Heads):
        self.splits, self.config, self.heads = splits, config, heads

    def count(self, split: str) -> int:
        return len(self.splits[split])

    def fit_targets(self) -> Heads:
        """The heads, regression ones standardized by the training split's values."""
        self.heads = self.heads.fitted(self.splits["train"])
        return self.heads

    def dataset(self, split: str, feed):
        from pipeline.data.datasets import arrays_dataset, load_arrays

        share = self.splits[split][feed.shard::feed.shards]  # sharded by index
        images, labels = load_arrays(share, self.config.image_size, self.heads)
        return arrays_dataset(images, labels, self.config, self.heads, feed)

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        from pipeline.data.datasets import load_arrays

        return load_arrays(self.splits[split], self.config.image_size, self.heads)

    def pixels_at(self, split: str, positions) -> np.ndarray:
        from pipeline.data.datasets import load_arrays

        chosen = [self.splits[split][i] for i in sorted(positions)]
        return load_arrays(chosen, self.config.image_size, self.heads)[0]


class StreamSource:
    kind = STREAM

    def __init__(self, found: dict, config, schema: Heads, heads: Heads):
        self.packs, self.config, self.heads = found, config, heads
        self.columns = schema.columns(heads, str(found["train"].folder))
        for split, pack in found.items():
            if not self.count(split):
                raise PipelineError(f"{pack.folder}: no image has a label for "
                                    f"{', '.join(heads.names)}")
            rows = pack.label_rows
            warn_gaps(pack.folder, [{v for labels, _ in rows for v in h.impl.gap_values(labels[c])}
                                    for c, h in zip(self.columns, heads)], heads)

    def count(self, split: str) -> int:
        return self.packs[split].labelled(self.columns)

    def fit_targets(self) -> Heads:
        """The heads, regression ones standardized by the training pack's values (read from
        its index: each distinct label pattern and how many records have it)."""
        rows = [Sample(Path(), tuple(labels[c] for c in self.columns))
                for labels, n in self.packs["train"].label_rows for _ in range(n)]
        self.heads = self.heads.fitted(rows)
        return self.heads

    def dataset(self, split: str, feed):
        from pipeline.data.stream import packed_dataset

        return packed_dataset(self.packs[split], self.config, self.heads, self.columns, feed)

    def _records(self, split: str):
        """(uint8 images, labels) of every used record, in the label file's order, by batch."""
        from pipeline.data.datasets import Feed
        from pipeline.data.stream import parser, records

        pack = self.packs[split]
        ds = records(pack, self.columns, Feed(1, False)).map(lambda record, i: record)
        yield from ds.batch(256).map(parser(pack, self.columns)).as_numpy_iterator()

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        pixels, labels = zip(*self._records(split))
        return np.concatenate(pixels), np.concatenate(labels)

    def pixels_at(self, split: str, positions) -> np.ndarray:
        wanted, found, start = sorted(set(positions)), [], 0
        for pixels, _ in self._records(split):
            found += [pixels[i - start] for i in wanted if start <= i < start + len(pixels)]
            start += len(pixels)
        return np.stack(found)
