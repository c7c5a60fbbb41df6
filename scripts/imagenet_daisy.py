"""How well each trunk's ImageNet features see flowers before any training here: ImageNet has a
class "daisy" (index 985); on the daisy photos of ../shared/flowers-real, the share whose
ImageNet top-1 is "daisy", for each backbone's whole ImageNet classifier (issue 33).

    .venv/bin/python scripts/imagenet_daisy.py [--labels ../shared/flowers-real/labels.txt]

The photos go through the pipeline's own loader (`load_resized`, 224 px) and each network's
own input normalization. Prints the counts and the share with its 95% Wilson interval.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from pipeline.data.images import load_resized, normalize
from pipeline.data.labels import read_label_file
from pipeline.heads.notsure import interval_text, wilson

ROOT = Path(__file__).resolve().parents[1]
DAISY, SIZE, BATCH = 985, 224, 32
DAISY_TYPE = 1  # flowers-real's type column: 0 rose, 1 daisy


def classifiers() -> dict:
    """{title: (Keras ImageNet classifier, its input normalization from the registry)}."""
    from pipeline.training import backbones
    from pipeline.training.backbones import efficientnet_lite, squeezenet

    return {backbones.get(arch).title: (build(SIZE),
                                        backbones.get(arch).pretrained["imagenet"].normalization)
            for arch, build in (("squeezenet1.1", squeezenet.imagenet_classifier),
                                ("efficientnet-lite0", efficientnet_lite.imagenet_classifier))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path,
                        default=ROOT.parent / "shared" / "flowers-real" / "labels.txt")
    args = parser.parse_args()
    samples, problems = read_label_file(args.labels)
    if problems:
        raise SystemExit(f"{args.labels}: {problems[0]}")
    daisies = [s.path for s in samples if s.labels[0] == DAISY_TYPE]
    pixels = np.stack([load_resized(p, SIZE) for p in daisies])
    print(f"{len(daisies)} daisy photos of {args.labels}, ImageNet top-1 'daisy' ({DAISY}):")
    for name, (net, normalization) in classifiers().items():
        top1 = net.predict(normalize(pixels, normalization), batch_size=BATCH,
                           verbose=0).argmax(1)
        k, n = int(np.sum(top1 == DAISY)), len(daisies)
        print(f"  {name:20} {k}/{n} = {100 * k / n:.1f}%{interval_text(wilson(k, n), True)}")


if __name__ == "__main__":
    main()
