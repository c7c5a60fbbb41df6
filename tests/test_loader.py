"""The one image loader: reduced-scale JPEG decoding, ordered parallel decoding with bounded
memory, and the bad files of a user's own photo folder (one line each, the rest answered)."""
import io
import json
import struct
import threading
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from pipeline.data import images
from pipeline.data import packs
from pipeline.data.decode_pool import decode_ordered
from pipeline.core.errors import PipelineError
from pipeline.data.images import ImageError, jpeg_scale, load_resized, open_rgb, resize
from pipeline.core.io import read_json, write_json
from pipeline.rundir.manifest import package_versions


def photo(width: int, height: int) -> Image.Image:
    """A smooth scene with some detail (an upscaled random field), like a real photo."""
    rng = np.random.default_rng(width * height)
    small = Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8))
    return small.resize((width, height), Image.BICUBIC)


@pytest.mark.parametrize("width,height,size,scale", [
    (4032, 3024, 224, 4), (3024, 4032, 224, 4), (4032, 3024, 128, 8), (665, 500, 224, 1),
    (896, 896, 224, 2), (895, 4000, 224, 1), (1792, 1792, 224, 4), (1791, 1791, 224, 2)])
def test_scale_rule_is_what_libjpeg_decodes(tmp_path, width, height, size, scale):
    assert jpeg_scale(width, height, size) == scale
    path = tmp_path / "p.jpg"
    photo(width, height).save(path, quality=92)
    decoded = open_rgb(path, size)
    assert decoded.size == (-(-width // scale), -(-height // scale))


def test_reduced_pixels_stay_close_to_a_full_decode(tmp_path):
    path = tmp_path / "camera.jpg"
    photo(2016, 1512).save(path, quality=92)
    full, reduced = resize(open_rgb(path), 96), load_resized(path, 96)
    diff = np.abs(full.astype(int) - reduced)
    assert jpeg_scale(2016, 1512, 96) == 4
    assert 0 < diff.mean() < 1.0 and diff.max() <= 8


def test_small_photos_and_other_formats_are_decoded_as_before(tmp_path):
    """Below 2 x gap x size, and for every non-JPEG, the pixels are a full decode's."""
    for name in ("small.jpg", "big.png"):
        photo(400 if name == "small.jpg" else 1600, 300 if name == "small.jpg" else 1200).save(
            tmp_path / name)
        assert np.array_equal(load_resized(tmp_path / name, 100),
                              resize(open_rgb(tmp_path / name), 100))


def test_decode_ordered_keeps_order_bounds_memory_and_returns_expected_errors():
    active, most, lock = [0], [0], threading.Lock()

    def load(i):
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        time.sleep(0.002 * ((i * 7) % 5))  # finish out of order
        if i == 5:
            raise ImageError("bad")
        return i * i

    out = []
    for i, value in decode_ordered(range(40), load, (ImageError,), workers=3, ahead=4):
        time.sleep(0.001)
        with lock:
            active[0] -= 1  # consumed: no longer held
        out.append((i, value))
    assert [i for i, _ in out] == list(range(40))
    assert isinstance(out[5][1], ImageError)
    assert all(v == i * i for i, v in out if i != 5)
    assert most[0] <= 4  # never more than `ahead` decoded or decoding at once


def test_decode_ordered_raises_bugs_and_stops_early():
    def load(i):
        if i == 2:
            raise KeyError("bug")
        return i
    with pytest.raises(KeyError):
        list(decode_ordered(range(10), load, (ImageError,), workers=2))
    seen = []
    stream = decode_ordered(iter(range(10 ** 9)), lambda i: seen.append(i) or i, (ImageError,),
                            workers=2)
    for i, _ in stream:
        if i == 3:
            break
    stream.close()
    assert len(seen) < 20  # a lazy input is not read to its end


def bomb_png(path, side=40_000):
    """A PNG whose header says side x side pixels (the data is a 1-pixel image's)."""
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    ihdr = struct.pack(">II", side, side) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    path.write_bytes(bytes(data))


def bomb_jpeg(path, side=40_000):
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", side, side)
    path.write_bytes(bytes(data))


def bad_folder(folder):
    """Good photos (one camera-size) among every kind of bad file the issue names."""
    folder.mkdir()
    photo(64, 48).save(folder / "a_good.jpg")
    photo(1024, 768).save(folder / "b_camera.jpg", quality=92)
    whole = (folder / "b_camera.jpg").read_bytes()
    (folder / "c_truncated.jpg").write_bytes(whole[:len(whole) // 2])
    damaged = bytearray(whole)
    middle = len(whole) // 2
    noise = np.random.default_rng(0).integers(0, 256, 3000, np.uint8)
    damaged[middle:middle + 3000] = noise.tobytes()
    (folder / "d_damaged_scan.jpg").write_bytes(bytes(damaged))
    photo(300, 200).convert("CMYK").save(folder / "e_cmyk.jpg")
    Image.fromarray((np.arange(64 * 48).reshape(48, 64) * 20).astype(np.uint16)).save(
        folder / "f_sixteen_bit.png")
    bomb_png(folder / "g_bomb.png")
    bomb_jpeg(folder / "h_bomb.jpg")
    (folder / "i_not_an_image.jpg").write_text("hello, I am a text file\n")
    return {"c_truncated.jpg", "d_damaged_scan.jpg", "g_bomb.png", "h_bomb.jpg",
            "i_not_an_image.jpg"}


def test_bad_files_raise_image_error_only(tmp_path):
    bad = bad_folder(tmp_path / "photos")
    for path in sorted((tmp_path / "photos").iterdir()):
        if path.name in bad:
            with pytest.raises(ImageError):
                load_resized(path, 32)
            with pytest.raises(ImageError):
                images.check_decodes(path)
        else:
            assert load_resized(path, 32).shape == (32, 32, 3)


def test_predict_answers_the_rest_streams_json_and_fails_at_the_end(tmp_path, capfd):
    from helpers_runs import export_known_model
    from pipeline.heads.schema import FLOWER_HEADS
    from pipeline.options import PredictOptions
    from pipeline.deploy import predict

    bad = bad_folder(tmp_path / "photos")
    spec = export_known_model(tmp_path / "model", FLOWER_HEADS, size=32, variants=("int8",))
    model = tmp_path / "model" / spec["variants"]["int8"]["file"]
    failures = predict.run(PredictOptions(inputs=[tmp_path / "photos"], model=model, json_output=True,
                                                workers=2))
    out, err = capfd.readouterr()
    rows = [json.loads(line) for line in out.splitlines()]
    names = sorted(p.name for p in (tmp_path / "photos").iterdir())
    assert [r["file"].rsplit("/", 1)[1] for r in rows] == [n for n in names if n not in bad]
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert failures == len(bad) == len(errors)
    assert all(any(name in line for line in errors) for name in bad)
    assert "5 input(s) failed" in err


def test_pack_made_by_another_loader_is_refused(tmp_path):
    from pipeline.heads.schema import FLOWER_HEADS
    from pipeline.data.labels import Sample, write_label_file
    from pipeline.data import pack

    photo(200, 150).save(tmp_path / "a.jpg")
    write_label_file(tmp_path / "all.txt", [Sample(tmp_path / "a.jpg", (0, 1))])
    pack.make(tmp_path / "all.txt", tmp_path / "packed", 32)
    index = read_json(tmp_path / "packed" / packs.INDEX)
    assert index["loader"] == images.LOADER
    assert packs.read_pack(tmp_path / "packed").schema == FLOWER_HEADS
    for other in ("pil-full-decode/0", None):
        write_json(tmp_path / "packed" / packs.INDEX, {**index, "loader": other})
        with pytest.raises(PipelineError, match="pack the data again"):
            packs.read_pack(tmp_path / "packed")


def test_run_manifest_names_the_loader():
    assert package_versions()["image_loader"] == images.LOADER
