"""`pipeline data check | split | from-folders` through the CLI, on good and broken inputs."""
from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.data.images import open_rgb
from pipeline.data.labels import load_label_file, read_label_file

runner = CliRunner()
REAL = Path(__file__).resolve().parents[2] / "shared" / "flowers-real" / "labels.txt"


def cli(*args: str):
    return runner.invoke(app, ["data", *map(str, args)])


def photo(path: Path, mode: str = "RGB", fmt: str = "JPEG", size: int = 16) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    noise = np.random.default_rng(len(path.name)).integers(0, 255, (size, size, 3), np.uint8)
    Image.fromarray(noise).convert(mode).save(path, fmt)
    return path


def png_header(width: int, height: int) -> bytes:
    """A PNG that only claims its size: enough for a decompression bomb."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = lambda kind, data: (struct.pack(">I", len(data)) + kind + data  # noqa: E731
                                + struct.pack(">I", zlib.crc32(kind + data)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def truncated_jpeg(path: Path) -> None:
    data = photo(path, size=64).read_bytes()
    path.write_bytes(data[: len(data) // 2])


# ---- data check: the bad-input corpus --------------------------------------------------------

def _bad_image(name: str, make):
    """A label file whose line 3 names one broken image (lines 1-2: a comment and a good one)."""
    def build(folder: Path) -> bytes:
        photo(folder / "images" / "good.jpg")
        make(folder / "images" / name)
        return f"# corpus\nimages/good.jpg, 0, 0\nimages/{name}, 1, 2\n".encode()
    return build


CORPUS = {  # case: (label file builder, line of the problem, part of the reason)
    "wrong field count": (lambda f: b"images/good.jpg, 0\n", 1, "expected 3 comma-separated"),
    "too many fields": (lambda f: b"\n\nimages/good.jpg, 0, 1, 1\n", 3, "found 4"),
    "non-integer": (lambda f: b"images/good.jpg, rose, 1\n", 1, "'rose' is not an integer"),
    "float index": (lambda f: b"images/good.jpg, 0, 1.0\n", 1, "is not an integer"),
    "type out of range": (lambda f: b"images/good.jpg, 2, 1\n", 1, "type label 2 out of range"),
    "colour out of range": (lambda f: b"images/good.jpg, 0, 3\n", 1, "label 3 out of range"),
    "minus two": (lambda f: b"images/good.jpg, -2, 0\n", 1, "out of range"),
    "empty path": (lambda f: b", 0, 0\n", 1, "empty image path"),
    "undecodable bytes": (lambda f: b"images/good.jpg, 0, 0\nimages/\xff\xfe.jpg, 0, 0\n", 2,
                          "not UTF-8"),
    "missing image": (_bad_image("gone.jpg", lambda p: None), 3, "image not found"),
    "zero-byte image": (_bad_image("empty.jpg", lambda p: p.write_bytes(b"")), 3, "0 bytes"),
    "truncated jpeg": (_bad_image("cut.jpg", truncated_jpeg), 3, "cannot decode image"),
    "not an image": (_bad_image("notes.jpg", lambda p: p.write_text("shopping list")), 3,
                     "not an image"),
    "a folder": (_bad_image("folder.jpg", lambda p: p.mkdir()), 3, "not a file"),
    "decompression bomb": (_bad_image("bomb.png", lambda p: p.write_bytes(
        png_header(100_000, 100_000))), 3, "too large"),
    "too many pixels": (_bad_image("huge.png", lambda p: p.write_bytes(png_header(8000, 8000))),
                        3, "too large to be a photo"),
}


@pytest.mark.parametrize("case", CORPUS)
def test_check_reports_file_and_line(case, tmp_path):
    build, line, reason = CORPUS[case]
    (tmp_path / "images").mkdir()
    photo(tmp_path / "images" / "good.jpg")
    labels = tmp_path / "labels.txt"
    labels.write_bytes(build(tmp_path))
    result = cli("check", labels)
    assert result.exit_code == 1, result.output
    lines = [l for l in result.output.splitlines() if l.startswith(f"{labels}:{line}: ")]
    assert lines and reason in lines[0], result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("content", [b"", b"# only a comment\n\n   \n"])
def test_check_an_empty_file(content, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_bytes(content)
    result = cli("check", labels)
    assert result.exit_code == 1
    assert f"{labels}: label file has no images" in result.output


def test_check_missing_label_file(tmp_path):
    result = cli("check", tmp_path / "nope.txt")
    assert result.exit_code == 1 and "label file not found" in result.output


def test_both_labels_missing_is_a_warning_only(tmp_path):
    photo(tmp_path / "a.jpg")
    photo(tmp_path / "b.jpg")
    labels = tmp_path / "labels.txt"
    labels.write_text("a.jpg, 0, 1\nb.jpg, -1, -1\n")
    result = cli("check", labels)
    assert result.exit_code == 0, result.output
    assert f"{labels}:2: warning: no label for any task" in result.output
    assert "OK, 1 warning" in result.output


def test_check_lists_every_problem_and_counts(tmp_path):
    for name in "abc":
        photo(tmp_path / f"{name}.jpg")
    labels = tmp_path / "labels.txt"
    labels.write_text("a.jpg, 0, 0\nb.jpg, 1, 2\nc.jpg, 1, 9\nmissing.jpg, 0, -1\n")
    result = cli("check", labels)
    assert result.exit_code == 1
    assert f"{labels}:3: color label 9 out of range" in result.output
    assert f"{labels}:4: " in result.output and "image not found" in result.output
    assert "2 errors" in result.output
    header, table = result.output.splitlines()[1:3]
    assert header.split() == ["images", "|", "rose", "daisy", "none", "|", "red", "pink",
                              "white", "none"]
    assert table.split()[1:] == ["3", "|", "2", "1", "0", "|", "1", "0", "1", "1"]


def test_check_repeated_images(tmp_path):
    photo(tmp_path / "a.jpg")
    labels = tmp_path / "labels.txt"
    labels.write_text("a.jpg, 0, 1\n./a.jpg, 0, 1\n")
    result = cli("check", labels)
    assert result.exit_code == 0 and f"{labels}:2: warning: " in result.output
    assert "already listed on line 1" in result.output
    labels.write_text("a.jpg, 0, 1\na.jpg, 1, 1\n")
    result = cli("check", labels)
    assert result.exit_code == 1 and "already listed on line 1 with other labels" in result.output


UNUSUAL = {  # fine but unusual images: accepted, and all become 8-bit RGB
    "grayscale.jpg": lambda p: photo(p, "L"),
    "rgba.png": lambda p: photo(p, "RGBA", "PNG"),
    "palette.png": lambda p: photo(p, "P", "PNG"),
    "cmyk.jpg": lambda p: photo(p, "CMYK"),
    "sixteen.png": lambda p: Image.fromarray(
        np.full((8, 8), 65535, np.uint16)).save(p, "PNG"),
}


def test_unusual_images_are_accepted_as_rgb(tmp_path):
    lines = []
    for name, make in UNUSUAL.items():
        make(tmp_path / name)
        lines.append(f"{name}, 0, 2")
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(lines) + "\n")
    result = cli("check", labels)
    assert result.exit_code == 0, result.output
    assert "OK, 0 warnings, 5 images" in result.output
    for name in UNUSUAL:
        assert open_rgb(tmp_path / name).mode == "RGB"
    assert Image.open(tmp_path / "sixteen.png").mode.startswith("I")  # really 16-bit
    assert np.asarray(open_rgb(tmp_path / "sixteen.png")).min() == 255  # scaled, not clipped


# ---- data split ---------------------------------------------------------------------------

@pytest.fixture
def dataset(tmp_path) -> Path:
    """60 tiny photos over every (type, colour) pair, plus images without a colour label."""
    lines = []
    for i in range(60):
        t, c = i % 2, (i // 2) % 4 - 1
        lines.append(f"images/{i:02d}.jpg, {t}, {c}")
        photo(tmp_path / "data" / "images" / f"{i:02d}.jpg", size=8)
    (tmp_path / "data" / "all.txt").write_text("\n".join(lines) + "\n")
    return tmp_path / "data" / "all.txt"


def test_split_writes_valid_disjoint_stratified_files(dataset, tmp_path):
    out = tmp_path / "elsewhere" / "splits"
    result = cli("split", dataset, "--out", out)
    assert result.exit_code == 0, result.output
    parts = {n: load_label_file(out / f"{n}.txt") for n in ("train", "val", "test")}  # paths valid
    # 8 strata of 7 or 8 images; cuts follow running totals, so the sizes are exactly 60/25/15
    assert [len(parts[n]) for n in ("train", "val", "test")] == [36, 15, 9]
    assert all(len({s.labels for s in part}) == 8 for part in parts.values())
    paths = [s.path.resolve() for part in parts.values() for s in part]
    assert len(set(paths)) == 60 == len(paths)
    assert "train" in result.output and "total" in result.output
    assert result.output.split("total")[1].split()[:1] == ["60"]


def test_split_is_deterministic_and_refuses_to_overwrite(dataset, tmp_path):
    out = tmp_path / "splits"
    assert cli("split", dataset, "--out", out, "--seed", "3").exit_code == 0
    first = {n: (out / f"{n}.txt").read_bytes() for n in ("train", "val", "test")}
    result = cli("split", dataset, "--out", out, "--seed", "3")
    assert result.exit_code == 1
    assert "already exists" in result.output and "--force" in result.output
    assert cli("split", dataset, "--out", out, "--seed", "3", "--force").exit_code == 0
    assert {n: (out / f"{n}.txt").read_bytes() for n in first} == first
    assert cli("split", dataset, "--out", out, "--seed", "4", "--force").exit_code == 0
    assert (out / "train.txt").read_bytes() != first["train"]


def test_split_never_puts_a_repeated_image_in_two_splits(dataset, tmp_path):
    text = dataset.read_text()
    dataset.write_text(text + text.replace("images/", "./images/"))  # every image twice
    result = cli("split", dataset, "--out", tmp_path / "s")
    assert result.exit_code == 0, result.output
    assert "already listed" in result.stderr
    paths = [s.path.resolve() for n in ("train", "val", "test")
             for s in load_label_file(tmp_path / "s" / f"{n}.txt", images=False)]
    assert len(paths) == len(set(paths)) == 60
    dataset.write_text(text + "images/00.jpg, 1, 2\n")
    result = cli("split", dataset, "--out", tmp_path / "t")
    assert result.exit_code == 1 and f"{dataset}:61: " in result.output
    assert "with other labels" in result.output


@pytest.mark.parametrize("ratios", ["0.5,0.5", "0.7,0.2,0.2", "a,b,c", "0.6;0.25;0.15"])
def test_split_rejects_bad_ratios(dataset, tmp_path, ratios):
    result = cli("split", dataset, "--out", tmp_path / "s", "--ratios", ratios)
    assert result.exit_code == 1 and "--ratios" in result.output
    assert not (tmp_path / "s" / "train.txt").exists()


def test_split_validates_its_input_first(dataset, tmp_path):
    (dataset.parent / "images" / "07.jpg").write_bytes(b"")
    result = cli("split", dataset, "--out", tmp_path / "s")
    assert result.exit_code == 1
    assert result.output.startswith(f"error: {dataset}:8: ") and "0 bytes" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "s" / "train.txt").exists()


@pytest.mark.skipif(not REAL.is_file(), reason="../shared/flowers-real is not beside the checkout")
def test_split_of_the_real_photos(tmp_path):
    result = cli("split", REAL, "--out", tmp_path)
    assert result.exit_code == 0, result.output
    samples, problems = read_label_file(tmp_path / "test.txt")
    assert not problems and all(s.path.is_file() for s in samples)
    # The collection grows between sessions: compare with its own label file, not a count.
    rows = len(read_label_file(REAL)[0])
    split_rows = sum(len(read_label_file(tmp_path / f"{name}.txt")[0]) for name in ("train", "val", "test"))
    assert result.output.split("total")[1].split()[0] == str(rows) == str(split_rows)


# ---- data from-folders --------------------------------------------------------------------

def test_from_folders_accepts_the_three_layouts(tmp_path):
    root = tmp_path / "photos"
    photo(root / "rose_red" / "a.jpg")
    photo(root / "rose_red" / "trip" / "b.jpg")  # nested folders are fine
    photo(root / "daisy" / "white" / "c.png", fmt="PNG")
    photo(root / "daisy" / "d.jpg")  # daisy without a colour label
    photo(root / "Rose" / "Pink" / "e.jpg")
    (root / "rose_red" / "notes.txt").write_text("not a photo")
    (root / "rose_red" / ".hidden.jpg").write_text("")
    photo(root / "rose_red" / ".thumbnails" / "a.jpg")
    out = tmp_path / "lists" / "labels.txt"
    result = cli("from-folders", root, "--out", out)
    assert result.exit_code == 0, result.output
    got = {s.path.name: s.labels for s in load_label_file(out)}
    assert got == {"a.jpg": (0, 0), "b.jpg": (0, 0), "c.png": (1, 2), "d.jpg": (1, -1),
                   "e.jpg": (0, 1)}
    assert "../photos/" in out.read_text()  # relative to the label file's folder
    assert cli("check", out).exit_code == 0


@pytest.mark.parametrize("layout, message", [
    ("tulip/a.jpg", "unknown folder"),
    ("rose_blue/a.jpg", "unknown folder"),
    ("rose_red_extra/a.jpg", "unknown folder"),
    ("daisy/blue/a.jpg", "unknown folder 'blue' for flower_color"),
])
def test_from_folders_names_what_it_accepts(tmp_path, layout, message):
    photo(tmp_path / "photos" / layout)
    result = cli("from-folders", tmp_path / "photos", "--out", tmp_path / "l.txt")
    assert result.exit_code == 1
    assert message in result.output and result.output.startswith("error: ")
    assert "rose_red" in result.output and "daisy_white" in result.output
    assert not (tmp_path / "l.txt").exists()


def test_from_folders_with_heads_of_your_own(tmp_path):
    root = tmp_path / "cars"
    photo(root / "suv_volvo" / "a.jpg")
    photo(root / "sedan" / "audi" / "b.jpg")
    photo(root / "sedan" / "c.jpg")
    photo(root / "suv_audi" / "d.jpg")
    out = tmp_path / "lists" / "labels.txt"
    result = cli("from-folders", root, "--out", out, "--heads", "kind,make")
    assert result.exit_code == 0, result.output
    schema = json.loads((tmp_path / "lists" / "heads.json").read_text())
    assert schema == {"heads": [{"name": "kind", "short": "kind", "classes": ["sedan", "suv"]},
                                {"name": "make", "short": "make", "classes": ["audi", "volvo"]}]}
    got = {s.path.name: s.labels for s in load_label_file(out)}
    assert got == {"a.jpg": (1, 1), "b.jpg": (0, 0), "c.jpg": (0, -1), "d.jpg": (1, 0)}
    assert cli("check", out).exit_code == 0
    one = cli("from-folders", root, "--out", tmp_path / "one" / "l.txt", "--heads", "group")
    assert one.exit_code == 0, one.output
    assert {s.labels for s in load_label_file(tmp_path / "one" / "l.txt")} == {(0,), (1,), (2,)}
    bad = cli("from-folders", root, "--out", tmp_path / "x.txt", "--heads", "Kind,make")
    assert bad.exit_code == 1 and "must be lower-case" in bad.output


def test_split_keeps_the_schema_of_its_input(tmp_path):
    root = tmp_path / "cars"
    for i in range(10):
        photo(root / ("suv" if i % 2 else "sedan") / f"{i}.jpg")
    assert cli("from-folders", root, "--out", tmp_path / "all" / "l.txt", "--heads", "kind"
               ).exit_code == 0
    result = cli("split", tmp_path / "all" / "l.txt", "--out", tmp_path / "splits")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "splits" / "heads.json").read_text() == \
        (tmp_path / "all" / "heads.json").read_text()
    assert len(read_label_file(tmp_path / "splits" / "train.txt")[0][0].labels) == 1


def test_a_broken_schema_is_one_line(tmp_path):
    photo(tmp_path / "a.jpg")
    (tmp_path / "labels.txt").write_text("a.jpg, 1\n")
    (tmp_path / "heads.json").write_text('{"heads": [{"name": "kind", "classes": ["x"]}]}')
    result = cli("check", tmp_path / "labels.txt")
    assert result.exit_code == 1 and "heads.json: head 1 (kind): classes must be 2" in result.output
    assert result.output.count("\n") == 1


def test_from_folders_without_images_or_folder(tmp_path):
    (tmp_path / "photos" / "rose_red").mkdir(parents=True)
    result = cli("from-folders", tmp_path / "photos", "--out", tmp_path / "l.txt")
    assert result.exit_code == 1 and "no images found" in result.output
    result = cli("from-folders", tmp_path / "nowhere", "--out", tmp_path / "l.txt")
    assert result.exit_code == 1 and "not found" in result.output


# ---- the installed script -----------------------------------------------------------------

def test_installed_script_checks_a_label_file(tmp_path):
    photo(tmp_path / "a.jpg")
    labels = tmp_path / "labels.txt"
    labels.write_text("a.jpg, 1, 2\na.jpg, 1\n")
    script = Path(sys.executable).parent / "pipeline"
    run = subprocess.run([str(script), "data", "check", str(labels)], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 1, run.stderr
    assert f"{labels}:2: expected 3 comma-separated fields" in run.stdout
    assert "1 error" in run.stdout and "Traceback" not in run.stderr


# ---- data split --negatives: bad negatives files (issue 34) -------------------------------

@pytest.mark.parametrize("line,message", [
    ("neg/cat.jpg,", "negatives.txt:2: expected `path, kind`"),  # empty kind
    ("neg/cat.jpg, dog, cat", "negatives.txt:2: a negatives file has `path, kind`"),  # a comma
    ("neg/cat.jpg, a/b", "negatives.txt:2: expected `path, kind`"),  # a kind that is a path
    ("neg/broken.jpg, not_flower", "negatives.txt:2:"),  # does not decode
])
def test_bad_negatives_file_is_one_line_and_nothing_is_written(tmp_path, line, message):
    for i in range(10):
        photo(tmp_path / "img" / f"{i}.jpg")
    (tmp_path / "all.txt").write_text("".join(f"img/{i}.jpg, {i % 2}, {i % 3}\n"
                                              for i in range(10)))
    photo(tmp_path / "neg" / "cat.jpg")
    (tmp_path / "neg" / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    negatives = tmp_path / "negatives.txt"
    negatives.write_text(f"neg/cat.jpg, not_flower\n{line}\n")
    out = tmp_path / "split"
    result = cli("split", tmp_path / "all.txt", "--out", out, "--negatives", negatives)
    assert result.exit_code != 0 and message in result.output, result.output
    assert result.output.strip().count("\n") == 0, result.output  # one line
    assert not out.exists()
