"""What a backbone is: a trunk up to the article's split point, a per-head branch to a given
number of pooled logits, and the pretrained weights it can start from (the output layer,
loss and decoding are the head kind's, never the backbone's). The registry in `__init__` maps names to these."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from pipeline.core.errors import PipelineError

NONE = "none"  # --pretrained none: random initialisation
# The layer whose kernel and bias make a head's logits, with only pooling after it: the
# calibration folds a temperature into it (training/calibrate.py), so every branch names its
# last linear layer this way.
LOGITS_LAYER = "{head}_conv10"


def logits_layer(head_name: str) -> str:
    return LOGITS_LAYER.format(head=head_name)


def batchnorm_from_scratch(source: "PretrainedSource | None") -> bool:
    """BatchNorm layers only for a random start: pretrained weights were made for conv + bias."""
    return source is None


@dataclass(frozen=True)
class PretrainedSource:
    """Weights a backbone can start from.

    `load(head_names)` returns {Keras layer name: its weights in set_weights order} for the
    model of those heads (SqueezeNet: [kernel, bias]; Lite0: [kernel], or BatchNorm's four),
    already converted to take `normalization` (recorded in the run and model.json).
    Loading reads and checks files only: it is called before the run directory is touched.
    """
    name: str
    description: str
    load: Callable[[list[str]], dict]
    normalization: dict


@dataclass(frozen=True)
class Backbone:
    name: str
    title: str  # what the model file's metadata calls the network ("SqueezeNet 1.1")
    trunk: Callable  # (image, batchnorm) -> the shared feature map
    # (x, head name, units, dropout, batchnorm) -> the head's pooled logits [N, units]; its
    # layers are named `<head name>_...`, the last linear one LOGITS_LAYER. The head's kind
    # (core/kinds) makes the output.
    branch: Callable
    pretrained: dict[str, PretrainedSource] = field(default_factory=dict)
    from_file: Callable[[Path], PretrainedSource] | None = None  # a user's weights file
    default_pretrained: str = NONE
    # (the weights it starts from, None = random) -> whether its layers use BatchNorm
    batchnorm: Callable[["PretrainedSource | None"], bool] = batchnorm_from_scratch

    def source(self, spec: str) -> PretrainedSource | None:
        """--pretrained imagenet | none | PATH -> the weights to start from (None = random)."""
        if spec == NONE:
            return None
        if spec in self.pretrained:
            return self.pretrained[spec]
        looks_like_file = Path(spec).suffix != "" or "/" in spec
        if not looks_like_file:
            known = ", ".join([*self.pretrained, NONE, "PATH"])
            raise PipelineError(f"--pretrained {spec!r}: {self.name} can start from {known}"
                                + ("" if self.pretrained else
                                   f" (no pretrained weights ship for {self.name})"))
        if self.from_file is None:
            raise PipelineError(f"--pretrained {spec}: {self.name} takes no weights files")
        return self.from_file(Path(spec))
