""""Not sure": the one rule every reader applies, and the numbers behind it (pure numpy).

A classification head answers its top class when that class's score reaches the head's
threshold, and "not sure" otherwise. The threshold is part of the exported model
(ScoreThresholdingOptions in the head's output metadata, and model.json); predict, evaluate,
the report, the Android app, MediaPipe Tasks and the phone page all apply this same rule.
Scores are compared as float32, as every runtime holds them.

Calibration is temperature scaling (Guo et al. 2017): one temperature per head, fitted on the
validation split by minimising the negative log-likelihood, folded into the head's last conv;
after QAT, which sharpens the scores again, a temperature and a bias on the "none" logit.
"""
from __future__ import annotations

import math

import numpy as np

ECE_BINS = 15
NOT_SURE = -1  # an answer index meaning "not sure"


def answers(scores, threshold: float | None) -> np.ndarray:
    """[N, C] scores -> [N] class indices, NOT_SURE where the top score is below threshold."""
    scores = np.asarray(scores, dtype=np.float32)
    best = scores.argmax(axis=1)
    if threshold is None:  # a model exported before thresholds existed: always answers
        return best
    top = scores[np.arange(len(scores)), best]
    return np.where(top >= np.float32(threshold), best, NOT_SURE)


def answer(scores, threshold: float | None) -> int | None:
    """One image's scores -> its class index, or None for not sure."""
    found = int(answers(np.asarray(scores, dtype=np.float32)[None], threshold)[0])
    return None if found == NOT_SURE else found


def check_threshold(value, where: str) -> float:
    """A threshold read from a file or typed by a user: a number strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or not 0 < value < 1:
        raise ValueError(f"{where}: threshold {value!r} must be a number between 0 and 1 "
                         "(exclusive)")
    return float(value)


def ece(scores, truth, bins: int = ECE_BINS) -> float | None:
    """Expected calibration error of the top class's score (equal-width bins) over the rows
    whose truth is known: a class, or "none of these" (truth below -1: any class is then
    wrong, so a calibrated head gives such photos low scores). -1 rows are left out."""
    scores, truth = np.asarray(scores, dtype=np.float64), np.asarray(truth)
    keep = (truth >= 0) | (truth < -1)
    if not keep.any():
        return None
    scores, truth = scores[keep], truth[keep]
    top, correct = scores.max(axis=1), scores.argmax(axis=1) == truth
    which = np.minimum((top * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            total += inside.sum() * abs(top[inside].mean() - correct[inside].mean())
    return float(total / len(top))


def ece_noise_floor(scores, truth, bins: int = ECE_BINS, draws: int = 400,
                    seed: int = 0) -> float | None:
    """The ECE a perfectly calibrated model with these top scores shows on this many photos
    (mean over draws in which each photo's answer is right with probability = its top score,
    same rows and bins as ece). ECE on a small split is biased upward by sampling alone: on
    make real's 128 test photos a calibrated head reads 0.06-0.08, so compare with this."""
    scores, truth = np.asarray(scores, dtype=np.float64), np.asarray(truth)
    keep = (truth >= 0) | (truth < -1)
    if not keep.any():
        return None
    top = scores[keep].max(axis=1)
    right = np.random.default_rng(seed).random((draws, len(top))) < top
    which = np.minimum((top * bins).astype(int), bins - 1)
    total = np.zeros(draws)
    for b in np.unique(which):
        inside = which == b
        total += inside.sum() * np.abs(top[inside].mean() - right[:, inside].mean(axis=1))
    return float(total.mean() / len(top))


