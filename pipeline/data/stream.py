"""Packed shards -> tf.data, streamed: memory does not grow with the number of images.

Training reads several shards at once (interleaved, in a shuffled order each epoch), keeps a
shuffle buffer bounded in bytes, and ends in `datasets.batches` like the in-memory path:
the same augmentation and normalization of the same uint8 pixels. Evaluation reads the
shards in order. Records stay serialized until they are batched, then a whole batch is
parsed at once (per-record parsing cost more CPU than the training step could spare on
two cores). A worker's share of the data is chosen by each record's position in the label
file (position % shards == shard; the position is known from the shard's first record, so
nothing is parsed to choose): every worker reads every file and keeps its own records, so
shares differ by at most one image whatever the number of files.
"""
from __future__ import annotations

from pipeline.heads.schema import MISSING, NONE, Heads
from pipeline.data.packs import Pack
from pipeline.core.tfcompat import tf
from pipeline.data.datasets import Feed, batches

SHUFFLE_MB = 128  # the shuffle buffer's bound, whatever the image size
CYCLE = 4  # shards read at the same time while training
READ_BUFFER = 1 << 20  # bytes read ahead per open shard


def shuffle_records(pack: Pack, batch_size: int) -> int:
    return max(batch_size, min(pack.count, SHUFFLE_MB * 2 ** 20 // pack.record_bytes))


def records(pack: Pack, columns: list[int], feed: Feed):
    """(serialized record, position) of this pipeline's share of the records labelled for at
    least one of `columns`, each once, in file order unless training (then interleaved)."""
    t = tf()
    firsts = t.constant([shard["first"] for shard in pack.shards], t.int64)
    files = t.data.Dataset.from_tensor_slices((pack.files, firsts))

    def read(path, first):
        data = t.data.TFRecordDataset(path, buffer_size=READ_BUFFER)
        return data.enumerate(start=first).map(lambda i, record: (record, i))

    if feed.training:
        files = files.shuffle(len(pack.files), seed=feed.seed, reshuffle_each_iteration=True)
        ds = files.interleave(read, cycle_length=min(CYCLE, len(pack.files)),
                              num_parallel_calls=t.data.AUTOTUNE, deterministic=False)
    else:
        ds = files.flat_map(read)
    if feed.shards > 1:
        ds = ds.filter(lambda record, i: i % feed.shards == feed.shard)
    if pack.labelled(columns) < pack.count:  # only then is a record parsed to be kept
        spec = {"known": t.io.FixedLenFeature([len(pack.schema)], t.int64)}
        ds = ds.filter(lambda record, i: t.reduce_any(
            t.gather(t.io.parse_single_example(record, spec)["known"], columns) > 0))
    return ds


def matrix_columns(schema: Heads, columns: list[int]) -> tuple[list[int], list[bool]]:
    """The label-matrix positions of the heads `columns` of `schema` (in that order), and
    whether each is a column whose -1 the schema declares "none of these"."""
    spans = schema.slices()
    positions = [p for c in columns for p in range(spans[c].start, spans[c].stop)]
    none = [schema.heads[c].none for c in columns for _ in range(spans[c].start, spans[c].stop)]
    return positions, none


def parser(pack: Pack, columns: list[int]):
    """A batch of serialized records -> (uint8 images [N, size, size, 3], the float32 label
    matrix of the heads `columns` [N, width]), as the in-memory path's."""
    t = tf()
    size = pack.image_size
    spec = {"image": t.io.FixedLenFeature([], t.string),
            "labels": t.io.FixedLenFeature([pack.schema.width], t.float32)}
    positions, none_columns = matrix_columns(pack.schema, columns)

    # -1 in a column the schema declares "none of these" is NONE (labels.select_heads).
    # Padding records (blank_record) are -1 too: in such a column they count as "none".
    none = t.constant(none_columns)

    def parse(serialized):
        example = t.io.parse_example(serialized, spec)
        images = t.reshape(t.io.decode_raw(example["image"], t.uint8), [-1, size, size, 3])
        labels = t.gather(example["labels"], positions, axis=1)
        return images, t.where(none & t.equal(labels, float(MISSING)), float(NONE), labels)

    return parse


def blank_record(pack: Pack) -> bytes:
    """A black image with no label at all: padding that the masked metrics ignore."""
    import numpy as np

    from pipeline.data.pack import example

    size = pack.image_size
    unlabelled = tuple(h.impl.missing for h in pack.schema)
    return example(tf(), np.zeros((size, size, 3), np.uint8), pack.schema, unlabelled, -1)


def packed_dataset(pack: Pack, config, heads: Heads, columns: list[int], feed: Feed):
    """The training or evaluation dataset of one pack, as `datasets.arrays_dataset` makes
    it from arrays: (normalized image, {head name: its label-matrix columns}) batches."""
    t = tf()
    ds = records(pack, columns, feed).map(lambda record, i: record)
    if feed.training:
        ds = ds.shuffle(shuffle_records(pack, feed.batch_size), seed=feed.seed,
                        reshuffle_each_iteration=True)
    if feed.pad_to is not None:
        blank = t.data.Dataset.from_tensors(t.constant(blank_record(pack))).repeat()
        ds = ds.concatenate(blank).take(feed.pad_to)
    return batches(ds, config, heads, feed, decode=parser(pack, columns))
