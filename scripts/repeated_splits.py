"""The not-sure figures of `make real` pooled over several random splits (issue 18).

    .venv/bin/python scripts/repeated_splits.py --seeds 1 2 3 \
        [--include artifacts/real/evaluate_test.json] [--epochs 30] [--image-size 224]
        [--out artifacts/splits]

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
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from pipeline.core.io import read_json
from pipeline.core.notsure import interval_text, wilson

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = str(Path(sys.executable).parent / "pipeline")


def run_seed(seed: int, epochs: int, size: int, out: Path) -> Path:
    folder = out / f"seed{seed}"
    result = folder / "evaluate_test.json"
    if result.is_file():
        return result
    data, run = folder / "data", folder / "run"
    for args in (["data", "split", "../shared/flowers-real/labels.txt", "--out", data, "--force",
                  "--seed", seed, "--negatives", "../shared/negatives/labels.txt",
                  "--none", "color"],
                 ["train", "--data", data, "--run", run, "--image-size", size, "--epochs", epochs],
                 ["quantize", "--run", run],
                 ["evaluate", "--model", run, "--labels", data / "test.txt", "--negatives",
                  data / "negatives_test.txt", "--out", result]):
        print(f"seed {seed}: pipeline {args[0]} ...", flush=True)
        subprocess.run([PIPELINE, *map(str, args)], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    return result


def counts(evaluation: dict) -> dict[str, tuple[int, int]]:
    """(successes, total) of each figure of one evaluate result, by name."""
    out = {}
    for head, m in evaluation["metrics"].items():
        if not isinstance(m, dict) or m.get("threshold") is None:  # joint figures, no rule
            continue
        answered = m["n_answered"]
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
    args = parser.parse_args()
    files = list(args.include) + [run_seed(s, args.epochs, args.image_size, args.out.absolute())
                                  for s in args.seeds]
    evaluations = [read_json(f) for f in files]
    print(f"int8 file, test splits of {len(files)} random splits, pooled (95% Wilson interval):")
    for name, (k, n) in pooled(evaluations).items():
        if not n:
            continue
        per_split = ", ".join(f"{k_}/{n_}" for k_, n_ in (counts(e).get(name, (0, 0))
                                                           for e in evaluations))
        print(f"  {name:<52} {k / n:7.1%}{interval_text(wilson(k, n), True)} "
              f"of {n}  ({per_split})")


if __name__ == "__main__":
    main()
