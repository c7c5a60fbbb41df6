"""How the article's claim reads (benchmark/results.json "baselines" -> table rows and totals):
pure data to text, shared by the benchmark's terminal and Markdown output and the report."""
from __future__ import annotations

# Per head: (results key, what it is); None where a model has no such figure.
FIGURES = (("accuracy", "accuracy, every photo answered"),
           ("coverage", "share of class photos answered"),
           ("selective_accuracy", "accuracy of the answers"),
           ("not_sure_on_none", "not sure on photos labelled none of these"),
           ("negatives_not_sure", "not sure on the negatives' test split"),
           ("ece", "calibration error (15 bins)"))
MULTI, SINGLE = "two_head", "single_task"


def rows(found: dict) -> list[list[str]]:
    """The terminal / Markdown table: head, variant, model, each figure as mean [min-max]."""
    out = []
    for head, variants in found["heads"].items():
        for variant, models in variants.items():
            for model, figures in models.items():
                out.append([head, variant, model.replace("_", "-")]
                           + [_fmt(figures[key]) for key, _ in FIGURES])
    return out


COLUMNS = ("head", "variant", "model", *(key.replace("_", " ") for key, _ in FIGURES))


def _fmt(spread: dict | None) -> str:
    if spread is None:
        return "-"
    if len(spread["values"]) == 1 or spread["min"] == spread["max"]:
        return f"{spread['mean']:.3f}"
    return f"{spread['mean']:.3f} [{spread['min']:.3f}-{spread['max']:.3f}]"


def totals(found: dict, ratios: dict) -> list[str]:
    """One line per total: latency (from the benchmark's same-run ratio), size, training time."""
    size, secs = found["size_bytes"], found["train_seconds"]
    lines = [f"one two-head int8 model vs {len(found['heads'])} single-task int8 models together:",
             f"  latency {_ratio(ratios.get('two_head_vs_two_single_task_latency'))} "
             f"(p50, {ratios.get('threads')} thread(s), same run)",
             f"  size {_ratio(size[MULTI] / size[SINGLE] if size[SINGLE] else None)} "
             f"({size[MULTI] / 1e6:.2f} MB vs {size[SINGLE] / 1e6:.2f} MB)"]
    if secs[MULTI] and secs[SINGLE]:
        lines.append(f"  training + QAT time {secs[MULTI]['mean'] / secs[SINGLE]['mean']:.2f}x "
                     f"({secs[MULTI]['mean']:.0f} s vs {secs[SINGLE]['mean']:.0f} s, mean of "
                     f"{len(found['seeds'])} seed(s))")
    return lines


def _ratio(value) -> str:
    return "n/a" if value is None else f"{value:.2f}x"
