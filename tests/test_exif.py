"""Photos the right way up: the one image loader applies the EXIF Orientation tag, so training,
evaluation, prediction, calibration and `data check` all see what a person sees."""
import numpy as np
import pytest
from helpers_runs import export_known_model
from PIL import Image

from pipeline.heads.schema import FLOWER_HEADS
from pipeline.data.images import ImageError, load_resized, open_rgb
from pipeline.data.labels import Sample, load_label_file, write_label_file

ORIENTATION = 0x0112
# How a viewer turns the stored pixels to show them (EXIF 2.3, Orientation), as numpy does it,
# independently of Pillow: 3 = turn 180 degrees, 6 = turn 90 clockwise, 8 = 90 anticlockwise.
UPRIGHT = {3: lambda a: np.rot90(a, 2), 6: lambda a: np.rot90(a, -1), 8: lambda a: np.rot90(a, 1)}
STORED = {3: lambda a: np.rot90(a, 2), 6: lambda a: np.rot90(a, 1), 8: lambda a: np.rot90(a, -1)}


def scene() -> np.ndarray:
    """48 x 32 (W x H), not square, four colour blocks: red top-left, green top-right, blue
    bottom-left, white bottom-right. Any turn or mirror moves a colour to another corner."""
    pixels = np.zeros((32, 48, 3), np.uint8)
    pixels[:16, :24] = (220, 20, 20)
    pixels[:16, 24:] = (20, 200, 20)
    pixels[16:, :24] = (20, 20, 220)
    pixels[16:, 24:] = (250, 250, 250)
    return pixels


def phone_photo(path, orientation: int, fmt: str = "JPEG") -> np.ndarray:
    """The scene stored as a phone stores it (turned), with the tag that says how to turn it
    back; returns the stored pixels as decoded without the tag."""
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    stored = Image.fromarray(np.ascontiguousarray(STORED[orientation](scene())))
    options = {"quality": 100, "subsampling": 0} if fmt == "JPEG" else {}
    stored.save(path, fmt, exif=exif.tobytes(), **options)
    with Image.open(path) as raw:  # the pixels as stored (no orientation applied)
        return np.asarray(raw.convert("RGB"))


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_rotated_jpeg_is_decoded_upright(tmp_path, orientation):
    path = tmp_path / f"photo_{orientation}.jpg"
    stored = phone_photo(path, orientation)
    upright = np.asarray(open_rgb(path))
    assert upright.shape == scene().shape  # 32 x 48 again, not 48 x 32
    assert np.array_equal(upright, UPRIGHT[orientation](stored))  # exactly the turned pixels
    assert np.abs(upright.astype(int) - scene()).max() <= 8  # and the scene (JPEG noise only)


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_rotated_png_is_decoded_upright(tmp_path, orientation):
    """PNG carries EXIF too (eXIf chunk); lossless, so the upright image is the scene."""
    path = tmp_path / f"photo_{orientation}.png"
    phone_photo(path, orientation, "PNG")
    assert np.array_equal(np.asarray(open_rgb(path)), scene())


def test_every_stage_sees_the_same_upright_pixels(tmp_path):
    """The paths into the loader: data check / label validation, the training and calibration
    arrays, evaluate's pixels and predict's input tensor."""
    from pipeline.data.images import load_batch
    from pipeline.data.datasets import load_arrays
    from pipeline.deploy.predict import prepare_file
    from pipeline.modelfile.runtime import TFLiteModel

    upright, turned = tmp_path / "upright.png", tmp_path / "turned.png"
    Image.fromarray(scene()).save(upright)
    phone_photo(turned, 6, "PNG")
    write_label_file(tmp_path / "labels.txt", [Sample(upright, (0, 0)), Sample(turned, (0, 0))])
    samples = load_label_file(tmp_path / "labels.txt")  # validated and decoded, like data check
    arrays, _ = load_arrays(samples, 16, FLOWER_HEADS)
    assert np.array_equal(arrays[0], arrays[1])
    assert np.array_equal(*load_batch([s.path for s in samples], 16))  # evaluate, bench
    assert np.array_equal(load_resized(turned, 16), load_resized(upright, 16))
    spec = export_known_model(tmp_path / "model", FLOWER_HEADS, size=8, variants=("int8",))
    model = TFLiteModel(tmp_path / "model" / spec["variants"]["int8"]["file"])
    assert np.array_equal(prepare_file(model, turned), prepare_file(model, upright))


def test_photo_without_orientation_is_left_as_it_is(tmp_path):
    path = tmp_path / "plain.jpg"
    Image.fromarray(scene()).save(path, quality=100, subsampling=0)
    with Image.open(path) as raw:
        assert np.array_equal(np.asarray(open_rgb(path)), np.asarray(raw.convert("RGB")))


def test_damaged_exif_is_an_image_error_not_a_crash(tmp_path):
    path = tmp_path / "bad_exif.jpg"
    Image.fromarray(scene()).save(path, exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff")
    try:
        open_rgb(path)  # Pillow may read past the damage; it must not raise anything else
    except ImageError as exc:
        assert str(exc)