def fit_temperature(scores, truth) -> float:
    """The temperature T minimising the NLL of softmax(log(scores) / T) on labelled rows
    (log-probabilities are logits up to a per-row constant, which softmax ignores)."""
    scores, truth = np.asarray(scores, dtype=np.float64), np.asarray(truth)
    keep = truth >= 0
    if keep.sum() < 2:
        return 1.0
    logits = np.log(np.clip(scores[keep], 1e-12, 1.0))
    rows = np.arange(keep.sum())

    def nll(t: float) -> float:
        z = logits / t
        z = z - z.max(axis=1, keepdims=True)
        return float(-(z[rows, truth[keep]] - np.log(np.exp(z).sum(axis=1))).mean())

    grid = np.exp(np.linspace(np.log(0.25), np.log(8.0), 161))  # 0.25 .. 8, 2.2% steps
    return float(grid[int(np.argmin([nll(t) for t in grid]))])


def fit_temperature_none(scores, truth) -> tuple[float, float]:
    """(T, b) minimising the NLL of softmax(log(scores) / T + b on the last column), the
    last column being "none of these": a temperature alone cannot move the classes' mass
    against "none" independently of their spread; after QAT the val NLL prefers both
    (docs/not-sure.md). Grid search: T as fit_temperature, b in -3..3."""
    scores, truth = np.asarray(scores, dtype=np.float64), np.asarray(truth)
    keep = truth >= 0
    if keep.sum() < 2:
        return 1.0, 0.0
    logits = np.log(np.clip(scores[keep], 1e-12, 1.0))
    rows, biases = np.arange(keep.sum()), np.linspace(-3.0, 3.0, 121)  # steps of 0.05
    shift = np.zeros((len(biases), 1, scores.shape[1]))
    shift[:, 0, -1] = biases
    best = (math.inf, 1.0, 0.0)
    for t in np.exp(np.linspace(np.log(0.25), np.log(8.0), 161)):
        z = logits[None] / t + shift  # [bias, row, class]
        z = z - z.max(axis=2, keepdims=True)
        nll = -(z[:, rows, truth[keep]] - np.log(np.exp(z).sum(axis=2))).mean(axis=1)
        i = int(np.argmin(nll))
        if nll[i] < best[0] - 1e-12:
            best = (float(nll[i]), float(t), float(biases[i]))
    return best[1], best[2]


def tempered(scores, temperature: float, none_bias: float = 0.0) -> np.ndarray:
    """softmax(log(scores) / T + none_bias on the last column): what folding T (and b) into
    the head's last conv gives."""
    z = np.log(np.clip(np.asarray(scores, dtype=np.float64), 1e-12, 1.0)) / temperature
    z[:, -1] += none_bias
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return (z / z.sum(axis=1, keepdims=True)).astype(np.float32)


def choose_threshold(top_scores, coverage: float, classes: int) -> float:
    """The highest threshold that still answers `coverage` of these (labelled, in-class)
    photos' top scores, put halfway to the next lower score seen (so float rounding in another
    runtime cannot flip a photo at the edge), kept above chance (1 / classes) and rounded to
    4 decimals."""
    top = np.sort(np.asarray(top_scores, dtype=np.float64))[::-1]
    if not len(top):
        raise ValueError("no labelled photo to choose a threshold on")
    k = max(1, math.ceil(coverage * len(top) - 1e-9))
    edge = top[k - 1]
    lower = top[top < edge]
    below = lower[0] if len(lower) else edge - 0.01
    return _bounded((edge + below) / 2, classes)


