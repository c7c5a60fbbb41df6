"""The Python API: every `pipeline` command as a function, for notebooks and scripts.

    import pipeline.api as fp
    run = fp.train("data/real", "artifacts/real", image_size=224, epochs=30)
    fp.quantize(run)                       # QAT, then the export (thresholds chosen on val)
    fp.export(run, threshold="type=0.8")   # export again with your own threshold
    fp.evaluate(run, "data/real/test.txt", negatives="data/real/negatives_test.txt")
    for answer in fp.predict(run, ["photo.jpg"]):
        print(answer["predictions"]["flower_type"]["label"])   # None: not sure

Each function does what the `pipeline` command of the same name does (`pipeline data split`:
data_split) and raises `PipelineError` with the command's one-line message on bad input. Its
keyword options are the command's flags in snake case: their types, defaults, limits and help
are the fields of that command's class in pipeline/options/ (TrainOptions, SplitOptions, ...),
which the `pipeline` command is generated from too; `run_command(options)` runs a command from
such an object (the command line calls it). Nothing here imports TensorFlow until a stage
needs it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import PipelineError  # noqa: F401 (what every function raises)
from pipeline.core.io import read_json
from pipeline import options as opts
from pipeline.modelfile.variants import BY_KEY, DEFAULT


@dataclass(frozen=True)
class Run:
    """A run directory (artifacts/<run>): what the stages write, read back."""
    path: Path

    @property
    def manifest(self) -> dict:
        from pipeline.rundir.runs import RunDir

        return RunDir(self.path).manifest()

    def stage_metrics(self, stage: str) -> dict:
        """A finished stage's metrics.json (train, qat, export)."""
        from pipeline.rundir.runs import RunDir

        return read_json(RunDir(self.path).snapshot().file(stage, "metrics.json"))

    def model_file(self, variant: str = DEFAULT) -> Path:
        """The exported .tflite of a variant (int8, float32, ...)."""
        from pipeline.rundir.runs import RunDir

        return RunDir(self.path).snapshot().file("export", BY_KEY[variant].file)


def _path(run: Run | Path | str) -> Path:
    return run.path if isinstance(run, Run) else Path(run)


def run_command(options: opts.StageOptions):
    """Run the command that an options object belongs to (its class names the module whose
    run(options) does the work); the `pipeline` command calls this."""
    import importlib

    return importlib.import_module(options.module).run(options)


run_stage = run_command  # the name of earlier versions


def train(data: Path | str, run: Path | str, **options) -> Run:
    """`pipeline train`: options as its flags, in snake case (image_size=224, epochs=30,
    mode="joint", tasks=["type"], none_weight=1.0, ...; opts.TrainOptions)."""
    run_command(opts.TrainOptions.build(data=data, run=_path(run), **options))
    return Run(_path(run))


def quantize(run: Run | Path | str, **options) -> dict:
    """`pipeline quantize` (epochs=2, lr=1e-4, threshold="type=0.8", coverage=0.9,
    variants=["int8"]; opts.QuantizeOptions): QAT then the export; returns
    export/metrics.json's content."""
    return run_command(opts.QuantizeOptions.build(run=_path(run), **options))


def export(run: Run | Path | str, **options) -> dict:
    """`pipeline export` (threshold, coverage, variants: registry keys, e.g. ["float32",
    "int8"], default every registered one; opts.ExportOptions): the variants again from the
    trained and QAT models, no training."""
    return run_command(opts.ExportOptions.build(run=_path(run), **options))


def benchmark(run: Run | Path | str, **options) -> dict:
    """`pipeline benchmark` (threads=(1, 2), runs, warmup, quick, baselines, seeds;
    opts.BenchmarkOptions); baselines="trained" first trains (or reuses) one single-task
    model per head and seed in RUN/baselines/, and adds their comparison ("baselines")."""
    return run_command(opts.BenchmarkOptions.build(run=_path(run), **options))


def evaluate(model: Run | Path | str, labels: Path | str, **options) -> dict:
    """`pipeline evaluate` of a run (its default variant) or a .tflite on a label file
    (negatives, out, workers; opts.EvaluateOptions)."""
    return run_command(opts.EvaluateOptions.build(model=_path(model), labels=labels, **options))


def predict(model: Run | Path | str, images: list[Path | str], threads: int = 1,
            workers: int | None = None) -> list[dict]:
    """One answer per image, in order, as `pipeline predict --json` prints them; an image that
    cannot be read gives {"file": ..., "error": "..."} and the others are still answered."""
    from pipeline.deploy import predict as stage

    o = opts.PredictOptions.build(inputs=images, model=_path(model), threads=threads,
                                  workers=workers)
    return [result if not isinstance(result, Exception) else
            {"file": str(image), "error": str(result)}
            for image, result in stage.answers(o.inputs, o.model, o.threads, o.workers)]


def report(run: Run | Path | str, **options) -> Path:
    """`pipeline report` (out, gallery; opts.ReportOptions): the run's one-page HTML report;
    returns its path."""
    return run_command(opts.ReportOptions.build(run=_path(run), **options))


def inspect(model: Path | str, json_output: bool = False) -> dict:
    """`pipeline inspect`: a .tflite's (or a run's default variant's) metadata, tensors, ops and
    size, printed; returns the summary."""
    return run_command(opts.InspectOptions.build(model=_path(model), json_output=json_output))


def android(run: Run | Path | str, **options) -> list[Path]:
    """`pipeline android` (variant, assets; opts.AndroidOptions): the files copied."""
    return run_command(opts.AndroidOptions.build(run=_path(run), **options))


def web(run: Run | Path | str, out: Path | str, **options) -> Path:
    """`pipeline web` (variants; opts.WebOptions): the static phone page; returns its folder."""
    return run_command(opts.WebOptions.build(run=_path(run), out=out, **options))


def serve(run: Run | Path | str, **options) -> None:
    """`pipeline serve` (host, port, tls, site, variants, verbose; opts.ServeOptions): serves
    until interrupted."""
    return run_command(opts.ServeOptions.build(run=_path(run), **options))


def data_synth(out: Path | str, **options) -> Path:
    """`pipeline data synth` (count, size, seed, workers, with_background; opts.SynthOptions)."""
    return run_command(opts.SynthOptions.build(out=out, **options))


def data_from_folders(root: Path | str, out: Path | str, **options) -> list:
    """`pipeline data from-folders` (heads; opts.FromFoldersOptions): the samples written."""
    return run_command(opts.FromFoldersOptions.build(root=root, out=out, **options))


def data_split(labels: Path | str, out: Path | str, **options) -> dict:
    """`pipeline data split` (ratios, seed, force, negatives, none; opts.SplitOptions): the
    samples of each split."""
    return run_command(opts.SplitOptions.build(labels=labels, out=out, **options))


def data_check(labels: Path | str) -> bool:
    """`pipeline data check`: True when the label file has no error (each problem printed)."""
    return run_command(opts.CheckOptions.build(labels=labels))


def data_pack(labels: Path | str, out: Path | str, size: int, **options) -> dict:
    """`pipeline data pack` (shard_mb, workers; opts.PackOptions): the packs written."""
    return run_command(opts.PackOptions.build(labels=labels, out=out, size=size, **options))
