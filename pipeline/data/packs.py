"""Packed data (`pipeline data pack`): the index that describes a pack, read and checked.

A pack is a folder of TFRecord shards of one label file, decoded and resized once, and an
`index.json` written last: a folder without it is an unfinished pack that nothing reads.
A packed split folder holds one pack per split (train/, val/, test/) beside copies of the
label files and heads.json, so it is also an ordinary split folder. No TensorFlow here: the
training side (pipeline.data.stream) reads the shards, everything else reads this index.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from pipeline.core.errors import PipelineError
from pipeline.heads.schema import Heads, parse_schema
from pipeline.data.images import LOADER
from pipeline.core.io import read_json, sha256
from pipeline.data.labels import SPLITS

INDEX = "index.json"
PLAN = ".plan.json"  # written first: which shards a pack in progress is made of
FORMAT = "flower-pipeline/pack"
VERSION = 2  # 2: labels as the label matrix's float row, every head kind
# Each record is a tf.train.Example with these features.
FEATURES = {"image": "bytes: uint8 pixels, size x size x 3, row-major RGB",
            "labels": "float list: the image's label-matrix row in the schema's columns (a class "
                      "index, a 0/1 per class of a multilabel head, a value; -1 or nan = no label)",
            "known": "int64 list: 1 per head of the schema with a label, else 0",
            "index": "int64: position of the image among the label file's images"}


@dataclass(frozen=True)
class Pack:
    folder: Path
    image_size: int
    count: int
    schema: Heads
    shards: tuple[dict, ...]  # {"file", "records", "first", "bytes", "sha256"}
    patterns: dict  # "0,2,-1" (label-file cells) -> number of records with exactly these labels
    source: dict  # {"file", "sha256"}

    @property
    def files(self) -> list[str]:
        return [str(self.folder / shard["file"]) for shard in self.shards]

    @property
    def record_bytes(self) -> int:
        return self.image_size * self.image_size * 3

    @cached_property  # parsed once: a regression head makes about one pattern per image
    def label_rows(self) -> list[tuple[tuple, int]]:
        """(labels in the schema's kinds, number of records) per distinct label pattern."""
        return [(_parse_pattern(key, self.schema), n) for key, n in self.patterns.items()]

    def labelled(self, columns: list[int]) -> int:
        """Records with a label in at least one of `columns` (the model's heads): the images
        training uses, as the in-memory path's select_heads(drop_unlabelled=True) keeps."""
        heads = self.schema.heads
        return sum(n for labels, n in self.label_rows
                   if any(not heads[c].impl.is_missing(labels[c]) for c in columns))


def pattern(labels: tuple, schema: Heads) -> str:
    """A record's labels as the index's key: its label-file cells joined by commas."""
    return ",".join(h.impl.format_cell(v) for h, v in zip(schema, labels))


def _parse_pattern(key: str, schema: Heads) -> tuple:
    cells = key.split(",")
    values = tuple(h.impl.parse_cell(c, h) for h, c in zip(schema, cells))
    if len(cells) != len(schema) or any(isinstance(v, str) for v in values):
        raise ValueError(f"label pattern {key!r} does not fit the schema")
    return values


def is_pack(folder: Path | str) -> bool:
    return (Path(folder) / INDEX).is_file()


def is_packed_split_folder(folder: Path | str) -> bool:
    return is_pack(Path(folder) / "train")


def read_pack(folder: Path | str) -> Pack:
    """The index of a finished pack, its shape checked; one line for whatever is wrong."""
    folder = Path(folder)
    if not (folder / INDEX).is_file():
        if (folder / PLAN).is_file():
            raise PipelineError(f"{folder}: unfinished pack (no {INDEX}); run the same "
                                "`pipeline data pack` again to finish it")
        raise PipelineError(f"{folder}: not a pack (no {INDEX}); make one with "
                            "`pipeline data pack`")
    data = read_json(folder / INDEX)
    where = str(folder / INDEX)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise PipelineError(f"{where}: not a pack index (format is not {FORMAT!r})")
    if data.get("version") != VERSION:
        raise PipelineError(f"{where}: pack version {data.get('version')!r}; this pipeline "
                            f"reads version {VERSION}: pack the data again")
    if data.get("loader") != LOADER:  # other pixels than this pipeline's predict would see
        made = data.get("loader") or "an earlier loader (none recorded)"
        raise PipelineError(f"{where}: pixels made by {made}; this pipeline decodes with "
                            f"{LOADER}: pack the data again")
    try:
        shards = tuple({k: s[k] for k in ("file", "records", "first", "bytes", "sha256")}
                       for s in data["shards"])
        pack = Pack(folder, int(data["image_size"]), int(data["count"]),
                    parse_schema(data["schema"], where), shards, dict(data["patterns"]),
                    dict(data["source"]))
        pack.label_rows  # every pattern parses in the schema's kinds
        adds_up = sum(int(s["records"]) for s in shards) == pack.count and not any(
            os.sep in s["file"] or s["file"].startswith(".") for s in shards)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PipelineError(f"{where}: malformed pack index ({exc!r})") from None
    if not adds_up:
        raise PipelineError(f"{where}: malformed pack index (shard list does not add up)")
    return pack


def verify(pack: Pack, checksums: bool = True) -> None:
    """Every shard present, of its size and (checksums) its sha256: a missing or damaged
    shard is one line naming it, before any training step."""
    for shard in pack.shards:
        path = pack.folder / shard["file"]
        if not path.is_file():
            raise PipelineError(f"{path}: shard missing from the pack ({pack.count} images "
                                f"in {len(pack.shards)} shards); pack the data again")
        if path.stat().st_size != shard["bytes"]:
            raise PipelineError(f"{path}: shard is {path.stat().st_size} bytes, the index says "
                                f"{shard['bytes']}: damaged; pack the data again")
        if checksums and sha256(path) != shard["sha256"]:
            raise PipelineError(f"{path}: shard sha256 differs from the index: damaged; "
                                "pack the data again")


def check_fits(pack: Pack, image_size: int, schema: Heads, what: str = "this run") -> None:
    """A pack made at another size or with other heads than the run asks for is refused:
    resizing again would change the pixels, and label columns would mean other classes."""
    if pack.image_size != image_size:
        raise PipelineError(f"{pack.folder}: packed at {pack.image_size} px; {what} asks for "
                            f"{image_size} px: pack again with --size {image_size}")
    if pack.schema != schema:
        raise PipelineError(f"{pack.folder}: packed with heads "
                            f"{_describe(pack.schema)}; {what} has {_describe(schema)}")


def _describe(heads: Heads) -> str:
    return "; ".join(h.described for h in heads)


def open_split_packs(folder: Path | str, image_size: int, schema: Heads | None = None,
                     checksums: bool = True) -> dict[str, Pack]:
    """{split: Pack} of a packed split folder, each checked against the run's image size and
    schema (default: the train pack's) and verified."""
    folder = Path(folder)
    packs = {name: read_pack(folder / name) for name in SPLITS}
    for pack in packs.values():
        check_fits(pack, image_size, schema or packs["train"].schema)
        verify(pack, checksums)
    return packs
