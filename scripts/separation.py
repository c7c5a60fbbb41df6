"""How well each head's top score separates what it should answer from what it should not,
on the test splits of scripts/repeated_splits.py runs (issue 18): a measure of the method that
does not depend on where the threshold falls.

    .venv/bin/python scripts/separation.py artifacts/splits [more folders ...]

For each folder (one method), over its seedS/ runs (int8 file, `pipeline predict`'s scores):
- type: AUROC of the top type score, photos of a class against the negatives' test split;
- colour: AUROC of the top colour score, photos with a colour label against flowers whose
  colour is "none of these" (the other-colour flowers);
- type coverage at the score that declines 95% of the negatives (the issue's pair of type
  targets), the threshold set on the test split itself, as for colour below;
- colour coverage (and selective accuracy) at the score that declines 80% of the other-colour
  flowers (the issue's target), the threshold set on the test split itself: comparable between
  methods, optimistic in absolute terms.
Printed as the mean over seeds, then each seed's value; then each head's ECE on the test
photos of all seeds pooled (the issue's ECE target is stated on the pooled photos: on one
split's ~80 photos even a calibrated head reads 0.05-0.09), with the ECE a perfectly
calibrated head with the same scores would read on that many photos (notsure.ece_noise_floor):
once on the labelled test photos alone (as `pipeline evaluate` reports it), once with the test
negatives too, every answer on them wrong: the population the temperature and the "none" bias
are fitted on (validation photos and negatives), so the one a calibrated head is calibrated on.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from pipeline import api
from pipeline.data import negatives
from pipeline.heads.schema import schema_of
from pipeline.data.labels import load_label_file
from pipeline.heads import notsure
from pipeline.heads.kinds.base import NONE


def auroc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(score of a positive > score of a negative), ties counted half."""
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).mean()
    ties = (pos[:, None] == neg[None, :]).mean()
    return float(greater + 0.5 * ties)


def scored(seed_dir: Path) -> dict:
    """{"test": (samples, answers), "negatives_test": (samples, answers)} of one seed's run,
    the files read by the pipeline's own readers (so -1 and "none of these" mean what they
    mean to training)."""
    data, run = seed_dir / "data", seed_dir / "run"
    test = load_label_file(data / "test.txt", images=False)
    negative, _ = negatives.read(data / "negatives_test.txt", schema_of(data / "test.txt"),
                                 images=False)
    return {name: (samples, api.predict(run, [s.path for s in samples], workers=1))
            for name, samples in (("test", test), ("negatives_test", negative))}


def best(answer: dict, head: str) -> tuple[str, float]:
    """The top class and its score, answered or not."""
    probabilities = answer["predictions"][head]["probabilities"]
    label = max(probabilities, key=probabilities.get)
    return label, probabilities[label]


def figures(scores: dict) -> dict:
    (test, answers), (_, neg_answers) = scores["test"], scores["negatives_test"]
    type_top = np.array([best(a, "flower_type")[1] for a in answers])
    neg_top = np.array([best(a, "flower_type")[1] for a in neg_answers])
    colour_said, colour_top = zip(*(best(a, "flower_color") for a in answers))
    colour_top = np.array(colour_top)
    colour = np.array([int(s.labels[1]) for s in test])
    names = list(answers[0]["predictions"]["flower_color"]["probabilities"])  # class order
    labelled = colour >= 0
    right = np.array([c >= 0 and said == names[c] for said, c in zip(colour_said, colour)])
    other = colour_top[~labelled]
    cut = np.quantile(other, 0.8)  # declines 80% of the other-colour flowers
    answered = colour_top[labelled] > cut
    return {"type_auroc": auroc(type_top, neg_top),
            "type_coverage_at_95": float((type_top > np.quantile(neg_top, 0.95)).mean()),
            "colour_auroc": auroc(colour_top[labelled], other),
            "colour_coverage_at_80": float(answered.mean()),
            "colour_selacc_at_80": float(right[labelled][answered].mean()) if answered.any()
            else float("nan")}


def ece_rows(scores: dict, with_negatives: bool = False) -> dict:
    """{head: (probabilities [N, C] in class order, truth [N])} of one seed's test photos, as
    notsure.ece reads them: a photo with no class of the head (colour -1, declared "none of
    these" in make real's data; every negative, with_negatives) is NONE, which every answer
    gets wrong."""
    test, answers = scores["test"]
    negative_answers = scores["negatives_test"][1] if with_negatives else []
    out = {}
    for i, head in enumerate(("flower_type", "flower_color")):
        names = list(answers[0]["predictions"][head]["probabilities"])
        probs = np.array([[a["predictions"][head]["probabilities"][n] for n in names]
                          for a in [*answers, *negative_answers]])
        truth = np.array([int(s.labels[i]) if int(s.labels[i]) >= 0 else NONE for s in test]
                         + [NONE] * len(negative_answers))
        out[head] = (probs, truth)
    return out


def pooled_ece(per_seed_rows: list[dict]) -> dict:
    """{head: (ECE, noise floor)} over every seed's test photos together."""
    out = {}
    for head in per_seed_rows[0]:
        probs = np.concatenate([rows[head][0] for rows in per_seed_rows])
        truth = np.concatenate([rows[head][1] for rows in per_seed_rows])
        out[head] = (notsure.ece(probs, truth), notsure.ece_noise_floor(probs, truth))
    return out


def main(folders: list[str]) -> None:
    for folder in map(Path, folders):
        seeds = sorted(p for p in folder.glob("seed*") if (p / "evaluate_test.json").is_file())
        scores = [scored(s) for s in seeds]
        per_seed = [figures(s) for s in scores]
        print(f"{folder} ({len(seeds)} seeds: {', '.join(s.name for s in seeds)})")
        for key in ("type_auroc", "type_coverage_at_95", "colour_auroc", "colour_coverage_at_80",
                    "colour_selacc_at_80"):
            values = [f[key] for f in per_seed]
            print(f"  {key:<24} mean {np.mean(values):.3f}  per seed "
                  + ", ".join(f"{v:.3f}" for v in values))
        for with_negatives in (False, True):
            rows = [ece_rows(s, with_negatives) for s in scores]
            what = "test photos and negatives" if with_negatives else "labelled test photos"
            for head, (ece, floor) in pooled_ece(rows).items():
                n = sum(len(r[head][1]) for r in rows)
                print(f"  ECE {head:<20} {ece:.3f} on the {n} pooled {what} "
                      f"(a calibrated head: ~{floor:.3f})")


if __name__ == "__main__":
    main(sys.argv[1:])
