"""Streaming packed shards: the same pixels as the in-memory path, each sample once per epoch
in each worker's share, bounded padding for distributed evaluation."""
import numpy as np
import pytest

from pipeline.core.config import ModelConfig
from pipeline.heads.schema import FLOWER_HEADS
from pipeline.data import pack
from pipeline.data.datasets import Feed
from pipeline.data.sources import open_source
from pipeline.data.stream import records
from test_train import make_split_folder

SIZE = 32
CONFIG = ModelConfig(image_size=SIZE)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("stream")
    data = make_split_folder(root / "data", per_split=(11, 5, 5))
    pack.make(data, root / "packed", SIZE, shard_mb=7000 / 2 ** 20)  # 2 images a shard
    return root / "packed"  # a packed split folder: label files and packs


def sources(folder, heads=FLOWER_HEADS):
    return (open_source(folder, "memory", CONFIG, FLOWER_HEADS, heads),
            open_source(folder, "stream", CONFIG, FLOWER_HEADS, heads))


def batches(dataset):
    return [(x.numpy(), {k: v.numpy() for k, v in y.items()}) for x, y in dataset]


@pytest.mark.parametrize("split", ["train", "val"])
def test_stream_gives_the_model_the_same_pixels_as_memory(folder, split):
    memory, stream = sources(folder)
    assert memory.count(split) == stream.count(split)
    a, b = (batches(s.dataset(split, Feed(4, training=False))) for s in (memory, stream))
    assert len(a) == len(b)
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa, xb)  # normalized float32, bit for bit
        for name in ya:
            np.testing.assert_array_equal(ya[name], yb[name])
            assert ya[name].dtype == yb[name].dtype
    np.testing.assert_array_equal(memory.arrays(split)[0], stream.arrays(split)[0])
    np.testing.assert_array_equal(memory.pixels_at(split, [4, 1]),
                                  stream.pixels_at(split, [1, 4]))


@pytest.mark.parametrize("shards", [1, 2, 3])
def test_every_sample_once_per_epoch_per_worker_share(folder, shards):
    _, stream = sources(folder)
    pack_ = stream.packs["train"]
    seen = []
    for shard in range(shards):
        feed = Feed(4, training=True, seed=shard, shards=shards, shard=shard)
        dataset = records(pack_, stream.columns, feed)
        first = [int(i) for _, i in dataset.as_numpy_iterator()]
        second = [int(i) for _, i in dataset.as_numpy_iterator()]  # another epoch
        assert sorted(first) == sorted(second) == sorted(set(first))
        assert all(i % shards == shard for i in first)
        seen += first
    assert sorted(seen) == list(range(pack_.count))  # disjoint shares, nothing left out
    images = sum(len(x) for x, _ in stream.dataset("train", Feed(4, True, shards=shards)))
    assert images == len([i for i in range(pack_.count) if i % shards == 0])


def test_a_head_subset_drops_images_unlabelled_for_it(folder):
    colour = FLOWER_HEADS.select(["color"])
    memory, stream = sources(folder, colour)
    assert stream.count("train") == memory.count("train") == 11 - 3  # lines 0, 5, 10: -1
    labels = np.concatenate([y["flower_color"] for _, y in batches(
        stream.dataset("train", Feed(4, training=True)))])
    assert len(labels) == 8 and (labels >= 0).all()


@pytest.mark.parametrize("kind", ["memory", "stream"])
def test_distributed_evaluation_padding_and_training_stream(folder, kind):
    source = dict(zip(("memory", "stream"), sources(folder)))[kind]
    padded = batches(source.dataset("val", Feed(2, False, shards=2, shard=1, pad_to=6)))
    labels = np.concatenate([y["flower_type"] for _, y in padded])
    assert [len(x) for x, _ in padded] == [2, 2, 2]
    assert list(labels[2:]) == [-1] * 4  # val has 5 images: worker 1 holds 2, then padding
    stream = source.dataset("train", Feed(4, True, shards=2, shard=0, repeat=True,
                                          drop_remainder=True))
    assert all(x.shape == (4, SIZE, SIZE, 3) for x, _ in stream.take(5))  # endless, full


def test_train_and_qat_stream_a_packed_folder_and_record_it(folder, tmp_path):
    """auto picks the packs; the run records `input: stream`; QAT reads them again (and a
    run from before the key still loads, as memory)."""
    from typer.testing import CliRunner

    from pipeline.cli import app
    from pipeline.core.config import TrainSettings
    from pipeline.rundir.trained import TrainedRun

    run = tmp_path / "run"
    for args in (["train", "--data", folder, "--run", run, "--image-size", SIZE, "--epochs", 1,
                  "--batch-size", 4, "--pretrained", "none"], ["quantize", "--run", run,
                                                               "--epochs", 1,
                                                               "--variants", "int8"]):
        result = CliRunner().invoke(app, [str(a) for a in args])
        assert result.exit_code == 0, result.output[-2000:]
    trained = TrainedRun.open(run)
    assert trained.settings.input == "stream" and trained.settings.distribute == "none"
    assert trained.run.has("qat") and trained.run.has("export")
    assert TrainSettings.from_json({"data": "x", "unknown": 1}).input == "memory"
