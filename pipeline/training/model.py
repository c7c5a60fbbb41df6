"""Multi-head SqueezeNet in the tf_keras functional API.

A shared trunk up to fire8 + maxpool8 (the article's split point), then one head per task:
its own fire9, dropout, a 1x1 conv to the class count, global average pooling, softmax.
Conv -> BatchNorm -> ReLU everywhere: BN makes training from scratch reliable, and tfmot
folds the Conv+BN+ReLU pattern during quantization-aware training.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from pipeline.core.heads import Heads
from pipeline.core.tfcompat import keras

ARCHS = ("squeezenet1.0", "squeezenet1.1")
# x = (pixel - 128) / 128: a uint8 input then quantizes exactly (scale 1/128, zero point 128).
DEFAULT_NORMALIZATION = {"mean": [128.0, 128.0, 128.0], "std": [128.0, 128.0, 128.0]}

# (squeeze, expand) filters of fire2..fire8, from the SqueezeNet paper.
FIRES = {2: (16, 64), 3: (16, 64), 4: (32, 128), 5: (32, 128), 6: (48, 192), 7: (48, 192),
         8: (64, 256)}
# After which fire module a 3x3/2 max pool follows ("conv1" = right after the stem).
POOLS = {"squeezenet1.0": ("conv1", 4, 8), "squeezenet1.1": ("conv1", 3, 5, 8)}
HEAD_FIRE = (64, 256)


@dataclass
class ModelConfig:
    arch: str = "squeezenet1.1"
    image_size: int = 224
    dropout: float = 0.5
    normalization: dict = field(default_factory=lambda: dict(DEFAULT_NORMALIZATION))

    def __post_init__(self):
        if self.arch not in ARCHS:
            raise ValueError(f"unknown arch {self.arch!r}; choose from {', '.join(ARCHS)}")
        if self.image_size < 32:
            raise ValueError(f"image size {self.image_size} is too small (at least 32)")

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "ModelConfig":
        return cls(**{k: data[k] for k in ("arch", "image_size", "dropout", "normalization")
                      if k in data})


def conv_bn_relu(x, filters: int, kernel: int, name: str, strides: int = 1):
    k = keras()
    x = k.layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False,
                        kernel_initializer="he_normal", name=f"{name}_conv")(x)
    x = k.layers.BatchNormalization(name=f"{name}_bn")(x)
    return k.layers.ReLU(name=f"{name}_relu")(x)


def fire(x, squeeze: int, expand: int, name: str):
    """1x1 squeeze, then 1x1 and 3x3 expand convs concatenated on channels."""
    k = keras()
    s = conv_bn_relu(x, squeeze, 1, f"{name}_squeeze")
    e1 = conv_bn_relu(s, expand, 1, f"{name}_expand1x1")
    e3 = conv_bn_relu(s, expand, 3, f"{name}_expand3x3")
    return k.layers.Concatenate(name=f"{name}_concat")([e1, e3])


def maxpool(x, name: str):
    return keras().layers.MaxPooling2D(3, strides=2, padding="same", name=name)(x)


def trunk(image, arch: str):
    """conv1 .. fire8 + maxpool8, shared by every head."""
    pools = POOLS[arch]
    if arch == "squeezenet1.0":
        x = conv_bn_relu(image, 96, 7, "conv1", strides=2)
    else:
        x = conv_bn_relu(image, 64, 3, "conv1", strides=2)
    x = maxpool(x, "maxpool1")
    for number, (squeeze, expand) in FIRES.items():
        x = fire(x, squeeze, expand, f"fire{number}")
        if number in pools:
            x = maxpool(x, f"maxpool{number}")
    return x


def head(x, name: str, num_classes: int, dropout: float):
    k = keras()
    x = fire(x, *HEAD_FIRE, f"{name}_fire9")
    x = k.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    x = k.layers.Conv2D(num_classes, 1, kernel_initializer="he_normal",
                        name=f"{name}_conv10")(x)
    x = k.layers.GlobalAveragePooling2D(name=f"{name}_pool")(x)
    return k.layers.Softmax(name=name)(x)


def build_model(config: ModelConfig, heads: Heads):
    """Input `image` (normalized float32, NHWC); one softmax output per head, named by it."""
    k = keras()
    image = k.Input((config.image_size, config.image_size, 3), name="image")
    shared = trunk(image, config.arch)
    outputs = {h.name: head(shared, h.name, h.num_classes, config.dropout) for h in heads}
    return k.Model(image, outputs, name=f"{config.arch.replace('.', '_')}_multitask")
