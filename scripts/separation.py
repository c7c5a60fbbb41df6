"""How well each head's top score separates what it should answer from what it should not,
on the test splits of scripts/repeated_splits.py runs (issue 18): a measure of the method that
does not depend on where the threshold falls.

    .venv/bin/python scripts/separation.py artifacts/splits [more folders ...]

For each folder (one method), over its seedS/ runs (int8 file, `pipeline predict`'s scores):
- type: AUROC of the top type score, photos of a class against the negatives' test split;
- colour: AUROC of the top colour score, photos with a colour label against flowers whose
  colour is "none of these" (the other-colour flowers);
- colour coverage (and selective accuracy) at the score that declines 80% of the other-colour
  flowers (the issue's target), the threshold set on the test split itself: comparable between
  methods, optimistic in absolute terms.
Pooled over seeds, then the per-seed values.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from pipeline import api

HEADS = ("flower_type", "flower_color")


def auroc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(score of a positive > score of a negative), ties counted half."""
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).mean()
    ties = (pos[:, None] == neg[None, :]).mean()
    return float(greater + 0.5 * ties)


def rows(label_file: Path) -> list[list[str]]:
    lines = [l for l in label_file.read_text().splitlines() if l.strip() and not l.startswith("#")]
    return [[c.strip() for c in l.split(",")] for l in lines]


def scored(seed_dir: Path) -> dict:
    data, run = seed_dir / "data", seed_dir / "run"
    out = {}
    for name in ("test", "negatives_test"):
        table = rows(data / f"{name}.txt")
        answers = api.predict(run, [data / r[0] for r in table], workers=1)
        out[name] = (table, answers)
    return out


def best(answer: dict, head: str) -> tuple[str, float]:
    """The top class and its score, answered or not."""
    probabilities = answer["predictions"][head]["probabilities"]
    label = max(probabilities, key=probabilities.get)
    return label, probabilities[label]


def figures(scores: dict) -> dict:
    (test, answers), (_, neg_answers) = scores["test"], scores["negatives_test"]
    top = {h: np.array([best(a, h)[1] for a in answers]) for h in HEADS}
    said = {h: [best(a, h)[0] for a in answers] for h in HEADS}
    neg_top = np.array([best(a, "flower_type")[1] for a in neg_answers])
    colour = np.array([int(r[2]) for r in test])
    names = list(answers[0]["predictions"]["flower_color"]["probabilities"])  # class order
    labelled = colour >= 0
    right = np.array([said["flower_color"][i] == names[c] if c >= 0 else False
                      for i, c in enumerate(colour)])
    other = top["flower_color"][~labelled]
    cut = np.quantile(other, 0.8)  # declines 80% of the other-colour flowers
    answered = top["flower_color"][labelled] > cut
    return {"type_auroc": auroc(top["flower_type"], neg_top),
            "colour_auroc": auroc(top["flower_color"][labelled], other),
            "colour_coverage_at_80": float(answered.mean()),
            "colour_selacc_at_80": float(right[labelled][answered].mean()) if answered.any()
            else float("nan")}


def main(folders: list[str]) -> None:
    for folder in map(Path, folders):
        seeds = sorted(p for p in folder.glob("seed*") if (p / "evaluate_test.json").is_file())
        per_seed = [figures(scored(s)) for s in seeds]
        print(f"{folder} ({len(seeds)} seeds: {', '.join(s.name for s in seeds)})")
        for key in ("type_auroc", "colour_auroc", "colour_coverage_at_80", "colour_selacc_at_80"):
            values = [f[key] for f in per_seed]
            print(f"  {key:<24} mean {np.mean(values):.3f}  per seed "
                  + ", ".join(f"{v:.3f}" for v in values))


if __name__ == "__main__":
    main(sys.argv[1:])
