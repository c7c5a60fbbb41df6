"""Pretrained weights: read as data only, checked, converted exactly, frozen as the schedule says."""
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.heads.schema import FLOWER_HEADS
from pipeline.training import backbones, pretrained
from pipeline.training.backbones.squeezenet import keras_names, reference_layout

from test_train import make_split_folder

REAL = Path(__file__).resolve().parents[2] / "shared" / "flowers-real"


@pytest.fixture(scope="module")
def imagenet():
    return pretrained.imagenet_squeezenet11()


class _Boom:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_restricted_unpickler_refuses_any_other_global(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"conv1": [_Boom(), np.zeros(3)]}))
    with pytest.raises(pretrained.WeightsError, match="refuses to load global posix.system"):
        pretrained.load_pickle(path)


def test_builtin_weights_are_checked_before_unpickling(tmp_path, monkeypatch):
    altered = tmp_path / "squeezenet_weights.pkl"
    altered.write_bytes(pretrained.ndf_weights_path().read_bytes() + b"\0")
    monkeypatch.setattr(pretrained, "ndf_weights_path", lambda: altered)
    with pytest.raises(pretrained.WeightsError, match="sha256 .* is not the expected"):
        pretrained.imagenet_squeezenet11()


def test_every_layer_has_its_name_and_shape(imagenet):
    layout = reference_layout(classes=1000)
    assert sorted(imagenet) == sorted(layout)
    for name, (kernel, bias) in layout.items():
        assert imagenet[name][0].shape == kernel and imagenet[name][1].shape == bias, name
        assert imagenet[name][0].dtype == np.float32
    loaded = backbones.get("squeezenet1.1").source("imagenet").load(FLOWER_HEADS.names)
    # conv1, fire2..fire8 (3 convs each) in the trunk, fire9 once per head; no conv10.
    assert len(loaded) == 1 + 7 * 3 + 3 * len(FLOWER_HEADS)
    assert "flower_color_fire9_expand3x3_conv" in loaded and "conv10" not in str(loaded)
    assert keras_names("fire9/squeeze1x1", ["a", "b"]) == ["a_fire9_squeeze_conv",
                                                          "b_fire9_squeeze_conv"]


