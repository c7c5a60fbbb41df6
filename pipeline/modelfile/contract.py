"""What a model promises every reader of its file, as one value: its heads (outputs by name, in
order), its input side in pixels, the normalization its float input expects, and the name of
the network that made it. These travel together from training's settings through the export
into the file's signature, metadata and model.json."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.data.images import normalize
from pipeline.heads.schema import Heads
from pipeline.modelfile.embed import NETWORK


@dataclass(frozen=True)
class Contract:
    heads: Heads
    image_size: int
    normalization: dict  # {"mean": [r, g, b], "std": [r, g, b]} on 0..255 pixels
    network: str = NETWORK  # the backbone's name in the file's description

    def float_input(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 pixels as the model's float input."""
        return normalize(pixels, self.normalization)
