"""The model's settings, as data: written once into the run (train/model_config.json) and read
back by every later stage, so nothing is repeated on their command lines. No TensorFlow here."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

# x = (pixel - 128) / 128: a uint8 input then quantizes exactly (scale 1/128, zero point 128).
DEFAULT_NORMALIZATION = {"mean": [128.0, 128.0, 128.0], "std": [128.0, 128.0, 128.0]}
MIN_IMAGE_SIZE = 32


@dataclass
class ModelConfig:
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

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "ModelConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
