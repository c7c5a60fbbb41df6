"""`pipeline data pack`: decode and resize every image once into sharded TFRecord files.

Pixels come from `images.load_resized`, the loader `predict` and the in-memory path use, so
a model trained from a pack sees the same bytes; the index records the loader (`images.LOADER`)
and readers refuse a pack made by another one. Each record holds the uint8 image, every
label column of the file's schema as its label-matrix row (-1 and nan kept: every head kind),
which heads are labelled, and the image's position in the label file.

Crash safety, per shard: a shard is written as `.tmp` and renamed when complete, and the
plan (`.plan.json`: which images go in which shard, and the sha256 of each finished shard)
is rewritten as shards finish. A re-run with the same label file, size and shard size keeps
the finished shards whose sha256 still matches and writes the rest; anything else starts
over. `index.json` is written last: until it exists the folder is not a pack to anyone.
"""
from __future__ import annotations

import os
import sys
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

import typer

from pipeline.data import packs
from pipeline.core.errors import PipelineError
from pipeline.heads.schema import Heads, schema_of, write_schema
from pipeline.data.decode_pool import decode_ordered
from pipeline.data.images import LOADER, ImageError, load_resized
from pipeline.core.io import read_json, sha256, write_json
from pipeline.data.labels import (SPLITS, LabelFileError, Problem, Sample, class_counts,
                                  read_label_file, write_label_file)

RECORD_OVERHEAD = 64  # bytes of proto and TFRecord framing around each image, roughly


def make(labels: Path | str, out: Path | str, size: int, shard_mb: float = 100,
         workers: int | None = None) -> dict[str, packs.Pack]:
    """Pack a label file into `out`, or a split folder into out/train, out/val, out/test
    (with the label files and heads.json beside them: a packed split folder)."""
    labels, out = Path(labels), Path(out)
    if size < 32 or shard_mb <= 0:
        raise PipelineError("need --size >= 32 and --shard-mb > 0")
    workers = max(1, workers or os.cpu_count() or 1)
    if not labels.is_dir():
        return {"": pack_file(labels, out, size, shard_mb, workers)}
    sources = {name: labels / f"{name}.txt" for name in SPLITS}
    missing = [str(p) for p in sources.values() if not p.is_file()]
    if missing:
        raise PipelineError(f"{missing[0]}: split file not found; `pipeline data pack` takes "
                            "a label file or a split folder (`pipeline data split`)")
    if out.exists() and any(out.iterdir()) and not any(
            (out / name / f).exists() for name in SPLITS for f in (packs.INDEX, packs.PLAN)):
        raise PipelineError(f"{out} is not empty and holds no pack; choose another --out")
    samples = {name: _read(path) for name, path in sources.items()}  # every file, first
    done = {name: pack_file(path, out / name, size, shard_mb, workers, samples[name])
            for name, path in sources.items()}
    for name, (split_samples, schema) in samples.items():
        write_label_file(out / f"{name}.txt", split_samples,
                         f"{name} split of {sources[name]}, packed in {out / name}", schema)
    write_schema(out, schema_of(sources["train"]))
    typer.echo(f"wrote {out}: train/, val/, test/ packs, their label files and heads.json; "
               f"train with `pipeline train --data {out} --image-size {size}`", err=True)
    return done


def _read(path: Path) -> tuple[list[Sample], Heads]:
    """A label file's samples with its own schema; syntax errors stop everything here (the
    images are checked while they are packed)."""
    schema = schema_of(path)
    samples, problems = read_label_file(path, schema)
    if any(not p.warning for p in problems):
        raise LabelFileError(problems)
    return samples, schema


