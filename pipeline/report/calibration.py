""""Not sure" on the report: per head, the threshold each variant carries, what it answers
and what it declines on the test split (and the negatives), calibration (ECE), a reliability
diagram and the coverage-accuracy curve of the shipped variant. Every number comes from the
report's own LiteRT pass (predictions.run), with the thresholds read from each model file."""
from __future__ import annotations

import numpy as np

from pipeline.heads import notsure
from pipeline.report.gather import title
from pipeline.report.html import esc, fmt, img, missing, section, table
from pipeline.figures.charts import plain, png, pyplot


def reliability_and_coverage(head: str, scores: np.ndarray, truth: np.ndarray,
                             threshold: float | None) -> bytes | None:
    """Left: accuracy against confidence in 15 bins over the photos with a known truth (a
    calibrated head sits on the diagonal). Right: selective accuracy against coverage of the
    photos of a class, the threshold's point marked."""
    keep = (truth >= 0) | (truth < -1)  # as notsure.ece: "none of these" rows count, as wrong
    if not (truth >= 0).any():
        return None
    top, correct = scores[keep].max(1), scores[keep].argmax(1) == truth[keep]
    bins = np.minimum((top * notsure.ECE_BINS).astype(int), notsure.ECE_BINS - 1)
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.2))
    centres, accs, sizes = [], [], []
    for b in range(notsure.ECE_BINS):
        inside = bins == b
        if inside.any():
            centres.append(top[inside].mean())
            accs.append(correct[inside].mean())
            sizes.append(20 + 200 * inside.mean())
    left.plot([0, 1], [0, 1], color="#999", lw=1, ls="--")
    left.scatter(centres, accs, s=sizes, color="#3465a4")
    left.set(xlabel="confidence (top score)", ylabel="accuracy", xlim=(0, 1.02),
             ylim=(0, 1.02), title=f"{plain(head)}: reliability")
    curve = np.array(notsure.risk_coverage(scores, truth, points=40))
    right.plot(curve[:, 0], curve[:, 1], color="#4e9a06")
    if threshold is not None:
        chosen = notsure.selective(scores, truth, threshold)
        if chosen["coverage"]:
            right.scatter([chosen["coverage"]], [chosen["selective_accuracy"]], color="#cc0000",
                          zorder=3, label=f"threshold {threshold:g}")
            right.legend(loc="lower left")
    right.set(xlabel="coverage (share answered)", ylabel="selective accuracy",
              xlim=(0, 1.02), title="coverage vs accuracy")
    fig.tight_layout()
    return png(fig)


def head_rows(preds: dict, head: str) -> list[list[str]]:
    rows = []
    for key, metrics in preds["metrics"].items():
        m = metrics[head]
        threshold = preds["thresholds"][key].get(head)
        ci = notsure.interval_texts(m)
        rows.append([esc(title(key)), "none (always answers)" if threshold is None
                     else f"{threshold:g}", fmt(m.get("coverage")) + ci.get("coverage", ""),
                     fmt(m.get("selective_accuracy")) + ci.get("selective_accuracy", ""),
                     fmt(m.get("accuracy")),
                     f"{fmt(m.get('not_sure_on_none'))}{ci.get('not_sure_on_none', '')} of "
                     f"{m.get('n_none', 0)}", fmt(m.get("ece"))])
    return rows


def not_sure_section(report: dict, preds: dict | None) -> tuple[str, str, str]:
    if preds is None:
        return "notsure", "not sure", section("Not sure", missing(
            "no LiteRT pass over the test split (see the gallery's reason)"), "notsure")
    key = preds["default"]
    none = sum(1 for labels in preds["labels"] if len(labels) and (labels < -1).all())
    parts = [f"<p>Each head answers its top class when it reaches the head's threshold "
             f"(stored in the model file), and says <i>not sure</i> otherwise. Test split, "
             f"{none} negative photo(s) among them, run by LiteRT; plots: {esc(title(key))}. "
             "In brackets: the 95% interval of each share (Wilson), how far it could be "
             "from the truth on this many photos.</p>"]
    header = ["variant", "threshold", "answers (labelled)", "selective accuracy",
              "accuracy (all)", "not sure on none of these", "ECE"]
    for i, head in enumerate(preds["classifying"]):  # the heads that can say "not sure"
        parts.append(f"<h3><code>{esc(head.name)}</code></h3>")
        parts.append(table(header, head_rows(preds, head.name)))
        figure = reliability_and_coverage(head.name, preds["probs"][key][head.name],
                                          preds["labels"][:, i],
                                          preds["thresholds"][key].get(head.name))
        parts.append(img(figure, f"reliability and coverage: {head.name}") if figure else
                     missing("no labelled test photo for this head"))
    return "notsure", "not sure", section("Not sure", "".join(parts), "notsure")
