"""`pipeline benchmark --baselines trained`: the article's claim against trained models.

For each seed s < N and each head h, a single-task run `RUN/baselines/<h>.seed<s>` trained
with the run's own settings (same data, pretrained start, epochs, schedule, augmentation),
only `--tasks h --seed s` changed, then QAT and export exactly as `pipeline quantize` does;
for every seed but the run's own, a two-head run `RUN/baselines/multitask.seed<s>` too, so
both sides get the same seed spread. Each baseline is an ordinary run directory (its own
manifest, lock and crash-safe publish): a call killed half-way leaves at most an unpublished
stage there, which the next call resumes (training) or redoes (QAT, export); a finished
baseline whose settings still match the run's is reused, one that does not match is refused.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import PipelineError
from pipeline.options import QuantizeOptions, TrainOptions
from pipeline.rundir.runs import RunDir

KINDS = ("untrained", "trained")  # `benchmark --baselines`: what the single-task models are
FOLDER = "baselines"
MULTITASK = "multitask"
# Train settings that may differ between the run and a baseline: which heads and which seed
# (and so the loss weights, which name the heads); the data path is compared resolved.
VARYING = ("tasks", "seed", "loss_weights", "data")
# The train.run arguments a baseline takes from the run's recorded settings.
TRAIN_ARGS = ("arch", "image_size", "epochs", "batch_size", "lr", "mode", "weighting",
              "none_weight", "pretrained", "freeze_epochs", "finetune_lr", "input")


@dataclass(frozen=True)
class Baseline:
    tasks: tuple[str, ...]  # one head, or every head of the run (a two-head model)
    seed: int
    path: Path

    @property
    def name(self) -> str:
        return self.path.name


def plan(rd: RunDir, seeds: int) -> list[Baseline]:
    """Every baseline of `seeds` seeds, the cheapest first: seed by seed, so a stopped call
    has finished whole seeds."""
    settings = run_settings(rd)
    heads, own_seed = tuple(settings["tasks"]), int(settings["seed"])
    if seeds < 1:
        raise PipelineError(f"--seeds must be 1 or more, got {seeds}")
    if len(heads) < 2:
        raise PipelineError(f"{rd.root}: trained with one head ({heads[0]}): there is no "
                            "single-task model to compare it with")
    found = []
    for seed in seed_list(own_seed, seeds):
        found += [Baseline((h,), seed, rd.root / FOLDER / f"{h}.seed{seed}") for h in heads]
        if seed != own_seed:
            found.append(Baseline(heads, seed, rd.root / FOLDER / f"{MULTITASK}.seed{seed}"))
    return found


def seed_list(own: int, count: int) -> list[int]:
    """The run's own seed first, then the next ones not equal to it."""
    return [own] + [s for s in range(count + 1) if s != own][:count - 1]


def run_settings(rd: RunDir) -> dict:
    entry = rd.manifest().get("stages", {}).get("train")
    if not entry:
        raise PipelineError(f"{rd.root}: no train stage: run `pipeline train` first")
    return entry["settings"]


def qat_settings(rd: RunDir) -> dict:
    entry = rd.manifest().get("stages", {}).get("qat")
    if not entry:
        raise PipelineError(f"{rd.root}: no qat stage: run `pipeline quantize` first")
    return entry["settings"]


def train_kwargs(settings: dict, baseline: Baseline) -> dict:
    """train.run's arguments for a baseline: the run's own, other heads and seed."""
    kwargs = {key: settings[key] for key in TRAIN_ARGS if key in settings}
    weights = settings.get("loss_weights") or {}
    kwargs.update(data=settings["data"], tasks=list(baseline.tasks), seed=baseline.seed,
                  loss_weights=",".join(f"{h}={weights[h]}" for h in baseline.tasks
                                        if h in weights) or None)
    return kwargs


def mismatch(settings: dict, baseline_settings: dict) -> str | None:
    """Which train setting the run records differs in a baseline's record (None: all agree)."""
    for key in sorted(set(settings) - set(VARYING)):
        if settings[key] != baseline_settings.get(key):
            return f"{key} {baseline_settings.get(key)!r} (the run has {settings[key]!r})"
    if Path(settings["data"]).resolve() != Path(baseline_settings.get("data", "")).resolve():
        return f"data {baseline_settings.get('data')!r} (the run has {settings['data']!r})"
    return None


def ensure(rd: RunDir, baseline: Baseline, log=print) -> None:
    """Train, QAT and export one baseline unless it is already there with the run's settings."""
    settings, qat = run_settings(rd), qat_settings(rd)
    base = RunDir(baseline.path)
    if base.has("train"):
        recorded = base.manifest()["stages"]["train"]["settings"]
        wrong = mismatch(settings, recorded)
        if wrong or list(recorded["tasks"]) != list(baseline.tasks) \
                or int(recorded["seed"]) != baseline.seed:
            raise PipelineError(f"{baseline.path}: trained with other settings than {rd.root} "
                                f"({wrong or 'heads or seed'}); delete it to train it again")
    if not base.has("train"):
        _stage(log, baseline, "train", lambda: _train(baseline, settings))
    if not base.has("qat") or not base.has("export"):
        _stage(log, baseline, "quantize", lambda: _quantize(baseline, qat, export_settings(rd)))


def _stage(log, baseline: Baseline, what: str, work) -> None:
    start = time.monotonic()
    log(f"baselines: {what} {baseline.name} ({'+'.join(baseline.tasks)}, seed {baseline.seed})")
    work()
    log(f"baselines: {what} {baseline.name} done in {time.monotonic() - start:.0f} s")


def _train(baseline: Baseline, settings: dict) -> None:
    from pipeline.training import train

    base = RunDir(baseline.path)
    # A call killed while training left its checkpoints: go on from them, not from scratch.
    resume = base.partial("train").is_dir()
    train.run(TrainOptions.build(run=baseline.path, resume=resume,
                                 **train_kwargs(settings, baseline)))


def export_settings(rd: RunDir) -> dict:
    return (rd.manifest().get("stages", {}).get("export") or {}).get("settings") or {}


def _quantize(baseline: Baseline, qat: dict, export: dict) -> None:
    """QAT as the run had it, then an export of the two files the comparison scores (int8
    QAT and float32) with the run's not-sure rule: its coverage and its own thresholds."""
    from pipeline.export import quantize
    from pipeline.modelfile.variants import DEFAULT, REFERENCE

    overrides = export.get("overrides") or {}
    threshold = ",".join(f"{h}={overrides[h]}" for h in baseline.tasks if h in overrides)
    defaults = QuantizeOptions.build(run=baseline.path)  # a run from before a key: its default
    quantize.run(QuantizeOptions.build(
        run=baseline.path, epochs=qat.get("epochs", defaults.epochs),
        lr=qat.get("lr", defaults.lr), threshold=threshold or None,
        coverage=export.get("coverage"), variants=[DEFAULT, REFERENCE]))
