"""The multi-task model: a backbone's shared trunk, then one head per task, in tf_keras.

The trunk runs to the article's split point (SqueezeNet: fire8 + maxpool8); each head is the
backbone's per-task branch (SqueezeNet: its own fire9, dropout, 1x1 conv, global average
pooling) and the head kind's output layer (core/kinds: softmax with room for "none of these",
a sigmoid per class, or one number), which carries the head's name.
"""
from __future__ import annotations

from pipeline.core.config import DEFAULT_NORMALIZATION, ModelConfig  # noqa: F401 (re-export)
from pipeline.core.errors import PipelineError
from pipeline.heads.schema import Heads
from pipeline.core.tfcompat import keras
from pipeline.training import backbones


def build_model(config: ModelConfig, heads: Heads):
    """Input `image` (normalized float32, NHWC); one output per head, named by it."""
    k = keras()
    backbone = backbones.get(config.arch)
    image = k.Input((config.image_size, config.image_size, 3), name="image")
    shared = backbone.trunk(image, config.batchnorm)
    _refuse_clashes(k.Model(image, shared), heads, config.arch)
    outputs = {h.name: h.impl.output(backbone.branch(shared, h.name, h.impl.units(h),
                                                     config.dropout, config.batchnorm), h)
               for h in heads}
    return k.Model(image, outputs, name=f"{config.arch.replace('.', '_')}_multitask")


def _refuse_clashes(trunk, heads: Heads, arch: str) -> None:
    """A head's layers are found by its name as prefix: a head named like a trunk layer
    (`fire2` in SqueezeNet) would claim that layer, so such a name is refused. Only known
    once the trunk is built, i.e. after TensorFlow has started (which the lock and a
    multi-worker strategy must precede): the run's stage stays unpublished."""
    for layer in trunk.layers:
        for h in heads:
            if _belongs(layer.name, h.name):
                raise PipelineError(f"head name {h.name!r} clashes with {arch}'s layer "
                                    f"{layer.name!r}: rename the head in heads.json")


def _belongs(layer_name: str, head_name: str) -> bool:
    return layer_name == head_name or layer_name.startswith(f"{head_name}_")


def head_layer_names(net, heads: Heads) -> set[str]:
    """Layers that belong to one head (named `<head>_...` or the head itself)."""
    return {layer.name for layer in net.layers for h in heads if _belongs(layer.name, h.name)}


def load_pretrained(net, weights: dict) -> int:
    """Set {layer name: its weights, set_weights order} into `net`; every named layer must
    exist and fit."""
    for name, pair in weights.items():
        layer = net.get_layer(name)
        layer.set_weights(pair)
    return len(weights)
