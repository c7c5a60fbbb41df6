"""MediaPipe Tasks' ImageClassifier (Python) on the exported models, against `pipeline predict`.

    mp-venv/bin/python mediapipe_check.py FIXTURES_DIR

Runs in its own venv (mediapipe 0.10.21 pins numpy<2) and imports nothing from the project:
MediaPipe gets only the bare .tflite, so heads, labels, normalization and the not-sure
thresholds can come from nowhere but the file's TFLite metadata; no score_threshold option is
set. MediaPipe keeps the classes whose score reaches the head's threshold (its
ScoreThresholdingOptions) and returns none when no class does: that is "not sure". For every
image and variant (those mediapipe_cases.json lists: the registry's `mediapipe` variants,
int8 and float32 among them) it requires: both heads reported, named as `pipeline
predict` names them; the same answer (top class, or not sure); every class it keeps within the
variant's tolerance of predict's score (one output quantization step for an integer
model's output, 1e-4 for a float one), and exactly the classes predict scores at or above the threshold.
A multilabel head's answer is the classes kept; a regression head comes back as one nameless
category whose score is the number (1e-4 of it for a float output).
The images are already at the model's input size, so MediaPipe's resize does nothing and the
comparison covers its normalization (from NormalizationOptions), inference and labelling.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import mediapipe as mp
from mediapipe.tasks import python as mp_tasks
from mediapipe.tasks.python import vision


def load_predict(path: Path) -> dict:
    """`pipeline predict --json` lines by image file name."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {Path(r["file"]).name: r["predictions"] for r in rows}


def compare(image: str, got, want: dict, tolerance: dict) -> tuple[list[str], dict]:
    """Problems of one image, and the largest |score difference| per head."""
    heads = {c.head_name: c for c in got.classifications}
    problems, worst = [], {}
    if sorted(heads) != sorted(want):
        return [f"{image}: heads {sorted(heads)}, predict has {sorted(want)}"], worst
    for name, pred in want.items():
        if "value" in pred:  # regression: one nameless category, its score the number
            problems += compare_value(image, name, heads[name].categories, pred["value"],
                                      tolerance[name], worst)
            continue
        scores = {c.category_name: c.score for c in heads[name].categories}
        threshold = pred.get("threshold") or 0.0
        kept = sorted(c for c, p in pred["probabilities"].items() if p >= threshold)
        if sorted(scores) != kept:
            problems.append(f"{image} {name}: MediaPipe kept {sorted(scores)}, predict scores "
                            f"{kept} at or above the threshold {threshold}")
            continue
        if "labels" in pred:  # multilabel: the classes kept are the answer
            if kept != sorted(pred["labels"]):
                problems.append(f"{image} {name}: MediaPipe top {kept}, predict {pred['labels']}")
        else:
            top = max(scores, key=scores.get) if scores else None  # None: not sure
            if top != pred["label"]:
                problems.append(f"{image} {name}: MediaPipe top {top or 'not sure'}, predict "
                                f"{pred['label'] or 'not sure'}")
        worst[name] = max([abs(scores[c] - pred["probabilities"][c]) for c in scores] + [0.0])
        if worst[name] > tolerance[name]["abs"]:
            problems.append(f"{image} {name}: |score diff| {worst[name]:.2e} > "
                            f"{tolerance[name]['abs']:.2e} ({tolerance[name]['why']})")
    return problems, worst


def compare_value(image: str, name: str, categories, value: float, tolerance: dict,
                  worst: dict) -> list[str]:
    if len(categories) != 1:
        return [f"{image} {name}: MediaPipe top {len(categories)} categories for a regression "
                "output, expected one"]
    allowed = tolerance["abs"] * (max(1.0, abs(value)) if tolerance.get("relative") else 1.0)
    worst[name] = abs(categories[0].score - value)
    if worst[name] > allowed:
        return [f"{image} {name}: MediaPipe top {categories[0].score:.6g}, predict {value:.6g} "
                f"(allowed {allowed:.2e}: {tolerance['why']})"]
    return []


def check_variant(fixtures: Path, key: str, case: dict, images: list[str]) -> tuple[list[str], int]:
    options = vision.ImageClassifierOptions(
        base_options=mp_tasks.BaseOptions(model_asset_path=str(fixtures / case["model"])),
        max_results=-1)
    want = load_predict(fixtures / case["predict"])
    problems, worst, agree, unsure = [], {}, 0, 0
    with vision.ImageClassifier.create_from_options(options) as classifier:
        for image in images:
            got = classifier.classify(mp.Image.create_from_file(str(fixtures / image)))
            p, w = compare(image, got, want[Path(image).name], case["tolerance"])
            problems += p
            agree += not any(" top " in line or "heads" in line or " kept " in line
                             for line in p)
            unsure += sum(not c.categories for c in got.classifications)
            for name, value in w.items():
                worst[name] = max(worst.get(name, 0.0), value)
    for name, value in worst.items():
        print(f"{key}: {name}: max |MediaPipe - predict| {value:.2e} over {len(images)} images, "
              f"allowed {case['tolerance'][name]['abs']:.2e} ({case['tolerance'][name]['why']})")
    print(f"{key}: same answer (class, not sure, classes present or number) on every head for {agree}/{len(images)} "
          f"images; {unsure} head answers not sure, from the file's thresholds alone")
    return problems, unsure


def main(fixtures: Path) -> int:
    cases = json.loads((fixtures / "mediapipe_cases.json").read_text())
    problems, unsure = [], 0
    for key, case in cases["variants"].items():
        found, count = check_variant(fixtures, key, case, cases["images"])
        problems, unsure = problems + found, unsure + count
    if not unsure:
        problems.append("no head of any model was ever not sure: the fixtures do not exercise "
                        "the thresholds (run.sh exports them with --threshold color=0.95)")
    for line in problems:
        print(f"FAIL {line}")
    print(f"mediapipe-python: {len(cases['variants'])} models x {len(cases['images'])} images, "
          f"{len(problems)} problem(s); mediapipe {mp.__version__}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
