"""The model's settings, as data: written once into the run (train/model_config.json) and read
back by every later stage, so nothing is repeated on their command lines. No TensorFlow here."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import Enum

# x = (pixel - 128) / 128: a uint8 input then quantizes exactly (scale 1/128, zero point 128).
DEFAULT_NORMALIZATION = {"mean": [128.0, 128.0, 128.0], "std": [128.0, 128.0, 128.0]}
MIN_IMAGE_SIZE = 32


class Mode(str, Enum):
    """joint: one step on the weighted sum of the head losses; alternating: step k trains
    head k mod H (trunk + that head only)."""
    joint = "joint"
    alternating = "alternating"


class Weighting(str, Enum):
    """fixed: --loss-weights; uncertainty: learned per-head log-variances (Kendall 2018)."""
    fixed = "fixed"
    uncertainty = "uncertainty"


MODES = tuple(m.value for m in Mode)
WEIGHTINGS = tuple(w.value for w in Weighting)


class _JsonRecord:
    """Dataclass <-> the JSON the run records; keys it does not know (or lacks) are skipped
    (or defaulted), so runs written by other versions still load."""

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict):
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class ModelConfig(_JsonRecord):
    arch: str = "squeezenet1.1"
    image_size: int = 224
    dropout: float = 0.5
    normalization: dict = field(default_factory=lambda: dict(DEFAULT_NORMALIZATION))
    # Conv -> BN -> ReLU (training from scratch) or conv with bias -> ReLU (pretrained
    # weights, whose network had no BatchNorm). Runs from before this key had BatchNorm.
    batchnorm: bool = True
    pretrained: str = "none"  # what the weights started from: imagenet, none, or a file

    def __post_init__(self):
        if self.image_size < MIN_IMAGE_SIZE:
            raise ValueError(f"image size {self.image_size} is too small "
                             f"(at least {MIN_IMAGE_SIZE})")


@dataclass
class TrainSettings(_JsonRecord):
    """What `pipeline train` was asked for, resolved (defaults filled in); recorded in the
    manifest, compared on --resume, and read back by later stages (data folder, batch size,
    mode and loss weights for QAT fine-tuning, seed)."""
    data: str = ""
    arch: str = "squeezenet1.1"
    image_size: int = 224
    epochs: int = 20
    batch_size: int = 32
    mode: str = "joint"
    loss_weights: dict = field(default_factory=dict)
    weighting: str = "fixed"
    tasks: list = field(default_factory=list)
    init_from: str | None = None
    pretrained: str = "none"
    lr: float = 1e-3
    freeze_epochs: int = 0
    finetune_lr: float = 1e-3
    seed: int = 0
