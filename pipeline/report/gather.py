"""Read a run directory into plain dicts for the report. Reads only; never imports TensorFlow.

A stage that has not finished (no manifest entry) is reported, not an error: the page says how
to make it. A file that is there but is not valid JSON is a PipelineError naming the file.
Problems found on the way go into `report["problems"]` as {"level", "text"}, errors first.
"""
from __future__ import annotations

import csv
import os
from collections import Counter
from pathlib import Path

from pipeline.core.errors import PipelineError
from pipeline.data import negatives
from pipeline.heads.schema import MISSING, NONE, Heads, parse_schema, schema_of
from pipeline.data.labels import SPLITS, load_label_file, select_heads
from pipeline.rundir.runs import HOW_TO_MAKE, RunDir
from pipeline.core.io import read_json
from pipeline.rundir.manifest import STAGES
from pipeline.modelfile.variants import BENCH_KERAS as KERAS, VARIANTS as EXPORT_VARIANTS

# Report variant key -> (title, benchmark results.json key): Keras, then the export registry;
# an exported variant not listed there is still shown, under its own key.
VARIANTS = {KERAS: ("Keras float", KERAS),
            **{v.key: (v.label, v.bench_key) for v in EXPORT_VARIANTS}}
SMALL_CLASS = 10  # fewer test images than this: one image moves recall by over 10 points


def problem(report: dict, level: str, text: str) -> None:
    report["problems"].append({"level": level, "text": text})


def how_to(stage: str, run: Path) -> str:
    return HOW_TO_MAKE[stage].format(run=run)


def gather(run: Path) -> dict:
    rd = RunDir(run)
    if not rd.root.is_dir():
        raise PipelineError(f"{rd.root}: no such run directory")
    if not rd.manifest_path.is_file():
        raise PipelineError(f"{rd.manifest_path}: file not found; not a run directory "
                            f"(make one with `{how_to('train', rd.root)}`)")
    rd = rd.snapshot()  # every file below through this one manifest
    report = {"run": str(rd.root), "name": rd.name, "manifest": rd.manifest(),
              "problems": [], "heads": None, "data": None, "history": {}, "metrics": {},
              "export": None, "spec": None, "benchmark": None, "export_dir": None}
    report["stages"] = stage_status(rd, report)
    done = report["stages"]
    labels = rd.labels_path() if done["train"]["done"] else rd.root / "labels.json"
    if labels.is_file():
        report["heads"] = rd.heads(labels)
    if done["train"]["done"]:
        read_train(rd, report)
    if done["qat"]["done"]:
        read_qat(rd, report)
    if done["export"]["done"]:
        read_export(rd, report)
    if done["benchmark"]["done"]:
        report["benchmark"] = read_json(rd.path("benchmark") / "results.json")
    return report


def stage_status(rd: RunDir, report: dict) -> dict:
    """{stage: {"done", "entry", "how"}}. Done means recorded in the manifest, made from the
    current upstream stages, and every recorded file as the manifest's sha256 says; anything
    else is a problem on the page naming the command that makes the stage again."""
    entries = report["manifest"].get("stages", {})
    status = {}
    for stage in STAGES:
        how = how_to(stage, rd.root)
        status[stage] = {"done": False, "entry": entries.get(stage), "how": how}
        if stage not in entries:
            by = report["manifest"].get("dropped", {}).get(stage)
            if by:
                problem(report, "warning", f"'{stage}' was made from an earlier '{by}' and is "
                                           f"no longer current; run `{how}`")
            elif (rd.root / stage).exists():
                problem(report, "warning", f"{rd.root / stage}: the folder is there but the "
                                           f"manifest has no finished '{stage}' stage (made "
                                           "from an earlier model, or interrupted); run "
                                           f"`{how}`")
            continue
        try:
            rd.verify(stage)
        except PipelineError as exc:
            problem(report, "error", f"{exc} (not shown)")
            continue
        status[stage]["done"] = True
    return status


def read_train(rd: RunDir, report: dict) -> None:
    folder = rd.path("train")
    report["history"]["train"] = read_history(folder / "history.csv", report)
    metrics = optional_json(folder / "metrics.json", report)
    if metrics is not None:
        report["metrics"][KERAS] = metrics.get("test")
    if report["heads"] is None:
        problem(report, "error", f"{rd.labels_path()}: file not found; heads unknown")
        return
    read_data(report)


def read_qat(rd: RunDir, report: dict) -> None:
    folder = rd.path("qat")
    report["history"]["qat"] = read_history(folder / "history.csv", report)
    metrics = optional_json(folder / "metrics.json", report)
    if metrics is not None:
        report["metrics"]["keras_qat"] = metrics.get("test")


def read_export(rd: RunDir, report: dict) -> None:
    from pipeline.modelfile.runtime import read_spec

    folder = report["export_dir"] = rd.path("export")
    try:
        report["spec"] = read_spec(folder / "model.json")
    except PipelineError as exc:
        problem(report, "error", str(exc))
    report["export"] = optional_json(folder / "metrics.json", report) or {"variants": {}}
    for key, entry in report["export"].get("variants", {}).items():
        if entry.get("test"):
            report["metrics"][key] = entry["test"]


