"""`pipeline data pack`: pixels, shards, index, resume, and the packs training refuses."""
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.data import packs
from pipeline.core.errors import PipelineError
from pipeline.heads.schema import FLOWER_HEADS, Head, Heads
from pipeline.data.images import load_resized
from pipeline.data.labels import load_label_file
from pipeline.data import pack
from test_train import make_split_folder

SIZE = 32
SHARD_MB = 7000 / 2 ** 20  # two 32 px images a shard (3072 bytes + framing each)


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    root = tmp_path_factory.mktemp("pack")
    data = make_split_folder(root / "data", per_split=(9, 4, 4))
    pack.make(data, root / "packed", SIZE, SHARD_MB, workers=2)
    return data, root / "packed"


def read_records(folder: Path) -> list[dict]:
    from pipeline.core.tfcompat import tf

    t = tf()
    out = []
    for name in sorted(p.name for p in folder.glob("shard-*.tfrecord")):
        for raw in t.data.TFRecordDataset(str(folder / name)).as_numpy_iterator():
            feature = t.train.Example.FromString(raw).features.feature
            out.append({"file": name, "image": feature["image"].bytes_list.value[0],
                        "labels": tuple(feature["labels"].float_list.value),
                        "known": tuple(feature["known"].int64_list.value),
                        "index": feature["index"].int64_list.value[0]})
    return out


def test_round_trip_pixels_and_labels_equal_the_loader(packed):
    data, out = packed
    samples = load_label_file(data / "train.txt")
    records = read_records(out / "train")
    assert [r["index"] for r in records] == list(range(len(samples)))
    for record, sample in zip(records, samples):
        pixels = np.frombuffer(record["image"], np.uint8).reshape(SIZE, SIZE, 3)
        np.testing.assert_array_equal(pixels, load_resized(sample.path, SIZE))
        assert record["labels"] == sample.labels  # every column, -1 kept
        assert record["known"] == tuple(int(v != -1) for v in sample.labels)
    assert any(-1 in r["labels"] for r in records)


def test_shard_boundaries_counts_and_index(packed):
    data, out = packed
    index = json.loads((out / "train" / packs.INDEX).read_text())
    assert index["count"] == 9 and index["image_size"] == SIZE
    assert [(s["first"], s["records"]) for s in index["shards"]] == \
        [(0, 2), (2, 2), (4, 2), (6, 2), (8, 1)]
    by_file = {}
    for record in read_records(out / "train"):
        by_file.setdefault(record["file"], []).append(record["index"])
    for shard in index["shards"]:
        assert by_file[shard["file"]] == list(range(shard["first"],
                                                    shard["first"] + shard["records"]))
    assert index["counts"]["flower_type"] == {"rose": 5, "daisy": 4}
    assert index["counts"]["flower_color"]["none"] == 2
    assert sum(index["patterns"].values()) == 9
    assert index["source"]["file"] == str((data / "train.txt").resolve())
    assert index["schema"] == FLOWER_HEADS.to_json()
    pack_ = packs.read_pack(out / "train")
    packs.verify(pack_)
    assert pack_.labelled([0]) == 9 and pack_.labelled([1]) == 7


def test_split_folder_becomes_a_packed_split_folder(packed):
    data, out = packed
    assert packs.is_packed_split_folder(out)
    for split in ("train", "val", "test"):
        copied = load_label_file(out / f"{split}.txt")
        original = load_label_file(data / f"{split}.txt")
        assert [s.path.resolve() for s in copied] == [s.path.resolve() for s in original]
    assert (out / "heads.json").is_file()


def test_rerun_keeps_finished_shards_and_redoes_the_rest(tmp_path):
    data = make_split_folder(tmp_path / "data", per_split=(6, 2, 2))
    out = tmp_path / "p"
    pack.make(data / "train.txt", out, SIZE, SHARD_MB)
    first = {p.name: p.stat().st_mtime_ns for p in out.glob("shard-*")}
    # A killed run: the index not written yet, one shard never renamed into place.
    plan = json.loads((out / packs.INDEX).read_text())
    lost = plan["shards"][1]["file"]
    (out / lost).unlink()
    (out / packs.INDEX).unlink()
    done = {s["file"]: s["sha256"] for s in plan["shards"] if s["file"] != lost}
    (out / packs.PLAN).write_text(json.dumps({**plan, "done": done}))
    pack.make(data / "train.txt", out, SIZE, SHARD_MB)
    again = {p.name: p.stat().st_mtime_ns for p in out.glob("shard-*")}
    assert set(again) == set(first)
    assert all(again[n] == first[n] for n in first if n != lost)  # kept, not rewritten
    assert json.loads((out / packs.INDEX).read_text())["shards"] == plan["shards"]
    assert not (out / packs.PLAN).exists()
    # Another size: everything is made again.
    pack.make(data / "train.txt", out, 40, SHARD_MB)
    assert packs.read_pack(out).image_size == 40


