"""EfficientNet-Lite0 (issue 33): its weights read as data and checked, mapped onto every
layer, bad weights refused in one line, and a tiny Lite0 through train, QAT and export.

The logits against the PyTorch reference are checked in tests/clients (lite0-reference): that
needs torch, which has its own environment there, never the project's.
"""
import json
import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.heads.schema import FLOWER_HEADS
from pipeline.training import pretrained, torch_weights
from pipeline.training.backbones import efficientnet_lite as lite

from test_train import make_split_folder

runner = CliRunner()
ARCH = "efficientnet-lite0"


# ---- a writer of PyTorch's legacy format, for test files (the reader is the product) -------

class _Tensor:
    """Pickles as torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)."""

    def __init__(self, key: str, array: np.ndarray):
        self.key, self.array = key, np.ascontiguousarray(array, np.float32)

    def __reduce__(self):
        size = self.array.shape
        stride = tuple(int(s // 4) for s in self.array.strides)
        return (_rebuild, (_StorageRef(self.key, self.array.size), 0, size, stride, False, {}))


class _StorageRef:
    def __init__(self, key: str, numel: int):
        self.key, self.numel = key, numel


def _rebuild(*args):  # stands in for torch._utils._rebuild_tensor_v2 while pickling
    raise AssertionError("never called")


class _FloatStorage:  # stands in for torch.FloatStorage
    pass


def write_legacy(path: Path, state: dict, extra=None) -> Path:
    """torch.save(state, _use_new_zipfile_serialization=False) without torch: the five pickles
    and the raw storages. `extra` goes into the state dict as is (e.g. something evil)."""
    fake_torch, fake_utils = types.ModuleType("torch"), types.ModuleType("torch._utils")
    fake_torch.FloatStorage, fake_utils._rebuild_tensor_v2 = _FloatStorage, _rebuild
    _FloatStorage.__module__, _FloatStorage.__qualname__ = "torch", "FloatStorage"
    _rebuild.__module__, _rebuild.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    tensors = {name: _Tensor(str(i), a) for i, (name, a) in enumerate(state.items())}

    class Writer(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, _StorageRef):
                return ("storage", _FloatStorage, obj.key, "cpu", obj.numel)
            return None

    saved = {k: sys.modules.get(k) for k in ("torch", "torch._utils")}
    sys.modules.update({"torch": fake_torch, "torch._utils": fake_utils})
    try:
        with open(path, "wb") as f:
            for obj in (torch_weights.MAGIC_NUMBER, torch_weights.PROTOCOL_VERSION,
                        {"protocol_version": 1001, "little_endian": True}):
                pickle.dump(obj, f, protocol=2)
            Writer(f, protocol=2).dump({**tensors, **(extra or {})})
            pickle.dump([t.key for t in tensors.values()], f, protocol=2)
            for t in tensors.values():
                f.write(np.int64(t.array.size).tobytes() + t.array.tobytes())
    finally:
        for k, module in saved.items():
            sys.modules.pop(k) if module is None else sys.modules.__setitem__(k, module)
    return path


def _zeros_state() -> dict:
    return {name: np.zeros(shape, np.float32) for name, shape in lite.expected_shapes().items()}


# ---- the weights -------------------------------------------------------------------------

def test_legacy_reader_returns_the_arrays_written(tmp_path):
    state = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(4, np.float32)}
    back = torch_weights.load_state_dict(write_legacy(tmp_path / "w.pth", state), None)
    assert set(back) == {"a", "b"}
    assert np.array_equal(back["a"], state["a"]) and np.array_equal(back["b"], state["b"])


def test_imagenet_weights_are_checked_and_fill_every_layer_of_the_model():
    from pipeline.core.config import ModelConfig
    from pipeline.training.model import build_model

    state = lite.imagenet_state()  # sha256 checked, every tensor of its shape
    assert set(state) == set(lite.expected_shapes())
    heads = [h.name for h in FLOWER_HEADS]
    weights = lite.keras_weights(state, heads)
    net = build_model(ModelConfig(arch=ARCH, image_size=64), FLOWER_HEADS)
    with_weights = {layer.name for layer in net.layers if layer.weights}
    # A head starts at random only in its logits and its kind's output layer (named the head).
    own = {f"{h}_conv10" for h in heads} | set(heads)
    assert set(weights) == with_weights - own
    for name, arrays in weights.items():  # shapes fit; BN statistics kept (not 0 / 1)
        assert [w.shape for w in net.get_layer(name).get_weights()] == [a.shape for a in arrays]
    assert not np.allclose(weights["stem_bn"][3], 1.0)


def test_altered_builtin_weights_are_refused_before_reading(tmp_path, monkeypatch):
    altered = tmp_path / "lite0.pth"
    data = lite.imagenet_weights_path().read_bytes()
    altered.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # one bit of the last storage
    monkeypatch.setattr(lite, "imagenet_weights_path", lambda: altered)
    with pytest.raises(pretrained.WeightsError, match="sha256 .* is not the expected"):
        lite.imagenet_state()


class _Boom:
    def __reduce__(self):
        import os
        return (os.system, ("echo pwned",))


def _missing(state):
    return {k: v for k, v in state.items() if k != "_blocks.7._project_conv.weight"}


def _wrong_shape(state):
    return {**state, "_conv_head.weight": np.zeros((1280, 320, 3, 3), np.float32)}


@pytest.mark.parametrize("make,message", [
    (lambda d: write_legacy(d / "w.pth", _missing(_zeros_state())),
     "no tensor '_blocks.7._project_conv.weight'"),
    (lambda d: write_legacy(d / "w.pth", _wrong_shape(_zeros_state())),
     "tensor '_conv_head.weight' is (1280, 320, 3, 3), expected (1280, 320, 1, 1)"),
    (lambda d: write_legacy(d / "w.pth", {"x": np.ones(2)}, extra={"evil": _Boom()}),
     "refuses to load global"),
    (lambda d: (d / "w.pth").write_bytes(b"\x80\x02not a checkpoint") and d / "w.pth",
     "not a readable PyTorch legacy checkpoint"),
    (lambda d: (d / "w.npz").write_bytes(b"x") and d / "w.npz", "takes a PyTorch legacy .pth"),
])
def test_bad_weights_are_one_line_and_nothing_is_written(tmp_path, make, message):
    data = make_split_folder(tmp_path / "data")
    result = runner.invoke(app, ["train", "--data", str(data), "--run", str(tmp_path / "run"),
                                 "--arch", ARCH, "--image-size", "32",
                                 "--pretrained", str(make(tmp_path))])
    assert result.exit_code == 1 and message in result.output, result.output
    assert result.output.count("\n") == 1 and not (tmp_path / "run").exists()


@pytest.mark.parametrize("args,message", [
    (["--arch", "efficientnet-b7"], "efficientnet-lite0"),  # the choices are named
    (["--arch", ARCH, "--image-size", "16"], "--image-size"),
])
def test_unknown_arch_or_too_small_image_is_one_line(tmp_path, args, message):
    data = make_split_folder(tmp_path / "data")
    result = runner.invoke(app, ["train", "--data", str(data), "--run", str(tmp_path / "run"),
                                 *args])
    assert result.exit_code != 0 and message in result.output, result.output
    assert not (tmp_path / "run").exists()


# ---- a tiny Lite0 through every stage ----------------------------------------------------

def test_tiny_lite0_trains_quantizes_and_exports_a_self_describing_int8_file(tmp_path):
    """From the ImageNet weights (the default), at 32 px: the int8 file takes camera bytes as
    they are (mean 127, std 128) and names its network; predict reads it with no other code."""
    from helpers_runs import write_tiny_dataset
    from pipeline import api
    from pipeline.modelfile import model_info

    data = write_tiny_dataset(tmp_path / "data", per_class=2)
    run = api.train(data, tmp_path / "run", arch=ARCH, image_size=32, epochs=1, batch_size=12)
    api.quantize(run, epochs=1, lr=1e-4, variants=["int8"])
    info = model_info.read(run.model_file("int8"))
    assert info.about["name"] == "multi-task EfficientNet-Lite0 (flower_type, flower_color)"
    assert info.normalization == lite.NORMALIZATION, info.normalization
    answers = api.predict(run, [data / "images" / "rose_red_0.png"])
    assert set(answers[0]["predictions"]) == {"flower_type", "flower_color"}
