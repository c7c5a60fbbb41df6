"""Joint, alternating and uncertainty-weighted training of a run's two heads, N seeds each,
compared on the test split (issue 21).

    .venv/bin/python scripts/compare_weighting.py artifacts/real [--seeds 3]

Every model is trained with the run's own recorded settings, only --mode / --weighting and
--seed changed, into RUN/weighting/<kind>.seed<s>/ (reused by the next call). Joint models of
the run's settings are taken from the run itself and from RUN/baselines/multitask.seed<s>/
(`pipeline benchmark --baselines trained`) when they exist. Figures are those `pipeline train`
reports on the test split (Keras float, calibrated; no QAT): accuracy and ECE per head, as mean
[min-max] over seeds, and the log-variances that uncertainty weighting learned.
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from pipeline.bench import baselines
from pipeline.core.io import read_json
from pipeline.rundir.runs import RunDir

KINDS = {"joint": {"mode": "joint", "weighting": "fixed"},
         "alternating": {"mode": "alternating", "weighting": "fixed"},
         "uncertainty": {"mode": "joint", "weighting": "uncertainty"}}


def folder_of(rd: RunDir, kind: str, seed: int, own_seed: int) -> Path:
    if kind == "joint" and seed == own_seed:
        return rd.root
    if kind == "joint":
        made = rd.root / baselines.FOLDER / f"{baselines.MULTITASK}.seed{seed}"
        if RunDir(made).has("train"):
            return made
    return rd.root / "weighting" / f"{kind}.seed{seed}"


def train(rd: RunDir, kind: str, seed: int, folder: Path) -> None:
    from pipeline import api

    settings = baselines.run_settings(rd)
    if RunDir(folder).has("train"):
        recorded = RunDir(folder).manifest()["stages"]["train"]["settings"]
        if baselines.mismatch({**settings, **KINDS[kind]}, recorded):
            sys.exit(f"{folder}: trained with other settings; delete it to train it again")
        return
    plan = baselines.Baseline(tuple(settings["tasks"]), seed, folder)
    kwargs = {**baselines.train_kwargs(settings, plan), **KINDS[kind]}
    if kind == "uncertainty":
        kwargs["loss_weights"] = None  # learned, not given
    print(f"training {folder} ({kind}, seed {seed})", flush=True)
    api.train(run=folder, resume=RunDir(folder).partial("train").is_dir(), **kwargs)


def figures(folder: Path, heads: list[str]) -> dict:
    rd = RunDir(folder)
    test = read_json(rd.file("train", "metrics.json"))["test"]
    found = {h: {"accuracy": test[h]["accuracy"], "ece": test[h].get("ece")} for h in heads}
    history = rd.path("train") / "history.csv"
    with open(history, newline="", encoding="utf-8") as f:
        last = list(csv.DictReader(f))[-1]
    for h in heads:
        if f"{h}_log_var" in last:
            found[h]["log_var"] = float(last[f"{h}_log_var"])
    return found


def spread(values: list[float]) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    return f"{np.mean(values):.3f} [{min(values):.3f}-{max(values):.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    rd = RunDir(args.run)
    settings = baselines.run_settings(rd)
    heads, own = list(settings["tasks"]), int(settings["seed"])
    seeds = baselines.seed_list(own, args.seeds)
    found = {}
    for seed in seeds:
        for kind in KINDS:
            folder = folder_of(rd, kind, seed, own)
            train(rd, kind, seed, folder)
            found.setdefault(kind, []).append(figures(folder, heads))
    print(f"\ntest split, Keras float (calibrated), {len(seeds)} seeds {seeds}: "
          "mean [min-max]")
    print(f"{'training':<12} " + " ".join(f"{h + ' acc':<24} {h + ' ECE':<24}" for h in heads)
          + "  learned log-variances (last epoch)")
    for kind, runs in found.items():
        cells = []
        for h in heads:
            cells += [f"{spread([r[h]['accuracy'] for r in runs]):<24}",
                      f"{spread([r[h]['ece'] for r in runs]):<24}"]
        log_vars = "; ".join(", ".join(f"{r[h]['log_var']:.2f}" for h in heads)
                             for r in runs if "log_var" in r[heads[0]])
        print(f"{kind:<12} " + " ".join(cells) + f"  {log_vars or '-'}")


if __name__ == "__main__":
    main()