def _cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_bad_images_and_refused_folders(tmp_path):
    data = make_split_folder(tmp_path / "data", per_split=(4, 2, 2))
    (data / "train_1.png").write_bytes(b"not a png")
    result = _cli("data", "pack", data, "--out", tmp_path / "p", "--size", SIZE)
    assert result.exit_code == 1 and "train.txt:2:" in result.output
    assert not (tmp_path / "p" / "train" / packs.INDEX).exists()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    result = _cli("data", "pack", data / "val.txt", "--out", tmp_path / "other", "--size", SIZE)
    assert result.exit_code == 1 and "holds no pack" in result.output
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


# ---- what training refuses: one line, exit 1, the run untouched ------------------------------

@pytest.fixture()
def copy_of_pack(packed, tmp_path):
    import shutil

    _, out = packed
    shutil.copytree(out, tmp_path / "packed")
    return tmp_path / "packed"


def _train(data, run, *extra):
    return _cli("train", "--data", data, "--run", run, "--image-size", SIZE, "--epochs", 1,
                "--batch-size", 4, *extra)


def _damage(folder: Path, how: str) -> str:
    shard = sorted((folder / "val").glob("shard-*"))[1]
    if how == "missing":
        shard.unlink()
        return "shard missing"
    data = bytearray(shard.read_bytes())
    data[100] ^= 0xFF  # same size, other bytes
    shard.write_bytes(bytes(data))
    return "sha256 differs"


@pytest.mark.parametrize("how", ["missing", "corrupt"])
def test_missing_or_corrupt_shard(copy_of_pack, tmp_path, how):
    message = _damage(copy_of_pack, how)
    result = _train(copy_of_pack, tmp_path / "run")
    assert result.exit_code == 1 and message in result.output
    assert result.output.count("\n") == 1 and not (tmp_path / "run").exists()


def test_pack_of_another_size_or_schema(copy_of_pack, tmp_path):
    result = _train(copy_of_pack, tmp_path / "run", "--image-size", 64)
    assert result.exit_code == 1 and "packed at 32 px" in result.output
    index = copy_of_pack / "test" / packs.INDEX
    doc = json.loads(index.read_text())
    other = Heads((*FLOWER_HEADS, Head("size", "size", ("small", "big"))))
    patterns = {f"{key},-1": n for key, n in doc["patterns"].items()}  # a consistent index
    index.write_text(json.dumps({**doc, "schema": other.to_json(), "patterns": patterns}))
    result = _train(copy_of_pack, tmp_path / "run")
    assert result.exit_code == 1 and "packed with heads" in result.output
    assert not (tmp_path / "run").exists()


def test_malformed_shard_list_in_the_index(copy_of_pack, tmp_path):
    index = copy_of_pack / "train" / packs.INDEX
    doc = json.loads(index.read_text())
    doc["shards"][0]["records"] = "many"
    index.write_text(json.dumps(doc))
    result = _train(copy_of_pack, tmp_path / "run")
    assert result.exit_code == 1 and "malformed pack index" in result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output


def test_unfinished_pack_is_not_read(copy_of_pack, tmp_path):
    index = copy_of_pack / "train" / packs.INDEX
    (copy_of_pack / "train" / packs.PLAN).write_text(index.read_text())
    index.unlink()
    result = _train(copy_of_pack, tmp_path / "run")
    assert result.exit_code == 1 and "unfinished pack" in result.output


def test_a_run_recorded_with_other_heads_refuses_the_pack(packed):
    """The run records the schema; a pack rewritten with other heads is refused later too."""
    from pipeline.data.sources import open_source
    from pipeline.core.config import ModelConfig

    _, out = packed
    other = Heads((Head("kind", "kind", ("a", "b")),))
    with pytest.raises(PipelineError, match="packed with heads"):
        open_source(out, "stream", ModelConfig(image_size=SIZE), other, other)
