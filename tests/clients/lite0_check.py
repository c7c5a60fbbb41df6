"""The ImageNet EfficientNet-Lite0 of the backbone module against the PyTorch port its weights
belong to: the project's side of the `lite0-reference` check (tests/clients/run.sh).

    .venv/bin/python lite0_check.py write DIR [--photos FOLDER]
    torch-venv/bin/python lite0_reference.py DIR
    .venv/bin/python lite0_check.py compare DIR

`write` makes the inputs, NHWC float32 (pixel - 127) / 128: RANDOM images of uniform random
pixels (seeded) and REAL photos of flowers-real, decoded and resized by the pipeline's own
loader (`load_resized`, as training and predict see them), every one spread over the folder;
and the 1000 ImageNet logits of `imagenet_classifier(224)` on each (keras_<set>.npy).
`lite0_reference.py` writes torch_<set>.npy from the same inputs. `compare` fails unless
max |keras - torch| <= 1e-4 on both sets (and the reference read the weights file whose sha256
the backbone module pins), and prints it with the top-1 agreement.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

SIZE = 224
RANDOM, REAL = 4, 6  # images per set: a few (2 cores), each one 1000 logits
TOLERANCE = 1e-4
SETS = ("random", "real")
PHOTOS = Path(__file__).resolve().parents[3] / "shared" / "flowers-real" / "images"


def write(out: Path, photos: Path) -> int:
    from pipeline.data.images import load_resized, normalize
    from pipeline.training.backbones.efficientnet_lite import NORMALIZATION, imagenet_classifier

    files = sorted(p for p in photos.glob("*.jpg")) if photos.is_dir() else []
    if len(files) < REAL:
        print(f"FAIL: {photos}: needs at least {REAL} .jpg photos (--photos FOLDER)")
        return 1
    chosen = [files[i * len(files) // REAL] for i in range(REAL)]
    rng = np.random.default_rng(33)
    inputs = {"random": normalize(rng.integers(0, 256, (RANDOM, SIZE, SIZE, 3)), NORMALIZATION),
              "real": normalize(np.stack([load_resized(p, SIZE) for p in chosen]), NORMALIZATION)}
    net = imagenet_classifier(SIZE)
    out.mkdir(parents=True, exist_ok=True)
    (out / "real.txt").write_text("".join(f"{p}\n" for p in chosen))
    for name, x in inputs.items():
        np.save(out / f"inputs_{name}.npy", x)
        np.save(out / f"keras_{name}.npy", net.predict(x, batch_size=len(x), verbose=0))
    print(f"wrote {RANDOM} random and {REAL} real inputs ({photos}) and their Keras logits "
          f"to {out}")
    return 0


def compare(out: Path) -> int:
    from pipeline.training.backbones.efficientnet_lite import WEIGHTS_SHA256

    read = (out / "torch_weights.sha256").read_text().split()
    failed = read[0] != WEIGHTS_SHA256
    print(f"{'FAIL' if failed else 'ok  '} the reference read {read[1]}, sha256 {read[0][:16]}... "
          f"({'not ' if failed else ''}the backbone module's)")
    for name in SETS:
        keras = np.load(out / f"keras_{name}.npy")
        torch = np.load(out / f"torch_{name}.npy")
        if keras.shape != torch.shape or keras.shape[1:] != (1000,):
            print(f"FAIL {name}: Keras logits {keras.shape}, torch {torch.shape}")
            failed = True
            continue
        diff = np.abs(keras.astype(np.float64) - torch)
        top1 = int(np.sum(keras.argmax(1) == torch.argmax(1)))
        ok = bool(np.all(np.isfinite(diff))) and float(diff.max()) <= TOLERANCE
        failed |= not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name:6} {len(keras)} images: max |keras - torch| "
              f"{diff.max():.3g} (bound {TOLERANCE:g}; mean {diff.mean():.2g}, logits up to "
              f"{np.abs(torch).max():.3g}), top-1 agreement {top1}/{len(keras)}")
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("write", "compare"))
    parser.add_argument("dir", type=Path)
    parser.add_argument("--photos", type=Path, default=PHOTOS,
                        help="folder of real .jpg photos (default: ../shared/flowers-real)")
    args = parser.parse_args(argv)
    return write(args.dir, args.photos) if args.action == "write" else compare(args.dir)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
