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


class Distribute(str, Enum):
    """none: one process, one device; mirrored: every device of this machine;
    multi-worker: MultiWorkerMirroredStrategy over the machines named in TF_CONFIG."""
    none = "none"
    mirrored = "mirrored"
    multi_worker = "multi-worker"


class Input(str, Enum):
    """How training reads its data: memory (label files decoded once into memory), stream
    (packed TFRecord shards, `pipeline data pack`), auto (stream when the folder is packed)."""
    auto = "auto"
    memory = "memory"
    stream = "stream"


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
        if not isinstance(self.image_size, int) or isinstance(self.image_size, bool):
            raise ValueError(f"image size {self.image_size!r} is not a whole number")
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
    none_weight: float = 1.0  # loss weight of "none of these" photos against labelled ones
    tasks: list = field(default_factory=list)
    init_from: str | None = None
    pretrained: str = "none"
    lr: float = 1e-3
    freeze_epochs: int = 0
    finetune_lr: float = 1e-3
    seed: int = 0
    # Runs from before these keys read their data in memory on one device.
    input: str = "memory"  # memory | stream (resolved: never auto)
    distribute: str = "none"  # none | mirrored | multi-worker
    replicas: int = 1  # devices summed over every worker; global batch = batch_size * replicas
    scale_lr: bool = False  # lr and finetune_lr were multiplied by replicas

    @property
    def global_batch(self) -> int:
        return self.batch_size * self.replicas

    @property
    def lr_factor(self) -> int:
        """What lr and finetune_lr are multiplied by (--scale-lr: the linear scaling rule)."""
        return self.replicas if self.scale_lr else 1
