"""The Python API: the stages as functions, for notebooks and scripts.

    import pipeline.api as fp
    run = fp.train("data/real", "artifacts/real", image_size=224, epochs=30)
    fp.quantize(run)                       # QAT, then the export (thresholds chosen on val)
    fp.export(run, threshold="type=0.8")   # export again with your own threshold
    fp.evaluate(run, "data/real/test.txt", negatives="data/real/negatives_test.txt")
    for answer in fp.predict(run, ["photo.jpg"]):
        print(answer["predictions"]["flower_type"]["label"])   # None: not sure

Every function takes a `Run` or a run folder, does what the `pipeline` command of the same
name does (the CLI calls these), and raises `PipelineError` with the command's one-line
message on bad input. Nothing here imports TensorFlow until a stage needs it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import PipelineError  # noqa: F401 (what every function raises)
from pipeline.core.io import read_json
from pipeline.export.variants import BY_KEY, DEFAULT


@dataclass(frozen=True)
class Run:
    """A run directory (artifacts/<run>): what the stages write, read back."""
    path: Path

    @property
    def manifest(self) -> dict:
        from pipeline.core.runs import RunDir

        return RunDir(self.path).manifest()

    def stage_metrics(self, stage: str) -> dict:
        """A finished stage's metrics.json (train, qat, export)."""
        from pipeline.core.runs import RunDir

        return read_json(RunDir(self.path).snapshot().file(stage, "metrics.json"))

    def model_file(self, variant: str = DEFAULT) -> Path:
        """The exported .tflite of a variant (int8, float32, ...)."""
        from pipeline.core.runs import RunDir

        return RunDir(self.path).snapshot().file("export", BY_KEY[variant].file)


def _path(run: Run | Path | str) -> Path:
    return run.path if isinstance(run, Run) else Path(run)


def train(data: Path | str, run: Path | str, **options) -> Run:
    """`pipeline train`: options as its flags, in snake case (image_size=224, epochs=30,
    mode="joint", tasks=["type"], none_weight=1.0, ...)."""
    from pipeline.training import train as stage

    stage.run(data=data, run=run, **options)
    return Run(Path(run))


def quantize(run: Run | Path | str, epochs: int = 2, lr: float = 1e-4,
             threshold: str | None = None, coverage: float | None = None) -> dict:
    """`pipeline quantize`: QAT then the export; returns export/metrics.json's content."""
    from pipeline.export import quantize as stage

    return stage.run(run=_path(run), epochs=epochs, lr=lr, threshold=threshold,
                     coverage=coverage)


def export(run: Run | Path | str, threshold: str | None = None,
           coverage: float | None = None, variants: list[str] | None = None) -> dict:
    """`pipeline export`: the variants (registry keys, e.g. ["float32", "int8"]; default:
    every registered one) again from the trained and QAT models, no training."""
    from pipeline.export import reexport

    return reexport.run(run=_path(run), threshold=threshold, coverage=coverage,
                        variants=variants)


def benchmark(run: Run | Path | str, threads: tuple[int, ...] = (1, 2), runs: int = 200,
              warmup: int = 20, quick: bool = False, baselines: str = "untrained",
              seeds: int = 1) -> dict:
    """`pipeline benchmark`; baselines="trained" first trains (or reuses) one single-task
    model per head and seed in RUN/baselines/, and adds their comparison ("baselines")."""
    from pipeline.bench import stage

    return stage.run(run=_path(run), threads=list(threads), runs=runs, warmup=warmup,
                     quick=quick, baselines=baselines, seeds=seeds)


def evaluate(model: Run | Path | str, labels: Path | str, negatives: Path | str | None = None,
             out: Path | str | None = None, workers: int | None = None) -> dict:
    """`pipeline evaluate` of a run (its default variant) or a .tflite on a label file."""
    from pipeline.deploy import evaluate as stage

    return stage.run(model=_path(model), labels=Path(labels), out=out and Path(out),
                     negatives_file=negatives and Path(negatives), workers=workers)


def predict(model: Run | Path | str, images: list[Path | str], threads: int = 1,
            workers: int | None = None) -> list[dict]:
    """One answer per image, in order, as `pipeline predict --json` prints them; an image that
    cannot be read gives {"file": ..., "error": "..."} and the others are still answered."""
    from pipeline.deploy import predict as stage

    return [result if not isinstance(result, Exception) else
            {"file": str(image), "error": str(result)}
            for image, result in stage.answers([Path(i) for i in images], _path(model),
                                               threads, workers)]


def report(run: Run | Path | str, out: Path | str | None = None, gallery: int = 48) -> Path:
    """`pipeline report`: the run's one-page HTML report; returns its path."""
    from pipeline.report import stage

    return stage.run(_path(run), out and Path(out), gallery)
