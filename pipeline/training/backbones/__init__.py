"""The backbone registry: `--arch` choices come from here.

Adding a backbone (EfficientNet-Lite0 was the second) is one new module that builds a `Backbone` and one
entry below; the model builder, the CLI and the run directory only use this mapping.
"""
from __future__ import annotations

from pipeline.core.errors import PipelineError
from pipeline.options import DEFAULT_ARCH  # the option's default, named once
from pipeline.training.backbones.base import NONE, Backbone, PretrainedSource, logits_layer
from pipeline.training.backbones.efficientnet_lite import EFFICIENTNET_LITE0
from pipeline.training.backbones.squeezenet import SQUEEZENET_1_0, SQUEEZENET_1_1

BACKBONES: dict[str, Backbone] = {b.name: b for b in (SQUEEZENET_1_0, SQUEEZENET_1_1,
                                                      EFFICIENTNET_LITE0)}

__all__ = ["BACKBONES", "DEFAULT_ARCH", "NONE", "Backbone", "PretrainedSource", "get",
           "logits_layer"]


def get(name: str) -> Backbone:
    try:
        return BACKBONES[name]
    except KeyError:
        raise PipelineError(f"unknown arch {name!r}; choose from {', '.join(BACKBONES)}") from None
