"""The not-sure figures of `make real` pooled over several random splits (issue 18).

    .venv/bin/python scripts/repeated_splits.py --seeds 1 2 3 \
        [--include artifacts/real/evaluate_test.json] [--epochs 30] [--image-size 224]
        [--out artifacts/splits] [--train-share 1.0]

One test split (81 photos of a class, 47 negatives) cannot tell 89% from 95%. For each seed:
`pipeline data split --seed S` of ../shared/flowers-real with ../shared/negatives (colour -1
declared "none", as `make real`), `pipeline train`, `pipeline quantize`, and `pipeline evaluate`
of the int8 file on that test split and the negatives' test split, in OUT/seedS/ (default
artifacts/splits; a seed whose evaluate_test.json exists is not run again; one OUT per method
compared, then scripts/separation.py on the OUT folders). `--include` adds evaluate files made
elsewhere (make real's split is seed 0). The counts of every split are added up and printed
with 95% Wilson intervals. Random splits overlap (a photo may be in two test splits) and each
split has its own model, so this estimates the method, and its intervals are somewhat narrower
than as many independent photos would give.

`--train-share F` trains on a random share F of each split's training photos and training
negatives (val and test untouched): a learning curve, to see whether more photos would help.
"""
from __future__ import annotations

import argparse
import random
import subprocess
import sys
from pathlib import Path

from pipeline.core.io import read_json
from pipeline.heads.notsure import interval_text, wilson

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = str(Path(sys.executable).parent / "pipeline")


def keep_share(path: Path, share: float, seed: int) -> None:
    """Keep a random `share` of a label or negatives file's photos (comment lines stay)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    photos = [i for i, line in enumerate(lines) if line.strip() and not line.startswith("#")]
    dropped = set(photos) - set(random.Random(seed).sample(photos, round(share * len(photos))))
    path.write_text("".join(line + "\n" for i, line in enumerate(lines) if i not in dropped),
                    encoding="utf-8")


def run_pipeline(seed: int, *args) -> None:
    print(f"seed {seed}: pipeline {args[0]} ...", flush=True)
    subprocess.run([PIPELINE, *map(str, args)], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def run_seed(seed: int, epochs: int, size: int, out: Path, train_share: float = 1.0,
             arch: str | None = None) -> Path:
    folder = out / f"seed{seed}"
    result = folder / "evaluate_test.json"
    if result.is_file():
        return result
    data, run = folder / "data", folder / "run"
    run_pipeline(seed, "data", "split", "../shared/flowers-real/labels.txt", "--out", data,
                 "--force", "--seed", seed, "--negatives", "../shared/negatives/labels.txt",
                 "--none", "color")
    if train_share < 1:
        for name in ("train.txt", "negatives_train.txt"):
            keep_share(data / name, train_share, seed)
    run_pipeline(seed, "train", "--data", data, "--run", run, "--image-size", size,
                 "--epochs", epochs, *(["--arch", arch] if arch else []))
    run_pipeline(seed, "quantize", "--run", run)
    run_pipeline(seed, "evaluate", "--model", run, "--labels", data / "test.txt",
                 "--negatives", data / "negatives_test.txt", "--out", result)
    return result


def counts(evaluation: dict) -> dict[str, tuple[int, int]]:
    """(successes, total) of each figure of one evaluate result, by name."""
    out = {}
    for head, m in evaluation["metrics"].items():
        if not isinstance(m, dict) or m.get("threshold") is None:  # joint figures, no rule
            continue
        answered = m["n_answered"]
        if m.get("accuracy") is not None:
            out[f"{head}: accuracy, every photo answered"] = (round(m["accuracy"] * m["n"]),
                                                              m["n"])
        out[f"{head}: answers"] = (answered, m["n"])
        out[f"{head}: selective accuracy"] = (round(m["selective_accuracy"] * answered)
                                              if answered else 0, answered)
        if m["n_none"]:
            out[f"{head}: not sure on 'none of these'"] = (
                round(m["not_sure_on_none"] * m["n_none"]), m["n_none"])
    for head, kinds in (evaluation.get("negatives") or {}).items():
        for kind, v in kinds.items():
            out[f"{head}: not sure on negatives ({kind})"] = (round(v["not_sure"] * v["n"]), v["n"])
    return out


def pooled(evaluations: list[dict]) -> dict[str, tuple[int, int]]:
    total: dict[str, tuple[int, int]] = {}
    for evaluation in evaluations:
        for name, (k, n) in counts(evaluation).items():
            k0, n0 = total.get(name, (0, 0))
            total[name] = (k0 + k, n0 + n)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3])
    parser.add_argument("--include", type=Path, nargs="*", default=[])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--out", type=Path, default=ROOT / "artifacts" / "splits")
    parser.add_argument("--arch", default=None,
                        help="the backbone to train (default: pipeline train's)")
    parser.add_argument("--train-share", type=float, default=1.0,
                        help="train on this random share of the training photos (0..1]")
    args = parser.parse_args()
    if not 0 < args.train_share <= 1:
        parser.error(f"--train-share must be in (0, 1], got {args.train_share}")
    files = list(args.include) + [run_seed(s, args.epochs, args.image_size, args.out.absolute(),
                                           args.train_share, args.arch) for s in args.seeds]
    evaluations = [read_json(f) for f in files]
    print(f"int8 file, test splits of {len(files)} random splits, pooled (95% Wilson interval):")
    for name, (k, n) in pooled(evaluations).items():
        if not n:
            continue
        per_split = ", ".join(f"{k_}/{n_}" for k_, n_ in (counts(e).get(name, (0, 0))
                                                           for e in evaluations))
        print(f"  {name:<52} {k / n:7.1%}{interval_text(wilson(k, n), True)} "
              f"of {n}  ({per_split})")
    print("per split (no pooled count exists for these):")
    for head in [h for h, m in evaluations[0]["metrics"].items() if isinstance(m, dict)]:
        for key in ("mean_recall", "ece"):
            values = [e["metrics"][head].get(key) for e in evaluations]
            print(f"  {head}: {key:<46} " + ", ".join(
                "-" if v is None else f"{v:.3f}" for v in values))


if __name__ == "__main__":
    main()
