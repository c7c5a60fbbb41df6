"""Load exactness of the ImageNet weights: this project's Keras SqueezeNet 1.1 (converted
weights, RGB (pixel - 128) / 128 input) against the independent numpy implementation in the
ndf package (Caffe BGR input), on real photos. Prints top-1 agreement and the largest
probability difference.

    .venv/bin/python scripts/check_pretrained.py [--images 10] [--size 224]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from pipeline.data.images import load_resized
from pipeline.training import pretrained
from pipeline.training.backbones.squeezenet import imagenet_classifier

REAL = Path(__file__).resolve().parents[2] / "shared" / "flowers-real" / "images"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args()
    paths = sorted(REAL.glob("*.jpg"))[:args.images]
    pixels = np.stack([load_resized(p, args.size) for p in paths])
    ref = pretrained.reference_probs(pixels)
    logits = 128 * imagenet_classifier(args.size).predict((pixels - 128.0) / 128.0, verbose=0)
    ours = np.exp(logits - logits.max(1, keepdims=True))
    ours /= ours.sum(1, keepdims=True)
    same = int((ours.argmax(1) == ref.argmax(1)).sum())
    print(f"{len(paths)} photos at {args.size} px: same top-1 on {same}/{len(paths)}, "
          f"max |p_ours - p_ndf| = {np.abs(ours - ref).max():.2e}")


if __name__ == "__main__":
    main()
