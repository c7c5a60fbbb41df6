"""The article's claim, measured: the two-head model against trained single-task models.

Every model -- the run and its two-head seeds, each head's single-task seeds (baselines.py) --
is scored through LiteRT on the run's own test split (and negatives' test split, if any), in
its exported float32 and int8 files, with the thresholds in each file. Figures per head and
variant are given as mean and min-max over seeds: one test photo is ~1 point here, so a
difference smaller than the spread says nothing. Latency is measured elsewhere (the benchmark's
`two_single_task_int8` row, same run and thread count); size and training time here.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.bench.baselines import Baseline, run_settings
from pipeline.figures.claim_table import FIGURES, MULTI, SINGLE
from pipeline.rundir.runs import RunDir
from pipeline.modelfile.variants import BY_KEY, DEFAULT, REFERENCE

VARIANTS = (DEFAULT, REFERENCE)  # int8 QAT (what ships) and float32


def measure(rd: RunDir, plan: list[Baseline]) -> dict:
    """results.json's "baselines": who was compared, per-head figures, size and time."""
    settings = run_settings(rd)
    heads = list(settings["tasks"])
    multi = [rd.root] + [b.path for b in plan if len(b.tasks) > 1]
    single = {h: [b.path for b in plan if b.tasks == (h,)] for h in heads}
    test = _TestSet(Path(settings["data"]))
    per_run = {str(p): {v: test.score(p, v) for v in VARIANTS}
               for p in multi + [p for paths in single.values() for p in paths]}
    figures = {h: {v: {MULTI: _summary([per_run[str(p)][v][h] for p in multi]),
                       SINGLE: _summary([per_run[str(p)][v][h] for p in single[h]])}
                   for v in VARIANTS} for h in heads}
    seeds = sorted({b.seed for b in plan})
    return {"seeds": seeds, "test": test.describe(), "heads": figures,
            "runs": {MULTI: [str(p) for p in multi], **{h: [str(p) for p in single[h]]
                                                          for h in heads}},
            "size_bytes": {MULTI: _size(rd.root), SINGLE: sum(_size(p[0]) for p in
                                                             single.values())},
            "train_seconds": {MULTI: _spread([_seconds(p) for p in multi]),
                              SINGLE: _spread([sum(_seconds(p[i]) for p in single.values())
                                               for i in range(len(seeds))])}}


def _size(run: Path) -> int:
    return RunDir(run).file("export", BY_KEY[DEFAULT].file).stat().st_size


def _seconds(run: Path) -> float:
    """Training plus QAT wall time recorded in the run's manifest."""
    stages = RunDir(run).manifest()["stages"]
    return sum(float(stages[s].get("seconds") or 0) for s in ("train", "qat") if s in stages)


def _spread(values: list) -> dict | None:
    values = [float(v) for v in values if v is not None]
    if not values:
        return None
    return {"mean": float(np.mean(values)), "min": min(values), "max": max(values),
            "values": values}


def _summary(per_seed: list[dict]) -> dict:
    return {key: _spread([s.get(key) for s in per_seed]) for key, _ in FIGURES}


class _TestSet:
    """The run's test split (and negatives' test split), scored as `pipeline evaluate` does."""

    def __init__(self, data: Path):
        from pipeline.heads.schema import schema_of
        from pipeline.data.labels import load_label_file

        self.labels = data / "test.txt"
        negatives = data / "negatives_test.txt"
        self.negatives = negatives if negatives.is_file() else None
        self.schema = schema_of(self.labels)
        self.samples = load_label_file(self.labels, self.schema)  # read and checked once

    def describe(self) -> dict:
        return {"labels": str(self.labels),
                "negatives": str(self.negatives) if self.negatives else None}

    def score(self, run: Path, variant: str) -> dict[str, dict]:
        """{head: {figure: value}} of one exported file."""
        from pipeline.data.labels import select_heads
        from pipeline.deploy import evaluate
        from pipeline.modelfile.runtime import TFLiteModel

        model = TFLiteModel(RunDir(run).file("export", BY_KEY[variant].file))
        heads = model.heads
        samples = select_heads(self.samples, self.schema, heads, str(self.labels))
        metrics = evaluate.score(model, samples, heads)
        out = {h.name: {key: metrics[h.name].get(key) for key, _ in FIGURES} for h in heads}
        if self.negatives is not None:
            found = evaluate.score_negatives(model, self.negatives, heads)
            for h in heads:
                out[h.name]["negatives_not_sure"] = found[h.name]["all"]["not_sure"]
        return out