def pack_file(labels: Path, out: Path, size: int, shard_mb: float, workers: int,
              read: tuple[list[Sample], Heads] | None = None) -> packs.Pack:
    samples, schema = read or _read(labels)
    per_shard = max(1, int(shard_mb * 2 ** 20) // (size * size * 3 + RECORD_OVERHEAD))
    plan = make_plan(labels, samples, schema, size, per_shard)
    if _complete(out, plan):
        typer.echo(f"{out}: already packed ({len(samples)} images, shards verified), nothing "
                   "to do", err=True)
        return packs.read_pack(out)
    finished = _prepare(out, plan)
    todo = [s for s in plan["shards"] if s["file"] not in finished]
    write_json(out / packs.PLAN, {**plan, "done": finished})
    if todo:
        _write_shards(out, plan, samples, schema, todo, finished, workers)
    shards = [{**s, "bytes": (out / s["file"]).stat().st_size, "sha256": finished[s["file"]]}
              for s in plan["shards"]]
    counts = {head: dict(c) for head, c in class_counts(samples, schema).items()}
    patterns = Counter(packs.pattern(s.labels, schema) for s in samples)
    write_json(out / packs.INDEX, {**plan, "shards": shards, "counts": counts,
                                   "patterns": dict(patterns), "features": packs.FEATURES,
                                   "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    (out / packs.PLAN).unlink(missing_ok=True)
    megabytes = sum(s["bytes"] for s in shards) / 2 ** 20
    typer.echo(f"{out}: {len(samples)} images at {size} px in {len(shards)} shards "
               f"({megabytes:.1f} MB)", err=True)
    return packs.read_pack(out)


def make_plan(labels: Path, samples: list[Sample], schema: Heads, size: int,
              per_shard: int) -> dict:
    n = max(1, -(-len(samples) // per_shard))
    shards = [{"file": f"shard-{i:05d}-of-{n:05d}.tfrecord", "first": i * per_shard,
               "records": len(samples[i * per_shard:(i + 1) * per_shard])} for i in range(n)]
    return {"format": packs.FORMAT, "version": packs.VERSION, "loader": LOADER, "image_size": size,
            "count": len(samples), "schema": schema.to_json(),
            "source": {"file": str(labels.resolve()), "sha256": sha256(labels)},
            "shards": shards}


def _same_plan(old: dict, plan: dict) -> bool:
    keys = ("format", "version", "loader", "image_size", "count", "schema", "source")
    return all(old.get(k) == plan[k] for k in keys) and [
        (s.get("file"), s.get("first"), s.get("records")) for s in old.get("shards", [])] == [
        (s["file"], s["first"], s["records"]) for s in plan["shards"]]


def _complete(out: Path, plan: dict) -> bool:
    """A finished pack of the same plan whose every shard still verifies."""
    if not packs.is_pack(out):
        return False
    try:
        pack = packs.read_pack(out)
        packs.verify(pack)
    except PipelineError:
        return False
    return _same_plan(read_json(out / packs.INDEX), plan)


def _prepare(out: Path, plan: dict) -> dict[str, str]:
    """{shard file: sha256} of the shards a re-run can keep; anything else of an earlier
    pack in `out` is removed (index first, so no reader ever sees a half-replaced pack)."""
    if out.exists() and not out.is_dir():
        raise PipelineError(f"{out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    old = next((read_json(out / f) for f in (packs.INDEX, packs.PLAN) if (out / f).is_file()),
               None)
    if old is None and any(not _ours(p) for p in out.iterdir()):
        raise PipelineError(f"{out} is not empty and holds no pack; choose another --out")
    kept = {}
    if old is not None and _same_plan(old, plan):
        recorded = old.get("done") or {s["file"]: s.get("sha256") for s in old["shards"]}
        kept = {f: h for f, h in recorded.items()
                if h and (out / f).is_file() and sha256(out / f) == h}
    (out / packs.INDEX).unlink(missing_ok=True)
    for path in out.iterdir():
        if _ours(path) and path.name != packs.PLAN and path.name not in kept:
            path.unlink()
    return kept


def _ours(path: Path) -> bool:
    return path.name.startswith(("shard-", ".shard-")) or path.name in (packs.INDEX, packs.PLAN)


def _write_shards(out: Path, plan: dict, samples: list[Sample], schema: Heads,
                  todo: list[dict], finished: dict, workers: int) -> None:
    """Images decoded ahead in threads (core.decode_pool, the path `predict` and `data check`
    use), written in order by this thread, shard after shard; the plan records each shard's
    sha256 as it finishes. Memory holds a few images, whatever the pack's size."""
    from pipeline.core.tfcompat import tf

    t, size = tf(), plan["image_size"]
    problems: list[Problem] = []
    order = (i for shard in todo for i in range(shard["first"], shard["first"] + shard["records"]))
    stream = decode_ordered(order, lambda i: load_resized(samples[i].path, size),
                            (ImageError,), workers)
    with closing(stream), typer.progressbar(length=sum(s["records"] for s in todo),
                                            label=f"packing {out}", file=sys.stderr) as bar:
        for shard in todo:
            result = _write_shard(t, out, shard, samples, schema, stream,
                                  plan["source"]["file"], bar)
            if isinstance(result, list):
                problems += result
                continue
            finished[shard["file"]] = result
            write_json(out / packs.PLAN, {**plan, "done": finished})
    if problems:
        raise LabelFileError(sorted(problems, key=lambda p: p.line))


def _write_shard(t, out: Path, shard: dict, samples: list[Sample], schema: Heads, stream,
                 source: str, bar) -> str | list[Problem]:
    """Write one shard from the next records of `stream`; its sha256, or the problems of
    images that could not be decoded (the shard is then not kept)."""
    final = out / shard["file"]
    tmp = out / f".{shard['file']}.tmp"
    problems = []
    try:
        with t.io.TFRecordWriter(str(tmp)) as writer:
            for _ in range(shard["records"]):
                index, pixels = next(stream)
                sample = samples[index]
                if isinstance(pixels, ImageError):
                    problems.append(Problem(source, sample.line, f"{sample.path}: {pixels}"))
                    continue
                writer.write(example(t, pixels, schema, sample.labels, index))
                bar.update(1)
        if problems:
            return problems
        os.replace(tmp, final)
        return sha256(final)
    finally:
        tmp.unlink(missing_ok=True)


def example(t, pixels, schema: Heads, labels: tuple, index: int) -> bytes:
    """One record (packs.FEATURES): the labels as the schema's label-matrix row, so every
    head kind packs, and which heads have a label, so streaming can skip without knowing
    each kind's "unknown"."""
    feature = t.train.Feature
    row = schema.encode([Sample(Path(), labels)])[0]
    known = [0 if h.impl.is_missing(v) else 1 for h, v in zip(schema, labels)]
    return t.train.Example(features=t.train.Features(feature={
        "image": feature(bytes_list=t.train.BytesList(value=[pixels.tobytes()])),
        "labels": feature(float_list=t.train.FloatList(value=row.tolist())),
        "known": feature(int64_list=t.train.Int64List(value=known)),
        "index": feature(int64_list=t.train.Int64List(value=[index])),
    })).SerializeToString()


def run(o) -> dict[str, packs.Pack]:
    """`pipeline data pack` (options.PackOptions)."""
    return make(o.labels, o.out, o.size, o.shard_mb, o.workers)
