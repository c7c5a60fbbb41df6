"""Packed shards -> tf.data, streamed: memory does not grow with the number of images.

Training reads several shards at once (interleaved, in a shuffled order each epoch), keeps a
shuffle buffer bounded in bytes, and ends in `datasets.batches` like the in-memory path:
the same augmentation and normalization of the same uint8 pixels. Evaluation reads the
shards in order. A worker's shard of the data is chosen by each record's position in the
label file (position % shards == shard): every worker reads every file and keeps its own
records, so shares differ by at most one image whatever the number of files.
"""
from __future__ import annotations

from pipeline.core.heads import MISSING, Heads
from pipeline.core.packs import Pack
from pipeline.core.tfcompat import tf
from pipeline.data.datasets import Feed, batches

SHUFFLE_MB = 128  # the shuffle buffer's bound, whatever the image size
CYCLE = 4  # shards read at the same time while training
READ_BUFFER = 1 << 20  # bytes read ahead per open shard


def shuffle_records(pack: Pack, batch_size: int) -> int:
    return max(batch_size, min(pack.count, SHUFFLE_MB * 2 ** 20 // pack.record_bytes))


def records(pack: Pack, columns: list[int], feed: Feed):
    """(raw image bytes, int32 labels of `columns`, position) of this pipeline's share of
    the records labelled for at least one of `columns`, each once, in file order unless
    training (then shuffled)."""
    t = tf()
    files = t.data.Dataset.from_tensor_slices(pack.files)
    if feed.training:
        files = files.shuffle(len(pack.files), seed=feed.seed, reshuffle_each_iteration=True)
        ds = files.interleave(lambda f: t.data.TFRecordDataset(f, buffer_size=READ_BUFFER),
                              cycle_length=min(CYCLE, len(pack.files)),
                              num_parallel_calls=t.data.AUTOTUNE, deterministic=False)
    else:
        ds = t.data.TFRecordDataset(files, buffer_size=READ_BUFFER)
    spec = {"image": t.io.FixedLenFeature([], t.string),
            "labels": t.io.FixedLenFeature([len(pack.schema)], t.int64),
            "index": t.io.FixedLenFeature([], t.int64)}

    def parse(record):
        example = t.io.parse_single_example(record, spec)
        labels = t.cast(t.gather(example["labels"], columns), t.int32)
        return example["image"], labels, example["index"]

    ds = ds.map(parse, num_parallel_calls=t.data.AUTOTUNE, deterministic=not feed.training)
    if feed.shards > 1:
        ds = ds.filter(lambda x, y, i: i % feed.shards == feed.shard)
    return ds.filter(lambda x, y, i: t.reduce_any(y != MISSING))


def packed_dataset(pack: Pack, config, heads: Heads, columns: list[int], feed: Feed):
    """The training or evaluation dataset of one pack, as `datasets.arrays_dataset` makes
    it from arrays: (normalized image, {head name: class index or -1}) batches."""
    t = tf()
    size = pack.image_size
    ds = records(pack, columns, feed).map(lambda x, y, i: (x, y))
    if feed.training:
        ds = ds.shuffle(shuffle_records(pack, feed.batch_size), seed=feed.seed,
                        reshuffle_each_iteration=True)
    if feed.pad_to is not None:
        blank = t.data.Dataset.from_tensors((t.constant(bytes(pack.record_bytes)),
                                             t.fill([len(columns)], MISSING))).repeat()
        ds = ds.concatenate(blank).take(feed.pad_to)

    def decode(raw):
        return t.reshape(t.io.decode_raw(raw, t.uint8), [-1, size, size, 3])

    return batches(ds, config, heads, feed, decode=decode)