def optional_json(path: Path, report: dict):
    """The file's JSON, or None and an error on the page when a finished stage lacks it."""
    if not path.is_file():
        problem(report, "error", f"{path}: file not found")
        return None
    return read_json(path)


def read_history(path: Path, report: dict) -> list[dict] | None:
    """history.csv rows as {column: float}; empty cells left out."""
    if not path.is_file():
        problem(report, "warning", f"{path}: file not found; no curves")
        return None
    try:
        with open(path, newline="", encoding="utf-8") as f:
            return [{k: float(v) for k, v in row.items() if k and v not in (None, "")}
                    for row in csv.DictReader(f)]
    except (ValueError, UnicodeDecodeError, csv.Error) as exc:
        raise PipelineError(f"{path}: not a history table ({exc})") from None


def data_schema(run: Path, folder: Path) -> Heads:
    """The label files' columns as the run recorded them (train/model_config.json), else the
    data folder's heads.json, else the flower heads (runs from before schemas were recorded)."""
    saved = run / "train" / "model_config.json"
    if saved.is_file() and "schema" in read_json(saved):
        return parse_schema(read_json(saved)["schema"], str(saved))
    return schema_of(folder / "train.txt")


def read_data(report: dict) -> None:
    """Per split: samples with labels in the run's head order, and counts per class."""
    settings = (report["stages"]["train"]["entry"] or {}).get("settings", {})
    if not settings.get("data"):
        problem(report, "warning", "manifest.json: the train stage recorded no data folder; "
                                   "no data counts and no gallery")
        return
    folder, heads = Path(settings["data"]), report["heads"]
    try:
        schema = data_schema(Path(report["run"]), folder)
        schema.columns(heads, str(folder))  # one line if the run's heads are not in the data
    except PipelineError as exc:
        problem(report, "error", str(exc))
        return
    data = {"folder": str(folder), "splits": {}, "counts": {}}
    for split in SPLITS:
        try:
            samples = load_label_file(folder / f"{split}.txt", schema, images=False)
        except PipelineError as exc:
            problem(report, "error", f"{exc} (the data the run was trained on)")
            continue
        # normpath: a split file's "../../photos/x.jpg" is shown as the file it names; -1 in a
        # "none of these" column is NONE, and the split's negatives follow (every head NONE)
        samples = select_heads(samples, schema, heads, str(folder)) + \
            split_negatives(folder, split, heads, report)
        rows = [(Path(os.path.normpath(s.path)), s.labels) for s in samples]
        data["splits"][split] = rows
        data["counts"][split] = count_classes(rows, heads)
    report["data"] = data
    flag_small_classes(report)


def split_negatives(folder: Path, split: str, heads: Heads, report: dict) -> list:
    path = folder / negatives.FILE.format(split=split)
    if not path.is_file():
        return []
    try:
        return negatives.read(path, heads, images=False)[0]
    except PipelineError as exc:
        problem(report, "error", f"{exc} (the data the run was trained on)")
        return []


def count_classes(rows: list, heads: Heads) -> dict:
    """{head: {class: n, ..., "none": n, "none of these": n}} (class order kept; the last two
    only when there are any: no label, and "looked at: none of these classes")."""
    out = {}
    for i, head in enumerate(heads):
        seen = Counter(labels[i] for _, labels in rows)
        out[head.name] = {name: seen.get(c, 0) for c, name in enumerate(head.classes)}
        for value, name in ((MISSING, "none"), (NONE, "none of these")):
            if seen.get(value):
                out[head.name][name] = seen[value]
    return out


def flag_small_classes(report: dict) -> None:
    test = report["data"]["counts"].get("test")
    for head in report["heads"] if test else ():
        counts = {name: test[head.name][name] for name in head.classes}
        for name in (n for n, c in counts.items() if c == 0):
            problem(report, "warning", f"test split: no image of {head.name} {name!r}; "
                                       "its recall cannot be measured")
        few = {n: c for n, c in counts.items() if 0 < c < SMALL_CLASS}
        if few:
            listed = ", ".join(f"{n!r} {c}" for n, c in few.items())
            problem(report, "note", f"test split: few images of {head.name} {listed}: one image "
                                    f"moves such a recall by {1 / max(few.values()):.0%} or more")


def variant_keys(report: dict) -> list[str]:
    """Keras float, then the exported variants in the contract's order, then any others."""
    exported = list((report["spec"] or {}).get("variants", {}))
    known = [k for k in VARIANTS if k in exported]
    return [KERAS] + known + [k for k in exported if k not in VARIANTS]


def title(key: str) -> str:
    return VARIANTS.get(key, (f"TFLite {key}", None))[0]


def bench_key(key: str) -> str:
    return VARIANTS.get(key, (None, f"tflite_{key}"))[1]