def test_caffe_conversion_is_the_same_function_at_a_128th_of_the_scale():
    """conv1 on BGR - mean equals 128 x the converted conv1 on (RGB - 128) / 128 (no padding
    involved: a 'valid' window), and the other biases are divided by 128."""
    rng = np.random.default_rng(0)
    kernel, bias = rng.normal(size=(3, 3, 3, 4)).astype(np.float32), rng.normal(size=4)
    weights = {"conv1": [kernel, bias.astype(np.float32)], "next": [kernel, bias * 2]}
    out = pretrained.convert_caffe(weights, "conv1", pretrained.CAFFE_BGR_MEAN,
                                   pretrained.IMAGENET_NORMALIZATION)
    patch = rng.integers(0, 256, (3, 3, 3)).astype(np.float64)  # RGB pixels
    caffe = patch[..., ::-1] - np.asarray(pretrained.CAFFE_BGR_MEAN)
    expected = np.einsum("hwc,hwco->o", caffe, kernel) + bias
    ours = np.einsum("hwc,hwco->o", (patch - 128) / 128, out["conv1"][0]) + out["conv1"][1]
    np.testing.assert_allclose(128 * ours, expected, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(out["next"][1], bias * 2 / 128, rtol=1e-6)


@pytest.mark.skipif(not REAL.is_dir(), reason="needs ../shared/flowers-real beside the repo")
def test_loaded_trunk_reproduces_the_numpy_reference_on_real_photos():
    from pipeline.data.images import load_resized
    from pipeline.training.backbones.squeezenet import imagenet_classifier

    size = 224  # the reference's fixed 13x13 average pool needs 224 (or 227) px
    paths = sorted((REAL / "images").glob("*.jpg"))[:10]
    pixels = np.stack([load_resized(p, size) for p in paths])
    reference = pretrained.reference_probs(pixels)
    logits = 128 * imagenet_classifier(size).predict((pixels - 128.0) / 128.0, verbose=0)
    ours = np.exp(logits - logits.max(1, keepdims=True))
    ours /= ours.sum(1, keepdims=True)
    assert (ours.argmax(1) == reference.argmax(1)).all()
    assert np.abs(ours - reference).max() < 1e-3


def _train(*args):
    return CliRunner().invoke(app, ["train", *map(str, args)])


@pytest.mark.parametrize("make,message", [
    (lambda d: d / "missing.npz", "weights file not found"),
    (lambda d: _npz(d, {"conv1/kernel": np.zeros((3, 3, 3, 64))}), "layer 'conv1' has no bias"),
    (lambda d: _npz(d, {k: v for k, v in _full().items() if "fire7" not in k}),
     "no [kernel, bias] for layer 'fire7/squeeze1x1'"),
    (lambda d: _npz(d, {**_full(), "fire2/squeeze1x1/kernel": np.zeros((1, 1, 64, 8))}),
     "fire2/squeeze1x1' kernel is (1, 1, 64, 8)"),
    (lambda d: _evil(d), "refuses to load global"),
    (lambda d: _write(d / "w.txt", b"hi"), "must be a .npz"),
])
def test_bad_weights_fail_with_one_line_and_touch_nothing(tmp_path, make, message):
    data = make_split_folder(tmp_path / "data")
    path = make(tmp_path)
    result = _train("--data", data, "--run", tmp_path / "run", "--image-size", 32,
                    "--pretrained", path)
    assert result.exit_code == 1 and message in result.output, result.output
    assert result.output.count("\n") == 1 and not (tmp_path / "run").exists()


def test_squeezenet10_has_no_imagenet_weights(tmp_path):
    data = make_split_folder(tmp_path / "data")
    result = _train("--data", data, "--run", tmp_path / "run", "--arch", "squeezenet1.0",
                    "--pretrained", "imagenet")
    assert result.exit_code == 1 and "no pretrained weights ship for squeezenet1.0" in result.output
    assert not (tmp_path / "run").exists()


def _full() -> dict:
    arrays = {}
    for layer, (kernel, bias) in reference_layout().items():
        arrays[f"{layer}/kernel"] = np.zeros(kernel, np.float32)
        arrays[f"{layer}/bias"] = np.zeros(bias, np.float32)
    return arrays


def _npz(folder: Path, arrays: dict) -> Path:
    np.savez(folder / "weights.npz", **arrays)
    return folder / "weights.npz"


def _evil(folder: Path) -> Path:
    return _write(folder / "weights.pkl", pickle.dumps({"conv1": [_Boom(), 1]}))


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_npz_weights_load_like_the_builtin_ones(tmp_path, imagenet):
    arrays = {f"{layer}/{part}": pair[i] for layer, pair in imagenet.items()
              for i, part in enumerate(("kernel", "bias"))}
    source = backbones.get("squeezenet1.1").source(str(_npz(tmp_path, arrays)))
    builtin = backbones.get("squeezenet1.1").source("imagenet")
    a, b = source.load(["x"]), builtin.load(["x"])
    assert sorted(a) == sorted(b)
    for name in a:
        np.testing.assert_array_equal(a[name][0], b[name][0])


def test_frozen_phase_trains_only_the_heads_then_everything():
    from pipeline.core.config import ModelConfig
    from pipeline.training.fitting import initial_model, phases
    from pipeline.training.multitask import MultiTask
    from pipeline.training.optimizer import build_optimizer

    assert phases(10, 2) == [(0, 2, True), (2, 10, False)] and phases(5, 0) == [(0, 5, False)]
    weights = backbones.get("squeezenet1.1").source("imagenet").load(FLOWER_HEADS.names)
    net = initial_model(ModelConfig(image_size=32, batchnorm=False), FLOWER_HEADS, weights)
    trainer = MultiTask(net, FLOWER_HEADS)
    trainer.prepare(build_optimizer(1e-3, 4, frozen_steps=2))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 32, 32, 3)).astype(np.float32)
    y = {"flower_type": np.array([0, 1, 0, 1]), "flower_color": np.array([0, 1, 2, 0])}

    def moved(name):
        return not np.array_equal(net.get_layer(name).get_weights()[0], weights[name][0])

    trainer.freeze_trunk(True)
    trainer.fit(x, y, epochs=2, verbose=0)
    assert not moved("conv1_conv") and not moved("fire8_expand3x3_conv")
    assert moved("flower_type_fire9_squeeze_conv") and moved("flower_color_fire9_expand1x1_conv")
    trainer.freeze_trunk(False)
    trainer.fit(x, y, epochs=1, verbose=0)
    assert moved("conv1_conv") and moved("fire8_expand3x3_conv")


def test_pretrained_run_records_where_it_started(tmp_path):
    data = make_split_folder(tmp_path / "data")
    result = _train("--data", data, "--run", tmp_path / "run", "--image-size", 32,
                    "--epochs", 2, "--batch-size", 8)
    assert result.exit_code == 0, result.output[-1500:]
    assert "initialised 28 of 30 layers with imagenet weights" in result.output
    assert "epochs 1-1: heads only, trunk frozen" in result.output
    settings = json.loads((tmp_path / "run/manifest.json").read_text())["stages"]["train"]
    assert settings["settings"]["pretrained"] == "imagenet"
    assert settings["settings"]["freeze_epochs"] == 1 and settings["settings"]["lr"] == 3e-4
    config = json.loads((tmp_path / "run/train/model_config.json").read_text())
    assert config["batchnorm"] is False and config["normalization"]["std"] == [128.0] * 3