def balanced_threshold(in_class, none, classes: int) -> float:
    """The threshold that best separates photos of a class (answer) from "none of these"
    photos (not sure): the most of both, share answered + share declined (Youden's J), over
    thresholds halfway between the scores seen; among equally good ones, the middle one. Kept
    above chance (1 / classes) and rounded to 4 decimals."""
    in_class = np.asarray(in_class, dtype=np.float64)
    none = np.asarray(none, dtype=np.float64)
    if not len(in_class) or not len(none):
        raise ValueError("a balanced threshold needs photos of a class and 'none of these'")
    seen = np.unique(np.concatenate([in_class, none, [0.0, 1.0]]))
    candidates = (seen[:-1] + seen[1:]) / 2
    score = (in_class[None] >= candidates[:, None]).mean(1) + \
        (none[None] < candidates[:, None]).mean(1)
    best = candidates[np.isclose(score, score.max())]
    return _bounded(float(best[len(best) // 2]), classes)


def declining_threshold(none_scores, share: float) -> float:
    """The lowest threshold that declines `share` of these "none of these" photos' top scores
    (a score below the threshold is not sure): halfway between the highest score it must
    decline and the next higher one seen, so float rounding in another runtime cannot flip a
    photo at the edge; rounded to 4 decimals, within [0.01, 0.99]. Not kept above chance: a
    head with room for "none of these" spreads less than 1 over its classes, and where the
    negatives' top scores lie below 1 / classes, so may the best threshold."""
    top = np.sort(np.asarray(none_scores, dtype=np.float64))
    if not len(top):
        raise ValueError("no 'none of these' photo to choose a threshold on")
    k = max(1, math.ceil(share * len(top) - 1e-9))
    edge = top[k - 1]
    higher = top[top > edge]
    above = higher[0] if len(higher) else min(edge + 0.01, 1.0)
    return _clamped((edge + above) / 2, 0.01)


def _bounded(value: float, classes: int) -> float:
    """Above chance (1 / classes), at most 0.99, rounded to 4 decimals."""
    return _clamped(value, 1.0 / classes + 0.01)


def _clamped(value: float, low: float) -> float:
    """Within [low, 0.99], rounded to 4 decimals."""
    return round(min(max(value, low), 0.99), 4)


def selective(scores, truth, threshold: float | None) -> dict:
    """Coverage and selective accuracy on labelled rows; not-sure share on NONE rows (< -1)."""
    scores, truth = np.asarray(scores, dtype=np.float32), np.asarray(truth)
    said = answers(scores, threshold)
    known, none = truth >= 0, truth < -1
    answered = known & (said != NOT_SURE)
    counts = {"coverage": (answered.sum(), known.sum()),
              "selective_accuracy": ((said == truth)[answered].sum(), answered.sum()),
              "not_sure_on_none": ((said[none] == NOT_SURE).sum(), none.sum())}
    return {"threshold": threshold, **{k: _share(*c) for k, c in counts.items()},
            "n_none": int(none.sum()), "n_answered": int(answered.sum()),
            # how far each share could be from the truth on this few photos (Wilson, 95%)
            "intervals": {k: wilson(*c) for k, c in counts.items()}}


def wilson(successes, total, z: float = 1.96) -> list[float] | None:
    """The Wilson score interval of a share (95% for z = 1.96); None without rows. On 47
    photos, 42 right reads 0.894 [0.774, 0.954]: a target of 0.95 is neither met nor missed."""
    n, k = int(total), int(successes)
    if not n:
        return None
    p, z2 = k / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]


def interval_texts(metrics: dict, percent: bool = False) -> dict[str, str]:
    """interval_text of each share selective() measured, by its name (none: {})."""
    return {k: interval_text(v, percent) for k, v in (metrics.get("intervals") or {}).items()}


def interval_text(interval, percent: bool = False) -> str:
    """' [0.774-0.954]' (or ' [77.4-95.4%]'); '' without an interval."""
    if not interval:
        return ""
    lo, hi = interval
    return f" [{100 * lo:.1f}-{100 * hi:.1f}%]" if percent else f" [{lo:.3f}-{hi:.3f}]"


def risk_coverage(scores, truth, points: int = 20) -> list[list[float]]:
    """[[coverage, selective accuracy]] answering the most confident first, at `points`
    evenly spaced coverages: the curve a threshold moves along."""
    scores, truth = np.asarray(scores, dtype=np.float64), np.asarray(truth)
    keep = truth >= 0
    if not keep.any():
        return []
    order = np.argsort(-scores[keep].max(axis=1), kind="stable")
    correct = (scores[keep].argmax(axis=1) == truth[keep])[order]
    curve = []
    for i in range(1, points + 1):
        n = max(1, round(i * len(order) / points))
        curve.append([round(n / len(order), 4), round(float(correct[:n].mean()), 4)])
    return curve


def _share(num, den) -> float | None:
    return float(num) / float(den) if den else None
